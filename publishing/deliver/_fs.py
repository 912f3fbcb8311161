"""File-system primitives the build and the publish targets share.

A directory tree is read without following any symbolic link, written with
explicit modes (never whatever ``mkdtemp`` or the umask gave), and flushed to
disk before a rename makes it visible.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from analysis._fs import exchange_dirs, fsync_dir
from analysis.errors import PublishError

__all__ = [
    "PRIVATE_MODES",
    "PUBLIC_MODES",
    "Modes",
    "exchange",
    "fsync_dir",
    "read_nofollow",
    "set_modes",
    "walk_files",
    "write_atomic",
    "write_tree",
]


@dataclass(frozen=True)
class Modes:
    """Permission bits of the directories and of the files of a tree."""

    dirs: int
    files: int


PUBLIC_MODES = Modes(dirs=0o755, files=0o644)  # a web server running as another user must read them
PRIVATE_MODES = Modes(dirs=0o700, files=0o600)  # raw customer ids: the owner only


def walk_files(root: Path, *, what: str) -> list[str]:
    """List the regular files under ``root`` (POSIX paths relative to it), refusing links and special files.

    Parameters
    ----------
    root
        A real directory (not a symbolic link).
    what
        How to name the tree in an error (``"site"``, ``"--out"``).

    Returns
    -------
    list of str
        Sorted relative paths of every regular file.

    Raises
    ------
    PublishError
        Listing every symbolic link (to a file or a directory) and every
        device, socket or pipe found, so none of them is ever followed or copied.
    """
    files, bad = [], []
    for top, dirs, names in os.walk(root, followlinks=False):
        for name in (*dirs, *names):
            path = Path(top) / name
            mode = path.lstat().st_mode
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(mode):
                bad.append(f"{rel} (symbolic link)")
            elif stat.S_ISREG(mode):
                files.append(rel)
            elif not stat.S_ISDIR(mode):
                bad.append(f"{rel} (not a regular file)")
        # os.walk lists a link to a directory among dirs but does not descend it; nothing more to prune.
    if bad:
        raise PublishError(f"{root}: the {what} may hold only regular files and directories; found {', '.join(bad)}.")
    return sorted(files)


def read_nofollow(root: Path, rel: str) -> bytes:
    """Read ``root/rel`` opening every component with ``O_NOFOLLOW``, so a link swapped in is never read through."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(root, flags | os.O_DIRECTORY)
    try:
        *parents, leaf = rel.split("/")
        for part in parents:
            nxt = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        leaf_fd = os.open(leaf, flags, dir_fd=fd)
    finally:
        os.close(fd)
    with os.fdopen(leaf_fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise PublishError(f"{root / rel}: not a regular file.")
        return fh.read()


def write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file and one rename, flushed to disk."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed the mode os.open was given
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def set_modes(root: Path, modes: Modes, *, fsync: bool = False) -> None:
    """Give every directory (``root`` included) and file of a tree the given modes; optionally flush the files."""
    os.chmod(root, modes.dirs)
    for top, dirs, names in os.walk(root, followlinks=False):
        for name in dirs:
            os.chmod(Path(top) / name, modes.dirs, follow_symlinks=False)
        for name in names:
            path = Path(top) / name
            if path.is_symlink():
                continue  # never chmod through a link; walk_files refuses the tree anyway
            os.chmod(path, modes.files)
            if fsync:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        if fsync:
            fsync_dir(Path(top))


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically and flush their directory; ``False`` when the system cannot.

    The system call itself is :func:`analysis._fs.exchange_dirs`, shared with the analysis outputs.
    """
    if not exchange_dirs(Path(a), Path(b)):
        return False
    fsync_dir(Path(b).parent)
    return True


def write_tree(root: Path, files: Mapping[str, bytes], modes: Modes) -> None:
    """Create the files (relative POSIX path -> bytes) under the empty directory ``root``, with ``modes``, flushed.

    Raises
    ------
    PublishError
        A path that is absolute or climbs out of ``root`` (``..``).
    """
    bad = sorted(n for n in files if n.startswith("/") or not n or any(p in ("", ".", "..") for p in n.split("/")))
    if bad:
        raise PublishError(f"{root}: refusing file names that are absolute or leave the tree: {bad!r}.")
    for name, data in sorted(files.items()):
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, modes.files)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    set_modes(root, modes, fsync=True)
