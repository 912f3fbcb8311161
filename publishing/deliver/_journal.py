"""Put staged directory trees in place together, and finish the job after a kill.

A build replaces two trees (``build/private/`` and ``_site/``) that must come
from the same build. Once every staged tree is complete, a journal naming each
``(stage, target)`` pair and the staged tree's inode is written; only then are
the trees swapped in, one atomic exchange each (two renames where the file
system cannot exchange). Whoever next takes the lock runs :func:`recover`,
which re-does the swaps still missing: a tree is recognised by its inode,
which a rename keeps. The journal is removed only when every target holds its
new tree; the old trees are deleted after that.

Only names this module makes are ever deleted: ``{name}.new-XXXXXXXX`` /
``{name}.old-XXXXXXXX`` or ``.{name}-new-XXXXXXXX`` / ``.{name}-old-XXXXXXXX``
beside the target.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from analysis.errors import PublishError
from publishing.deliver._fs import exchange, fsync_dir, write_atomic

__all__ = ["Naming", "Swap", "clean_leftovers", "new_stage", "recover", "swap_all"]

_SUFFIX = "[a-z0-9_]{8}"  # what tempfile.mkdtemp appends


@dataclass(frozen=True)
class Naming:
    """How the staging directories beside a target are called.

    Attributes
    ----------
    target
        The directory being replaced.
    hidden
        ``True``: ``.{name}-new-XXXXXXXX``; ``False``: ``{name}.new-XXXXXXXX``.
    """

    target: Path
    hidden: bool

    def prefix(self, kind: Literal["new", "old"]) -> str:
        name = self.target.name
        return f".{name}-{kind}-" if self.hidden else f"{name}.{kind}-"

    def matches(self, name: str) -> bool:
        """Whether ``name`` is one of this target's staging names (either kind)."""
        return any(re.fullmatch(re.escape(self.prefix(k)) + _SUFFIX, name) for k in ("new", "old"))


@dataclass(frozen=True)
class Swap:
    """One complete staged tree and the target it replaces."""

    stage: Path
    target: Path
    old: Path


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    target: str
    old: str
    dev: int
    ino: int


class _Journal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    swaps: list[_Entry]


def new_stage(naming: Naming) -> Swap:
    """Create an empty staging directory beside the target and choose a free name for the old tree."""
    parent = naming.target.parent
    stage = Path(tempfile.mkdtemp(dir=parent, prefix=naming.prefix("new")))
    old = Path(tempfile.mkdtemp(dir=parent, prefix=naming.prefix("old")))
    old.rmdir()  # only the name is reserved; the swap renames the current target there
    return Swap(stage=stage, target=naming.target, old=old)


def _move(src: Path, dst: Path) -> None:
    os.rename(src, dst)
    fsync_dir(dst.parent)


def _holds(path: Path, entry: _Entry) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == (entry.dev, entry.ino)


def _settle(entry: _Entry, journal: Path) -> None:
    """Make ``entry.target`` hold the staged tree, whichever step a previous run stopped after."""
    target, stage, old = Path(entry.target), Path(entry.stage), Path(entry.old)
    if _holds(target, entry):
        return
    if not _holds(stage, entry):
        raise PublishError(
            f"{journal}: cannot finish an interrupted swap: neither {target} nor {stage} holds the new tree; "
            f"check both, then delete {journal}."
        )
    if not os.path.lexists(target):
        _move(stage, target)
    elif not exchange(stage, target):
        _move(target, old)
        _move(stage, target)


def _finish(journal: Path, entries: Sequence[_Entry]) -> None:
    """Drop the journal (the swap is complete), then the old trees."""
    journal.unlink()
    fsync_dir(journal.parent)
    for entry in entries:
        for leftover in (Path(entry.stage), Path(entry.old)):
            if os.path.lexists(leftover) and not leftover.is_symlink() and not _holds(leftover, entry):
                shutil.rmtree(leftover)


def _entry(swap: Swap) -> _Entry:
    st = os.lstat(swap.stage)
    return _Entry(stage=str(swap.stage), target=str(swap.target), old=str(swap.old), dev=st.st_dev, ino=st.st_ino)


def swap_all(journal: Path, swaps: Sequence[Swap]) -> None:
    """Put every staged tree in place, recoverably (see the module docstring).

    Parameters
    ----------
    journal
        Where the journal is written; it must be the path :func:`recover` is given later.
    swaps
        Complete staged trees (flushed to disk) and their targets, in the order to swap them.
    """
    entries = [_entry(s) for s in swaps]
    payload = _Journal(version=1, swaps=entries).model_dump()
    write_atomic(journal, (json.dumps(payload, indent=2) + "\n").encode("utf-8"), mode=0o600)
    for entry in entries:
        _settle(entry, journal)
    _finish(journal, entries)


def _valid(entry: _Entry) -> bool:
    target, stage, old = Path(entry.target), Path(entry.stage), Path(entry.old)
    if not (target.is_absolute() and stage.parent == target.parent == old.parent):
        return False
    styles = (Naming(target, hidden=True), Naming(target, hidden=False))
    return any(n.matches(stage.name) for n in styles) and any(n.matches(old.name) for n in styles)


def recover(journal: Path) -> bool:
    """Finish the swaps of an interrupted run, if ``journal`` exists.

    Returns
    -------
    bool
        Whether there was anything to finish.

    Raises
    ------
    PublishError
        When the journal is unreadable or names paths this module would never
        have made (nothing is touched then), or a staged tree is gone.
    """
    try:
        text = journal.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    try:
        entries = _Journal.model_validate_json(text).swaps
    except ValidationError:
        entries = None
    if entries is None or not all(_valid(e) for e in entries):
        raise PublishError(
            f"{journal}: not a swap journal this program wrote; nothing was changed. Check the targets, then delete it."
        )
    for entry in entries:
        _settle(entry, journal)
    _finish(journal, entries)
    return True


def clean_leftovers(naming: Naming) -> list[Path]:
    """Delete the staging directories a killed run left beside ``naming.target``.

    Call it only while holding the lock and after :func:`recover`, so no live
    run's staging directory is touched.

    Parameters
    ----------
    naming
        The target and its staging names; only real directories (never links)
        whose whole name matches are removed.

    Returns
    -------
    list of Path
        What was removed.
    """
    parent = naming.target.parent
    if not parent.is_dir():
        return []
    removed = []
    for path in sorted(parent.iterdir()):
        if naming.matches(path.name) and stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
            removed.append(path)
    return removed
