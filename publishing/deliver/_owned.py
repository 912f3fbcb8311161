"""Replace a directory only when this program wrote it: the guard of every ``--out``, ``--private`` and ``--to-dir``.

A site (``_site/``, a ``--to-dir`` publication) is ours when its
``build-info.json`` lists every file it holds. The private directory is ours
when its marker file (written by the build) lists every file it holds. A
missing or empty directory is always fine; anything else, a regular file or a
symbolic link included, is refused before any work starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

from analysis.errors import PublishError
from publishing.deliver._fs import PRIVATE_MODES, read_nofollow, walk_files, write_atomic
from publishing.deliver._site import BUILD_INFO

__all__ = ["PRIVATE_MARKER", "ensure_replaceable", "private_manifest", "site_manifest", "write_private_marker"]

PRIVATE_MARKER = ".segmentation-private.json"
_LEGACY_PRIVATE = {"bundle.json", "assignments.csv"}  # what builds before the marker wrote
_SHOWN = 8


def _json_at(tree: Path, name: str) -> dict | None:
    try:
        data = json.loads(read_nofollow(tree, name))
    except (OSError, ValueError, PublishError):
        return None
    return data if isinstance(data, dict) else None


def site_manifest(tree: Path) -> set[str] | None:
    """The files a site's ``build-info.json`` lists (signed or from an earlier version); ``None`` without one."""
    data = _json_at(tree, BUILD_INFO)
    files = data.get("files") if data else None
    if not isinstance(files, dict) or not isinstance(data.get("bundle_sha256"), str):
        return None
    return {str(name) for name in files} | {BUILD_INFO}


def write_private_marker(stage: Path) -> None:
    """Record, inside the staged private directory, every file the analysis wrote there."""
    files = [n for n in walk_files(stage, what="private output") if n != PRIVATE_MARKER]
    payload = {"written_by": "python -m publishing build", "files": files}
    write_atomic(stage / PRIVATE_MARKER, (json.dumps(payload, indent=2) + "\n").encode(), mode=PRIVATE_MODES.files)


def private_manifest(tree: Path, *, site: Path) -> set[str] | None:
    """The files a private directory's marker lists, or ``None`` when the build did not write it.

    A directory from before the marker existed counts as the build's when it
    holds nothing but ``bundle.json`` (and ``assignments.csv``) and that bundle
    is the one ``site``'s receipt was built from.
    """
    data = _json_at(tree, PRIVATE_MARKER)
    files = data.get("files") if data else None
    if isinstance(files, list) and all(isinstance(n, str) for n in files):
        return set(files) | {PRIVATE_MARKER}
    receipt = _json_at(site, BUILD_INFO) if site.is_dir() else None
    try:
        bundle = read_nofollow(tree, "bundle.json")
    except (OSError, PublishError):
        return None
    if receipt and hashlib.sha256(bundle).hexdigest() == receipt.get("bundle_sha256"):
        return set(_LEGACY_PRIVATE)
    return None


def _listing(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def ensure_replaceable(path: Path, *, what: str, manifest: Callable[[Path], set[str] | None]) -> None:
    """Refuse unless ``path`` is missing, an empty directory, or a tree this program wrote.

    Parameters
    ----------
    path
        The directory about to be replaced as a whole.
    what
        How the user named it (``"--out"``, ``"--private"``, ``"--to-dir"``).
    manifest
        Returns the files the program wrote there, or ``None`` when it finds no sign of having written it.

    Raises
    ------
    PublishError
        One line naming the path, why it is refused and what is allowed.
    """
    allowed = "give a new or empty directory, or one this program wrote"
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise PublishError(
            f"{what} {path}: is a symbolic link (to {os.readlink(path)}); refusing to replace it; {allowed}."
        )
    if not stat.S_ISDIR(mode):
        raise PublishError(f"{what} {path}: exists and is not a directory; refusing to replace it; {allowed}.")
    top = sorted(os.listdir(path))
    if not top:
        return
    # The cheap test first: a foreign tree (a home directory) is refused without walking all of it.
    listed = manifest(path)
    if listed is None:
        raise PublishError(
            f"{what} {path}: is not empty and this program did not write it (it holds {_listing(top)}); "
            f"refusing to replace it; {allowed}."
        )
    try:
        names = walk_files(path, what=what)
    except PublishError as exc:
        raise PublishError(f"{what} {path}: not written by this program ({exc}); refusing to replace it.") from None
    foreign = sorted(set(names) - listed)
    if foreign:
        raise PublishError(
            f"{what} {path}: holds files this program did not write ({_listing(foreign)}); "
            "refusing to delete them. Move them away first."
        )
