"""File-system primitives for writing outputs safely: private files, atomic directory swaps.

Two guarantees the rest of the package builds on:

* **Private files are owner-only from their first byte.** They are created with
  mode ``0600`` (``O_TMPFILE`` where the kernel offers it, so a file being
  written has no name until it is complete and vanishes by itself if the
  process dies), whatever the umask.
* **A directory is replaced in one step.** :func:`exchange_dirs` swaps two
  directories with ``renameat2(RENAME_EXCHANGE)`` (Linux >= 3.15), so readers
  see either the old tree or the new one, never a mix and never nothing. Where
  the call is missing or the file system refuses it, :func:`replace_dir` falls
  back to two renames and leaves a ``.old-`` sibling that :func:`recover_dir`
  puts back if the process died in between.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "PRIVATE_FILE_MODE",
    "PRIVATE_DIR_MODE",
    "exchange_dirs",
    "fsync_dir",
    "recover_dir",
    "replace_dir",
    "write_private_file",
]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk (so a rename survives a power cut)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_anonymous(directory: Path) -> int | None:
    """A nameless ``0600`` file in ``directory`` that can later be linked there, or None.

    Some file systems create ``O_TMPFILE`` files but cannot link them from
    ``/proc/self/fd`` (overlayfs answers EXDEV), so an empty one is linked and
    removed first as a probe.
    """
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        probe = os.open(directory, flag | os.O_WRONLY, PRIVATE_FILE_MODE)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED | {errno.EISDIR}:
            return None
        raise
    name = directory / f".probe-{os.getpid()}-{probe}"
    try:
        os.link(f"/proc/self/fd/{probe}", name, follow_symlinks=True)
    except OSError:
        return None
    finally:
        os.close(probe)
    name.unlink()
    return os.open(directory, flag | os.O_WRONLY, PRIVATE_FILE_MODE)


def write_private_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create ``path`` (which must not exist) owner-only, filled by ``write(fh)``, flushed to disk.

    With ``O_TMPFILE`` the data lives in a nameless file until it is complete;
    only then is it linked at ``path``. Otherwise the file is created with mode
    ``0600`` directly under its final name (callers write into a private
    staging directory that they remove on failure).
    """
    fd = _open_anonymous(path.parent)
    anonymous = fd is not None
    if fd is None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # independent of the umask
        with os.fdopen(fd, "wb", closefd=False) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if anonymous:
            os.link(f"/proc/self/fd/{fd}", path, follow_symlinks=True)
    finally:
        os.close(fd)


def exchange_dirs(a: Path, b: Path) -> bool:
    """Atomically swap the directories ``a`` and ``b``; return False when the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(b))


def _old_name(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.old-{tag}")


def replace_dir(new: Path, target: Path, *, tag: str) -> None:
    """Put the directory ``new`` at ``target`` and remove what was there (which the caller owns).

    ``tag`` names the fallback's ``.old-`` sibling, so :func:`recover_dir` can
    find it after an interruption.
    """
    if not target.exists():
        new.rename(target)
    elif exchange_dirs(new, target):
        shutil.rmtree(new)
    else:
        old = _old_name(target, tag)
        target.rename(old)
        try:
            new.rename(target)
        except BaseException:
            old.rename(target)
            raise
        shutil.rmtree(old)
    fsync_dir(target.parent)


def recover_dir(target: Path, *, owned: Callable[[Path], bool], patterns: Iterable[str]) -> list[Path]:
    """Undo an interrupted :func:`replace_dir` and remove this program's leftovers beside ``target``.

    A ``.old-`` sibling with no ``target`` means the process died between the
    fallback's two renames: the old tree goes back. Siblings matching
    ``patterns`` (glob patterns relative to the parent) are removed only when
    ``owned(path)`` says the program created them. Returns what was removed.
    """
    parent = target.parent
    if not parent.is_dir():
        return []
    olds = sorted(p for p in parent.glob(f".{target.name}.old-*") if p.is_dir() and owned(p))
    if olds and not target.exists():
        olds[-1].rename(target)
        olds = olds[:-1]
    removed = []
    seen: set[Path] = set()
    for pattern in (f".{target.name}.old-*", *patterns):
        for path in sorted(parent.glob(pattern)):
            if path in seen or path.is_symlink() or not path.is_dir() or not owned(path):
                continue
            seen.add(path)
            shutil.rmtree(path)
            removed.append(path)
    return removed
