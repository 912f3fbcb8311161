"""One build or publish at a time: an exclusive ``flock`` on ``build/.build.lock`` (or on a target's parent)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analysis.errors import PublishError

__all__ = ["LOCK_NAME", "hold_lock"]

LOCK_NAME = ".build.lock"


@contextmanager
def hold_lock(path: Path, *, purpose: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` block, or stop at once if someone else holds it.

    The holder writes its pid and purpose into the file, so the one refused
    can say who is running. The kernel drops the lock when the holder dies, so
    a killed run never leaves the checkout locked.

    Parameters
    ----------
    path
        The lock file (created, mode 0600, and kept), or an existing directory:
        a publish target's parent is locked itself, so no lock file is left
        beside a web root (nobody's pid can be named then).
    purpose
        ``"build"`` or ``"publish"``, shown to whoever is refused.

    Raises
    ------
    PublishError
        When another process holds the lock.
    """
    is_dir = Path(path).is_dir()
    try:
        if is_dir:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise PublishError(f"{path}: cannot open the lock ({exc.strerror}); it must be a writable file.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if is_dir:
                raise PublishError(
                    f"{path}: another publish into this directory is running; wait for it to finish, then try again."
                ) from None
            holder = os.pread(fd, 200, 0).decode("utf-8", errors="replace").strip() or "pid not known yet"
            raise PublishError(
                f"{path}: another build or publish is running in {path.parent} ({holder}); "
                "wait for it to finish, then try again."
            ) from None
        if not is_dir:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{purpose}, pid {os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            if not is_dir:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
