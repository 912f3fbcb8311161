"""Where events come from: standard input, or files dropped into a watched directory. Both cut into chunks.

**Watched directory.** A file is picked up when it is in the directory under
a name ending ``.jsonl``, ``.ndjson`` or ``.csv`` that does not start with a
dot. Put it there complete: write it under another name (``.name.tmp`` in the
same directory, or anywhere on the same file system) and rename it into
place, which is atomic. Files are applied in name order (name them by time,
e.g. ``2011-12-09T1200.jsonl``), each once: the state records how far each
file was applied, and a file is read in chunks of ``batch_size`` lines, each
chunk its own transaction, so a restart resumes after the last committed
chunk. A file changed after it was applied completely is not read again.

**Standard input** is cut into chunks of ``batch_size`` lines, and a shorter
chunk is flushed when no new line arrived for ``flush_ms`` (so a trickle of
events is not held back). The state records how many lines of the named
source (``--source``, default ``stdin``) were applied; a restart fed the same
stream from its start (``tail -n +1 -F log | ...``) skips them.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from analysis.stream._events import csv_header
from analysis.stream._processor import Chunk
from analysis.stream._spec import StreamSpec

__all__ = ["EVENT_SUFFIXES", "kind_of", "file_chunks", "stdin_chunks", "watched_files"]

EVENT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_BLOCK = 1 << 22


def kind_of(path: Path) -> str | None:
    """'jsonl' or 'csv' from the file name; None for a name the watcher ignores."""
    if path.name.startswith("."):
        return None
    return EVENT_SUFFIXES.get(path.suffix.lower())


def watched_files(directory: Path, done: Callable[[str], bool]) -> list[Path]:
    """The event files in ``directory`` not yet applied completely, in name order."""
    found = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.is_file() and kind_of(path) and not done(f"file:{entry.name}"):
            found.append(path)
    return found


class _Lines:
    """Bytes read so far and where their lines end; complete lines are taken off the front."""

    def __init__(self) -> None:
        self.data = b""
        self.ends = np.zeros(0, dtype=np.int64)  # offset just past each newline, relative to data
        self.pos = 0  # bytes of data already taken
        self.k = 0  # lines already taken

    def add(self, block: bytes) -> None:
        rest = self.data[self.pos :]
        self.ends = np.concatenate(
            [self.ends[self.k :] - self.pos, len(rest) + np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + 1]
        )
        self.data, self.pos, self.k = rest + block, 0, 0

    @property
    def complete(self) -> int:
        return len(self.ends) - self.k

    @property
    def pending(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        """The next ``n`` complete lines (``n`` may be 0 at the end: then the unterminated rest)."""
        end = int(self.ends[self.k + n - 1]) if n else len(self.data)
        out = self.data[self.pos : end]
        self.pos, self.k = end, self.k + n
        return out


def file_chunks(path: Path, *, spec: StreamSpec, batch_size: int, start: tuple[int, int]) -> Iterator[Chunk]:
    """Chunks of ``batch_size`` lines of one event file, from ``start`` = (lines, byte offset) already applied.

    The last chunk (possibly empty) has ``position[2]`` True: the file is complete.
    """
    kind, source = kind_of(path), f"file:{path.name}"
    lines, offset = start
    header = None
    buf = _Lines()
    with path.open("rb") as fh:
        if kind == "csv":
            first = fh.readline()
            header = csv_header(first, spec=spec, source=str(path))
            if offset == 0:
                lines, offset = 1, len(first)
        fh.seek(offset)
        eof = False
        while True:
            if buf.complete < batch_size and not eof:
                block = fh.read(_BLOCK)
                eof = not block
                buf.add(block)
                continue
            n = min(batch_size, buf.complete)
            count = n if n or not buf.pending else 1  # an unterminated last line is a line
            data = buf.take(n)
            done = eof and not buf.pending
            yield Chunk(source, kind, data, lines + 1, count, (lines + count, offset + len(data), done), header)
            lines, offset = lines + count, offset + len(data)
            if done:
                return


def stdin_chunks(
    fd: int, *, spec: StreamSpec, kind: str, batch_size: int, flush_ms: float, source: str, skip: int
) -> Iterator[Chunk]:
    """Chunks of standard input; the first ``skip`` lines (applied before a restart) are read and passed over."""
    lines, offset, header, eof = 0, 0, None, False
    buf = _Lines()
    while not eof or buf.pending:
        if not eof and buf.complete < batch_size:
            waiting = buf.complete > 0
            if not waiting or select.select([fd], [], [], flush_ms / 1000.0)[0]:
                block = os.read(fd, _BLOCK)
                eof = not block
                buf.add(block)
                continue
        if kind == "auto":  # the first character tells: '{' starts a JSON line, anything else a CSV header
            kind = "jsonl" if buf.data[buf.pos :].lstrip()[:1] in (b"{", b"") else "csv"
        if kind == "csv" and header is None:
            head = buf.take(1) if buf.complete else buf.take(0)
            header = csv_header(head, spec=spec, source="standard input")
            lines, offset = 1, len(head)
            continue
        n = min(batch_size, buf.complete)
        count = n if n else 1
        data = buf.take(n)
        first, lines, offset = lines + 1, lines + count, offset + len(data)
        if lines <= skip:
            continue
        if first <= skip:  # the start of this chunk was applied before a restart
            cut = skip - first + 1
            data = data[int(np.flatnonzero(np.frombuffer(data, np.uint8) == 10)[cut - 1]) + 1 :]
            first = skip + 1
        yield Chunk(source, kind, data, first, lines - first + 1, (lines, offset, False), header)
