"""Publish target: a local directory (a web server's document root, a shared drive).

The checked bytes are written into a staging directory beside the target
(``.{name}-new-XXXXXXXX``), world-readable, then swapped in with one atomic
exchange, so readers see the old publication or the new one and never a
mixture or nothing. A lock on the target's parent directory and a journal
(``.{name}-publish.json``, present only during the swap) beside the target
let an interrupted publish be finished by the next one.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from analysis.errors import PublishError
from publishing.deliver._fs import PUBLIC_MODES, write_tree
from publishing.deliver._journal import Naming, clean_leftovers, new_stage, recover, swap_all
from publishing.deliver._lock import hold_lock
from publishing.deliver._owned import ensure_replaceable, site_manifest
from publishing.deliver._site import CheckedSite

__all__ = ["publish_to_dir"]


def _check_paths(site_dir: Path, dest: Path) -> None:
    real_site, real_dest = site_dir.resolve(), dest.resolve()
    if real_dest == real_site or real_site in real_dest.parents or real_dest in real_site.parents:
        raise PublishError(f"{dest}: the target must lie outside the site {site_dir}, and the site outside it.")
    if dest.is_symlink():
        raise PublishError(
            f"{dest}: the target is a symbolic link (to {os.readlink(dest)}); give the directory itself, "
            "so the link is not replaced by a directory."
        )


def _clean_legacy(dest: Path) -> None:
    """Remove ``.{name}-old``, the fixed name earlier versions used, when it is an old publication."""
    legacy = dest.parent / f".{dest.name}-old"
    if legacy.is_symlink() or not legacy.is_dir():
        return
    try:
        ensure_replaceable(legacy, what="leftover", manifest=site_manifest)
    except PublishError:
        return  # not provably ours: leave it
    shutil.rmtree(legacy)


def publish_to_dir(site: CheckedSite, dest: Path) -> Path:
    """Write the checked site to ``dest``, replacing a previous publication in one atomic step.

    Parameters
    ----------
    site
        The checked site (see :func:`publishing.deliver.check_site`); exactly its files are written.
    dest
        Target directory. It must not exist, be empty, or hold a previous
        publication and nothing else: an unrelated directory, a file, a link or
        a file added beside a publication is never overwritten. Files get mode
        0644 and directories 0755; an existing ``dest`` keeps its own mode.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    PublishError
        Before anything is written when ``dest`` is refused; after a failed write,
        with the previous publication still in place.
    """
    dest = Path(dest).absolute()
    _check_paths(site.site_dir, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    journal = dest.parent / f".{dest.name}-publish.json"
    naming = Naming(dest, hidden=True)
    with hold_lock(dest.parent, purpose=f"publish to {dest}"):
        recover(journal)
        ensure_replaceable(dest, what="--to-dir", manifest=site_manifest)
        clean_leftovers(naming)
        _clean_legacy(dest)
        swap = new_stage(naming)
        try:
            write_tree(swap.stage, site.files, PUBLIC_MODES)
            if dest.is_dir():
                os.chmod(swap.stage, stat.S_IMODE(dest.stat().st_mode))
            swap_all(journal, [swap])
        except OSError as exc:
            if not journal.exists():  # the swap never started: the staged copy is all there is to undo
                shutil.rmtree(swap.stage, ignore_errors=True)
            raise PublishError(f"{dest}: could not publish: {exc.strerror or exc}.") from None
    return dest
