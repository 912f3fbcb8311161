"""Change events out (a file exactly once, or standard output), and the current-segment table as a private CSV.

A batch's change events are committed to the state in the batch's own
transaction; only then are they written out, and the bytes written are
recorded in the state afterwards. A kill between the three steps is repaired
on restart: a changes *file* is cut back to the recorded length (dropping a
half-written line, or lines written but not yet recorded) and every change
event not recorded as written is written again, from the state, byte for byte
as before. So the file ends exactly as after an uninterrupted run. Standard
output cannot be taken back: after a kill the unrecorded lines are written
again (at least once), each with its ``seq`` so a reader can drop repeats.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from analysis._fs import PRIVATE_FILE_MODE, write_private_file
from analysis.export import csv_writer
from analysis.stream._errors import StreamError
from analysis.stream._state import StateStore, connect_readonly

__all__ = ["ChangeSink", "export_segments", "EXPORT_COLUMNS", "day_iso", "segment_names"]

EXPORT_COLUMNS = (
    "customer_id",
    "pseudonym",
    "segment",
    "segment_name",
    "rfm_cell",
    "rfm_segment",
    "as_of",
    "last_purchase",
    "frequency",
    "monetary",
)
_EPOCH = dt.date(1970, 1, 1)


def day_iso(day: int | None) -> str | None:
    """Day number (days since 1970-01-01) as an ISO date."""
    return None if day is None else (_EPOCH + dt.timedelta(days=int(day))).isoformat()


class ChangeSink:
    """Where change events go: a file (``path``) or, when ``path`` is None, a binary stream (standard output)."""

    def __init__(self, path: Path | None, *, stream: BinaryIO | None = None) -> None:
        self.path = None if path is None else Path(path).absolute()
        self._stream = stream
        self.name = "stdout" if self.path is None else f"file:{self.path}"

    def flush(self, state: StateStore) -> int:
        """Write the change events not yet recorded as written, and record them; return how many."""
        position = self.write(state)
        if position is not None:
            state.record_sink(*position)
        return 0 if position is None else position[3]

    def write(self, state: StateStore, *, recent: list[tuple[int, str]] = ()) -> tuple[str, int, int, int] | None:
        """Write the change events not yet recorded as written; return (target, seq, offset, count) to record.

        The caller records the returned position in the state (with the next
        batch's transaction, or :meth:`StateStore.record_sink`); until then a
        restart writes the same events again, over the same bytes of a file.
        None when nothing needs recording. ``recent`` are the change events
        the last batch committed (seq, line); when they are the first not yet
        written they are taken as they are instead of read back from the state.
        """
        recorded = state.sink()
        done = recorded[1] if recorded is not None else 0
        pending = list(recent) if recent and recent[0][0] == done + 1 else state.pending(done)
        if self.path is None:
            return self._to_stream(pending)
        return self._to_file(pending, recorded)

    def _to_stream(self, pending: list[tuple[int, str]]):
        if not pending:
            return None
        out = self._stream or sys.stdout.buffer
        out.write("".join(line + "\n" for _, line in pending).encode("utf-8"))
        out.flush()
        return self.name, pending[-1][0], 0, len(pending)

    def _to_file(self, pending, recorded):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        except OSError as exc:
            raise StreamError(f"{self.path}: cannot write the change events: {exc.strerror or exc}.") from None
        try:
            size = os.fstat(fd).st_size
            same = recorded is not None and recorded[0] == self.name
            # Our own file: cut back to what is recorded (a torn or unrecorded tail is written again below).
            # Another file, or one someone shortened: append to what is there.
            offset = recorded[2] if same and recorded[2] <= size else size
            if size != offset:
                os.ftruncate(fd, offset)
            if pending:
                payload = "".join(line + "\n" for _, line in pending).encode("utf-8")
                os.lseek(fd, offset, os.SEEK_SET)
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                offset += len(payload)
                os.fsync(fd)
        finally:
            os.close(fd)
        if not pending and same:
            return None
        return self.name, pending[-1][0] if pending else (recorded[1] if recorded else 0), offset, len(pending)


def segment_names(model_text: str | None) -> dict[int, str]:
    """``{segment id: name}`` of a stored model (retired segments included, for old change events)."""
    if not model_text:
        return {}
    model = json.loads(model_text)
    return {int(s["id"]): s["name"] for s in [*model.get("retired", []), *model.get("segments", [])]}


def rfm_names(model_text: str | None) -> dict[str, str]:
    return {} if not model_text else dict(json.loads(model_text)["rfm"]["cells"])


def export_segments(state_path: Path, out: Path) -> int:
    """Write the current-segment table as a spreadsheet-safe, owner-only CSV; return the number of customers.

    Columns :data:`EXPORT_COLUMNS`, sorted by customer id. The file is written
    beside ``out`` and renamed into place, so a reader never sees half of it.
    """
    con = connect_readonly(state_path)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        model_sha = json.loads(meta.get("model", "null"))
        text = (
            None
            if model_sha is None
            else con.execute("SELECT model FROM models WHERE sha256 = ?", [model_sha]).fetchone()[0]
        )
        frame = pd.read_sql_query(
            "SELECT customer_id, pseudonym, segment, rfm_cell, last_us, orders AS frequency, spend "
            "FROM customers ORDER BY customer_id",
            con,
        )
    finally:
        con.close()
    names, cells = segment_names(text), rfm_names(text)
    frame["segment_name"] = frame["segment"].map(names)
    frame["rfm_segment"] = frame["rfm_cell"].map(cells)
    frame["as_of"] = day_iso(json.loads(meta.get("as_of", "null")))
    frame["last_purchase"] = pd.to_datetime(frame["last_us"], unit="us").dt.strftime("%Y-%m-%d %H:%M:%S")
    frame["monetary"] = frame["spend"] / 1e6
    frame = frame[list(EXPORT_COLUMNS)]
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        write_private_file(tmp, csv_writer(frame))
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StreamError(f"{out}: cannot write the export: {exc.strerror or exc}.") from None
    return len(frame)
