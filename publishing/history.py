"""The refresh history, kept by the build: an append-only store of every refresh and its segments.

Layout of ``--history DIR`` (default ``build/history``, env ``SEGMENTATION_HISTORY``)::

    refreshes.jsonl        one JSON line per (refresh, segment); only ever appended
    refreshes/<snapshot>_<data sha256[:12]>_<bundle sha256[:12]>/
        bundle.json        the refresh's bundle (aggregates and keyed pseudonyms)
        model.json         its segment model (private)
        segments.csv       pseudonym,segment of every customer: what the next migration joins on
        brief.pdf          its brief, archived on the site by later builds
        refresh.json       snapshot, data and bundle SHA-256, the key's check value, every file's SHA-256
    .history.lock          held by the build that writes

No raw customer id is ever written here (``segments.csv`` is cut from the
private export down to keyed pseudonyms); files are owner-only (0600/0700)
because the model and the pseudonym map are private.

A refresh is one (snapshot, data SHA-256). Building it again with the same
result records nothing; a build of it that gives another bundle (new code or
configuration) is recorded as a new directory and set of lines, and the latest
record of a refresh wins.

A kill at any moment leaves the store consistent. A refresh directory is
written under a staging name and renamed into place complete (so it exists
whole or not at all); only then are all its lines appended in one write,
flushed to disk. Every line says which of how many it is, so a set cut short
(or a torn last line) is ignored, and cut off before the next append: the file
only ever grows by whole sets. Lines whose directory is missing are ignored; a
complete directory whose lines are missing gets them appended by the next
build (:func:`repair_history`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.errors import PublishError
from publishing._history_records import encode_lines, pseudonym_map, refresh_name, segment_lines
from publishing._history_view import (
    FILES,
    FORMAT,
    LINES,
    LOCK,
    RECORD,
    REFRESHES,
    STAGE,
    HistoryView,
    Refresh,
    check_layout,
    line_sets,
    read_history,
    read_record,
)
from publishing.deliver._fs import PRIVATE_MODES, fsync_dir, read_nofollow, write_tree
from publishing.deliver._lock import hold_lock

__all__ = [
    "FILES",
    "LINES",
    "LOCK",
    "REFRESHES",
    "HistoryView",
    "PreparedRefresh",
    "Refresh",
    "archive_links",
    "history_lock",
    "no_key_note",
    "read_history",
    "record_refresh",
    "repair_history",
    "staged_refresh",
    "write_archive",
]


@contextmanager
def history_lock(root: Path) -> Iterator[None]:
    """Create the store if needed (owner-only) and hold its lock: one writing build at a time."""
    root = Path(root).absolute()
    check_layout(root)
    for path in (root, root / REFRESHES):
        path.mkdir(mode=0o700, parents=path == root, exist_ok=True)
        os.chmod(path, PRIVATE_MODES.dirs)
    with hold_lock(root / LOCK, purpose="build"):
        yield


def _append(path: Path, payload: bytes) -> None:
    """Append ``payload`` (whole sets of lines) in one write, flushed to disk.

    What a killed append left after the last complete set (a torn line, a set
    cut short) is cut off first: no reader ever counted it, and the set it
    belonged to is appended whole again by whoever records that refresh.
    """
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_MODES.files)
    try:
        os.fchmod(fd, PRIVATE_MODES.files)
        size = os.fstat(fd).st_size
        _, end = line_sets(os.pread(fd, size, 0), path)
        if end < size:
            os.ftruncate(fd, end)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def repair_history(view: HistoryView) -> tuple[str, ...]:
    """Finish what a killed build left (call it holding :func:`history_lock`): returns the refreshes repaired.

    Staging directories (``refreshes/.<name>-new-XXXXXXXX``) are removed; every
    orphan directory gets its lines appended, oldest name first.
    """
    refreshes = view.root / REFRESHES
    if refreshes.is_dir():
        for entry in sorted(os.listdir(refreshes)):
            if STAGE.fullmatch(entry) and stat.S_ISDIR(os.lstat(refreshes / entry).st_mode):
                shutil.rmtree(refreshes / entry)
    for orphan in view.orphans:
        bundle = orphan.read("bundle.json")
        lines = segment_lines(json.loads(bundle), name=orphan.name, bundle_sha256=orphan.bundle_sha256)
        _append(view.root / LINES, encode_lines(lines))
    return tuple(o.name for o in view.orphans)


@dataclass(frozen=True)
class PreparedRefresh:
    """A refresh ready to be recorded once the build is in place.

    Attributes
    ----------
    root
        The history directory.
    name
        The refresh's directory name.
    stage
        The complete staged directory, or None when the store already holds it.
    lines
        Its lines, or None when the store's latest record of this refresh is already this one.
    """

    root: Path
    name: str
    stage: Path | None
    lines: bytes | None


def _record_files(private_dir: Path, brief: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    files = {
        "bundle.json": read_nofollow(private_dir, "bundle.json"),
        "model.json": read_nofollow(private_dir, "model.json"),
        "segments.csv": pseudonym_map(
            read_nofollow(private_dir, "assignments.csv"), source=str(private_dir / "assignments.csv")
        ),
        "brief.pdf": read_nofollow(brief.parent, brief.name),
    }
    return files, json.loads(files["bundle.json"])


@contextmanager
def staged_refresh(view: HistoryView, *, private_dir: Path, brief: Path) -> Iterator[PreparedRefresh]:
    """Stage this build's refresh in the store (complete and flushed, not yet visible); removed unless recorded.

    Parameters
    ----------
    view
        The store, read under :func:`history_lock`.
    private_dir
        The build's (staged) private output: ``bundle.json``, ``model.json``, ``assignments.csv``.
    brief
        The build's ``brief.pdf``.
    """
    files, bundle = _record_files(private_dir, brief)
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    data_sha = bundle["data"]["source"]["sha256"]
    name = refresh_name(bundle["data"].get("snapshot_date"), data_sha, sums["bundle.json"])
    latest = view.latest(data_sha)
    lines = None
    if latest is None or latest.name != name:
        lines = encode_lines(segment_lines(bundle, name=name, bundle_sha256=sums["bundle.json"]))
    final = view.root / REFRESHES / name
    stage = None
    if os.path.lexists(final) and read_record(final) is None:
        raise PublishError(
            f"{final}: a directory without a complete {RECORD} is in the way of this refresh's record; "
            "move it out of the history, then build again."
        )
    if not os.path.lexists(final):
        record = {
            "format": FORMAT,
            "written_by": "python -m publishing build",
            "snapshot": bundle["data"].get("snapshot_date"),
            "data_sha256": data_sha,
            "bundle_sha256": sums["bundle.json"],
            "key_check": json.loads(files["model.json"])["fingerprint"]["key_check"],
            "files": sums,
        }
        stage = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{name}-new-"))
    try:
        if stage is not None:
            write_tree(stage, {**files, RECORD: (json.dumps(record, indent=2) + "\n").encode()}, PRIVATE_MODES)
        yield PreparedRefresh(root=view.root, name=name, stage=stage, lines=lines)
    finally:
        if stage is not None and stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def record_refresh(prepared: PreparedRefresh) -> bool:
    """Put the staged directory in place, then append its lines; returns whether anything was recorded."""
    final = prepared.root / REFRESHES / prepared.name
    if prepared.stage is not None:
        os.rename(prepared.stage, final)  # the lock is held and ``final`` was free when staged
        fsync_dir(final.parent)
    if prepared.lines is not None:
        _append(prepared.root / LINES, prepared.lines)
    return prepared.stage is not None or prepared.lines is not None


def archive_links(entries: Sequence[Refresh]) -> tuple[tuple[str, str], ...]:
    """``(snapshot, href)`` of each archived brief, as the site links them (relative to the site's root)."""
    return tuple((refresh.label, f"archive/{refresh.label}/brief.pdf") for refresh in entries)


def write_archive(entries: Sequence[Refresh], site_dir: Path) -> None:
    """Copy each refresh's brief, checked against its record, to ``site_dir/archive/<snapshot>/brief.pdf``."""
    for refresh, (_, href) in zip(entries, archive_links(entries), strict=True):
        target = Path(site_dir) / href
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(refresh.read("brief.pdf"))


def no_key_note(root: Path, *, key_env: str) -> str:
    """The one warning line of a build without a real pseudonym key (no history is read or written)."""
    why = "refreshes are matched on keyed pseudonyms, and without a key they change with the data file"
    if os.path.lexists(root):
        return (
            f"{key_env} is not set, so the refresh history in {root} is neither read nor updated ({why}); "
            "set it to the key the history was written with"
        )
    return f"{key_env} is not set, so no refresh history is kept ({why}); set it to keep one in {root}"
