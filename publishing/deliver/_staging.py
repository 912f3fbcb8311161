"""The build's staging: refusing foreign targets, the staging directories, the last privacy check.

Split from :mod:`publishing.build`, which composes them: targets are checked
and a killed build's leftovers removed before the analysis starts
(:func:`prepare_targets`), the new private output and site are written into
staging directories that are removed unless the swap journal still needs them
(:func:`staging`), and a staged site holding a copy of a private file is
refused (:func:`check_no_private`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analysis.errors import PublishError
from publishing.deliver._fs import read_nofollow, walk_files
from publishing.deliver._journal import Naming, Swap, clean_leftovers, new_stage
from publishing.deliver._owned import ensure_replaceable, private_manifest, site_manifest
from publishing.deliver._privacy import private_lookalikes

__all__ = ["check_no_private", "prepare_targets", "staging"]


def check_no_private(site_dir: Path, private_dir: Path) -> None:
    """Refuse a staged site that holds a copy of a private output file."""
    files = {name: read_nofollow(site_dir, name) for name in walk_files(site_dir, what="site")}
    suspects = private_lookalikes(files, private_dir)
    if suspects:
        raise PublishError(f"{site_dir}: private output found in the site: {', '.join(suspects)}; refusing to build.")


def prepare_targets(out: Path, private: Path) -> None:
    """Refuse foreign targets and remove staging directories a killed build left (the lock is held)."""
    ensure_replaceable(out, what="--out", manifest=site_manifest)
    ensure_replaceable(private, what="--private", manifest=lambda p: private_manifest(p, site=out))
    # Earlier versions staged the private side as ".private-new-*" and "private.old-*": both styles are ours.
    for naming in (Naming(out, hidden=False), Naming(private, hidden=True), Naming(private, hidden=False)):
        clean_leftovers(naming)


@contextmanager
def staging(private: Path, out: Path, journal: Path) -> Iterator[tuple[Swap, Swap]]:
    """Staging directories for the private side and the site; removed unless the journal still needs them."""
    swaps = new_stage(Naming(private, hidden=True)), new_stage(Naming(out, hidden=False))
    try:
        yield swaps
    except OSError as exc:
        if journal.exists():
            raise PublishError(
                f"{journal}: could not put the new build in place ({exc.strerror or exc}); "
                "the next build or publish finishes the swap."
            ) from None
        raise
    finally:
        if not journal.exists():  # the swap never started, or is complete: the staged copies are spare
            for swap in swaps:
                shutil.rmtree(swap.stage, ignore_errors=True)
