"""Rebuild only when something changed, and the history a build depends on.

A site is up to date when it passes every publish check, its private side is
whole, the fingerprint signed into its ``build-info.json`` equals the one
computed now (:mod:`publishing._fingerprint`) and, when history is kept, the
store's latest record of its data is the refresh it shows (a build killed
between the swap and the record is built again, so the record is never lost).
Nothing here writes unless a killed build left the store unfinished.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from analysis.errors import ConfigError, PublishError
from publishing.deliver._owned import private_manifest
from publishing.deliver._signing import SigningKey
from publishing.deliver._site import BuildInfo, check_site
from publishing.history import HistoryView, history_lock, read_history, repair_history

__all__ = ["HistoryResult", "current_receipt", "kept_history", "repair_leftovers", "up_to_date"]


@dataclass(frozen=True)
class HistoryResult:
    """What the build did with the refresh history.

    Attributes
    ----------
    root
        The history directory.
    previous
        The stored refresh this build was compared with (its directory name), or None.
    recorded
        Whether this build added a record (a new refresh, or a new result for the same one).
    archive
        Snapshots of the earlier briefs copied into ``_site/archive/``.
    repaired
        Refreshes whose lines a killed build had left unwritten, appended now.
    """

    root: Path
    previous: str | None = None
    recorded: bool = False
    archive: tuple[str, ...] = ()
    repaired: tuple[str, ...] = ()


def current_receipt(out: Path, private: Path, key: SigningKey) -> BuildInfo | None:
    """The receipt of the site in place when it passes every publish check and its private side is whole."""
    try:
        info = check_site(out, bundle_path=private / "bundle.json", key=key).info
    except PublishError:
        return None
    listed = private_manifest(private, site=out)
    if listed is None or not all((private / name).is_file() for name in listed):
        return None
    return info


def up_to_date(receipt: BuildInfo | None, *, fingerprint: str, view: HistoryView | None) -> bool:
    """Whether the site of ``receipt`` was built from exactly these inputs (and, with history, recorded)."""
    if receipt is None or receipt.fingerprint != fingerprint:
        return False
    if view is None:
        return True
    latest = view.latest(receipt.source_sha256)
    return latest is not None and latest.bundle_sha256 == receipt.bundle_sha256


def repair_leftovers(view: HistoryView | None) -> tuple[str, ...]:
    """Append the lines a killed build left unwritten; touches the store only when there are any."""
    if view is None or not view.orphans:
        return ()
    with history_lock(view.root):
        return repair_history(read_history(view.root))


@contextmanager
def kept_history(root: Path, *, key_check: str, key_env: str) -> Iterator[tuple[HistoryView, tuple[str, ...]]]:
    """Hold the history's lock for a build, finish what a killed build left, and read the store again.

    Raises
    ------
    ConfigError
        The store was written under another pseudonym key (``key_check`` differs).
    """
    with history_lock(root):
        repaired = repair_history(read_history(root))
        view = read_history(root)
        if view.key_check() not in (None, key_check):
            raise ConfigError(
                f"--history {view.root}: its refreshes were made with another pseudonym key, so this refresh's "
                f"customers cannot be matched with them; set {key_env} to the key the history was written with, "
                "or give another --history directory."
            )
        yield view, repaired
