"""Reading the refresh history (see :mod:`publishing.history` for its layout and guarantees).

Reading never changes the store, so a build can decide that it is up to date
without touching it. Whatever this module does not recognise as its own (a
foreign file in the directory, a line it did not write) is refused with one
line naming it; an incomplete refresh directory or a set of lines cut short is
ignored, as the write order makes them the traces of a killed build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from analysis.errors import PublishError
from analysis.fingerprint import sha256_json
from publishing._history_records import LINE_FIELDS, refresh_name, snapshot_label
from publishing.deliver._fs import read_nofollow

__all__ = [
    "FILES",
    "FORMAT",
    "LINES",
    "LOCK",
    "RECORD",
    "REFRESHES",
    "STAGE",
    "HistoryView",
    "Refresh",
    "read_history",
    "read_record",
    "check_layout",
]

LINES = "refreshes.jsonl"
REFRESHES = "refreshes"
LOCK = ".history.lock"
RECORD = "refresh.json"
FILES = ("bundle.json", "model.json", "segments.csv", "brief.pdf")
FORMAT = 1
_NAME = r"(?:\d{4}-\d{2}-\d{2}|undated)_[0-9a-f]{12}_[0-9a-f]{12}"
STAGE = re.compile(rf"\.({_NAME})-new-[a-z0-9_]{{8}}")  # tempfile.mkdtemp's suffix


@dataclass(frozen=True)
class Refresh:
    """One recorded build of a refresh: its directory and what its ``refresh.json`` says."""

    path: Path
    snapshot: str | None
    data_sha256: str
    bundle_sha256: str
    key_check: str
    files: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        """The snapshot as directory names show it (``undated`` without one)."""
        return snapshot_label(self.snapshot)

    def read(self, name: str) -> bytes:
        """The bytes of one of its files, checked against the SHA-256 recorded for it."""
        data = read_nofollow(self.path, name)
        if hashlib.sha256(data).hexdigest() != self.files[name]:
            raise PublishError(
                f"{self.path / name}: changed since the build recorded it (SHA-256 differs from {RECORD}); "
                "restore it from a backup of the history."
            )
        return data

    def verify(self) -> None:
        """Check every file (before the analysis reads the directory as the previous refresh)."""
        for name in FILES:
            self.read(name)


@dataclass(frozen=True)
class HistoryView:
    """The store as a build sees it: refreshes in the order they were recorded, oldest first.

    Attributes
    ----------
    root
        The history directory.
    refreshes
        Every complete record (a refresh built again appears again, later), then the orphans.
    orphans
        Complete directories whose lines are not in ``refreshes.jsonl`` yet (a build killed in between).
    """

    root: Path
    refreshes: tuple[Refresh, ...] = ()
    orphans: tuple[Refresh, ...] = ()

    def previous(self, data_sha256: str) -> Refresh | None:
        """The newest refresh of other data: what a build of ``data_sha256`` is compared with."""
        others = [r for r in self.refreshes if r.data_sha256 != data_sha256]
        return others[-1] if others else None

    def latest(self, data_sha256: str) -> Refresh | None:
        """The newest record of the refresh of ``data_sha256``, if any."""
        same = [r for r in self.refreshes if r.data_sha256 == data_sha256]
        return same[-1] if same else None

    def archive(self, data_sha256: str) -> tuple[Refresh, ...]:
        """The newest record of every other refresh, one per snapshot, in snapshot order."""
        by_label = {r.label: r for r in self.refreshes if r.data_sha256 != data_sha256}
        return tuple(by_label[label] for label in sorted(by_label))

    def key_check(self) -> str | None:
        """The check value of the pseudonym key the store was written with (None while it is empty)."""
        return self.refreshes[-1].key_check if self.refreshes else None

    def digest(self, data_sha256: str) -> str:
        """What a build of ``data_sha256`` takes from the store (its previous refresh, the archive), as one digest."""
        previous = self.previous(data_sha256)
        return sha256_json(
            {
                "previous": None if previous is None else [previous.name, dict(previous.files)],
                "archive": [[r.label, r.name, r.files["brief.pdf"]] for r in self.archive(data_sha256)],
            }
        )


def _refused(root: Path, why: str) -> PublishError:
    return PublishError(
        f"--history {root}: {why}; refusing to use it. Give a new or empty directory, or one a build kept history in."
    )


def check_layout(root: Path) -> bool:
    """Refuse a history directory holding anything this module does not write; False when it does not exist."""
    try:
        mode = root.lstat().st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(mode):
        raise _refused(root, "is a symbolic link" if stat.S_ISLNK(mode) else "is not a directory")
    kinds = {LINES: stat.S_ISREG, REFRESHES: stat.S_ISDIR, LOCK: stat.S_ISREG}
    foreign = sorted(n for n in os.listdir(root) if n not in kinds or not kinds[n](os.lstat(root / n).st_mode))
    refreshes = root / REFRESHES
    if REFRESHES not in foreign and refreshes.is_dir():
        for entry in sorted(os.listdir(refreshes)):
            ours = re.fullmatch(_NAME, entry) or STAGE.fullmatch(entry)
            if not ours or not stat.S_ISDIR(os.lstat(refreshes / entry).st_mode):
                foreign.append(f"{REFRESHES}/{entry}")
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise _refused(root, f"holds entries this program did not write ({shown})")
    return True


def read_record(path: Path) -> Refresh | None:
    """The refresh in ``path``, or None when its ``refresh.json`` is missing or not ours (an incomplete directory)."""
    try:
        record = json.loads(read_nofollow(path, RECORD))
        refresh = Refresh(
            path=path,
            snapshot=record["snapshot"],
            data_sha256=record["data_sha256"],
            bundle_sha256=record["bundle_sha256"],
            key_check=record["key_check"],
            files={name: record["files"][name] for name in FILES},
        )
    except (OSError, ValueError, KeyError, TypeError, PublishError):
        return None
    name = refresh_name(refresh.snapshot, refresh.data_sha256, refresh.bundle_sha256)
    return refresh if record.get("format") == FORMAT and name == path.name else None


def _parse_line(text: str, path: Path, number: int) -> dict[str, Any]:
    try:
        line = json.loads(text)
    except ValueError:
        line = None
    ok = isinstance(line, dict) and set(LINE_FIELDS) <= set(line)
    counts = (line["line"], line["lines"]) if ok else ()
    if not (ok and all(type(n) is int for n in counts) and 0 <= counts[0] < counts[1]):
        raise PublishError(
            f"{path}, line {number}: not a history record this program wrote; restore the file from a backup."
        )
    return line


def _continues(group: list[dict[str, Any]], line: dict[str, Any]) -> bool:
    first, last = group[0], group[-1]
    same = (line["refresh"], line["bundle_sha256"], line["lines"]) == (
        first["refresh"],
        first["bundle_sha256"],
        first["lines"],
    )
    return same and line["line"] == last["line"] + 1


def line_sets(raw: bytes, path: Path) -> tuple[list[tuple[str, str]], int]:
    """Parse ``refreshes.jsonl``: every complete set of lines, and where the last one ends.

    Returns
    -------
    sets
        ``(refresh, bundle sha256)`` of every complete set, in file order.
    end
        The byte offset just after the last complete set: anything beyond it is
        what a killed append left (a torn line, a set cut short).
    """
    sets: list[tuple[str, str]] = []
    group: list[dict[str, Any]] = []
    end = offset = 0
    # Everything after the last newline is a torn append: no reader counts it.
    for number, chunk in enumerate(raw[: raw.rfind(b"\n") + 1].split(b"\n")[:-1], start=1):
        offset += len(chunk) + 1
        try:
            line = _parse_line(chunk.decode("utf-8"), path, number)
        except UnicodeDecodeError:
            raise PublishError(f"{path}, line {number}: not UTF-8; restore the file from a backup.") from None
        if line["line"] == 0:
            group = [line]
        elif group and _continues(group, line):
            group.append(line)
        else:  # the rest of a set cut short: ignored
            group = []
        if group and len(group) == group[0]["lines"]:
            sets.append((group[0]["refresh"], group[0]["bundle_sha256"]))
            group, end = [], offset
    return sets, end


def read_history(root: Path) -> HistoryView:
    """Read the store without changing it (a missing directory is an empty store).

    Raises
    ------
    PublishError
        The directory holds anything this program does not write there, or a
        line of ``refreshes.jsonl`` is not one of its records.
    """
    root = Path(root).absolute()
    if not check_layout(root) or not (root / REFRESHES).is_dir():
        return HistoryView(root=root)
    found = (read_record(root / REFRESHES / n) for n in sorted(os.listdir(root / REFRESHES)) if not n.startswith("."))
    dirs = {r.name: r for r in found if r is not None}
    try:
        raw = read_nofollow(root, LINES)
    except FileNotFoundError:
        raw = b""
    sets, _ = line_sets(raw, root / LINES)
    recorded = [dirs[name] for name, sha in sets if name in dirs and dirs[name].bundle_sha256 == sha]
    listed = {name for name, _ in sets}
    orphans = tuple(dirs[name] for name in sorted(dirs) if name not in listed)
    return HistoryView(root=root, refreshes=(*recorded, *orphans), orphans=orphans)
