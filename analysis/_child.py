"""Starting a child process of this project fed through pipes: a fork of this process, or ``python -m``.

The scoring workers of :mod:`analysis._kworker` and the brief worker of
:mod:`publishing._brief_worker` are not ``multiprocessing`` children: no
caller's main module is imported again in them, and only bytes and JSON cross
the pipes.

The brief worker is ``python -m publishing._brief_worker`` (:func:`start_module`),
started before this process has imported what it needs. The scoring workers
start once the log is loaded, when this process has scikit-learn imported
already: on Linux each is a fork of it (:class:`ForkedChild`), ready at once,
instead of a new interpreter that spends about 1.4 s of CPU importing the
scientific stack while the log is being cleaned (measured on the 2-core CI
machine). A fork keeps nothing of its parent but the modules: every inherited
file descriptor is closed (so no pipe of another child stays open in it, and
each child sees the end of its own input), standard input and output are
``/dev/null``, Ctrl-C is left to the parent, and it ends with ``os._exit``
without touching the parent's connections, threads or files.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["ForkedChild", "can_fork", "start_module"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def start_module(module: str) -> subprocess.Popen:
    """Start ``module`` with this interpreter, standard input and output piped, this project importable.

    Raises
    ------
    OSError
        The process cannot be started (also when Python cannot name its own executable, as in
        some embedded interpreters).
    """
    if not sys.executable:
        raise OSError("no Python executable to start a worker with")
    path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=path),
    )


def can_fork() -> bool:
    """Whether children are forks of this process: on Linux (fork is unsafe on macOS, absent on Windows)."""
    return sys.platform == "linux" and hasattr(os, "fork")


def _only(keep: tuple[int, ...]) -> None:
    """Close every file descriptor from 3 up except ``keep``; standard input and output to /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _run_child(serve: Callable[[BinaryIO, BinaryIO], None], source: int, sink: int) -> None:
    """The forked side: ``serve`` its two pipe ends, then end this process without returning."""
    code = 1
    try:
        gc.freeze()  # the parent's objects stay out of reach of the collector here
        _only((source, sink))
        with contextlib.suppress(ValueError):  # not the main thread: the parent's handler never runs here anyway
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it closes or kills this one
        with open(source, "rb") as reader, open(sink, "wb") as writer:
            serve(reader, writer)
        code = 0
    except BaseException:  # noqa: BLE001 - whatever happens, this process must not return into its parent's code
        with contextlib.suppress(BaseException):  # to descriptor 2 itself: sys.stderr may be a closed one's
            os.write(2, traceback.format_exc().encode(errors="replace"))
    finally:
        os._exit(code)


class ForkedChild:
    """A fork of this process running ``serve(source, sink)``, with the part of Popen's interface the callers use.

    ``stdin`` writes to the child's ``source`` and ``stdout`` reads its ``sink`` (both binary);
    :meth:`poll`, :meth:`wait`, :meth:`kill` and ``returncode`` behave as :class:`subprocess.Popen`'s.

    Raises
    ------
    OSError
        The process cannot be forked.
    """

    def __init__(self, serve: Callable[[BinaryIO, BinaryIO], None]) -> None:
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # else what is buffered here would be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            pid = os.fork()
        except OSError:
            for fd in (down_r, down_w, up_r, up_w):
                os.close(fd)
            raise
        if pid == 0:
            _run_child(serve, down_r, up_w)
        os.close(down_r)
        os.close(up_w)
        self.pid, self.returncode = pid, None
        self.stdin: BinaryIO = open(down_w, "wb")  # noqa: SIM115 - closed by the caller, as Popen's
        self.stdout: BinaryIO = open(up_r, "rb")  # noqa: SIM115

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): its code is lost
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        """The exit code (negative: the signal), or None while it runs."""
        return self._reap(os.WNOHANG)

    def wait(self) -> int:
        """Wait for the child to end; its exit code."""
        code = self._reap(0)
        assert code is not None
        return code

    def kill(self) -> None:
        """SIGKILL, unless it has been waited for already."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
