"""Publish target: a local directory (a web server's document root, a shared drive)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from analysis.errors import PublishError
from publishing.deliver._site import BUILD_INFO

__all__ = ["publish_to_dir"]


def publish_to_dir(site_dir: Path, dest: Path) -> Path:
    """Copy the site to ``dest``, replacing a previous publication in one rename.

    Parameters
    ----------
    site_dir
        The checked site (see :func:`publishing.deliver.check_site`).
    dest
        Target directory. It must not exist, be empty, or hold a previous
        publication (a ``build-info.json``): an unrelated directory is never overwritten.

    Returns
    -------
    Path
        ``dest``.
    """
    site_dir, dest = Path(site_dir).resolve(), Path(dest).resolve()
    if dest == site_dir or site_dir in dest.parents or dest in site_dir.parents:
        raise PublishError(f"{dest}: the target must lie outside the site {site_dir}, and the site outside it.")
    if dest.exists():
        if not dest.is_dir():
            raise PublishError(f"{dest}: target exists and is not a directory.")
        if any(dest.iterdir()) and not (dest / BUILD_INFO).is_file():
            raise PublishError(
                f"{dest}: target directory is not empty and holds no {BUILD_INFO}; "
                "refusing to overwrite something that was not published here."
            )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-new-"))
    old = dest.parent / f".{dest.name}-old"
    try:
        shutil.copytree(site_dir, staging, dirs_exist_ok=True)
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        staging.rename(dest)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not dest.exists():
            old.rename(dest)
        raise PublishError(f"{dest}: could not publish: {exc.strerror or exc}.") from None
    shutil.rmtree(old, ignore_errors=True)
    return dest
