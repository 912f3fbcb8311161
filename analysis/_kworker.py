"""A worker process that fits pieces of candidate k for :func:`analysis._kscore.score_candidates`.

``python -m analysis._kworker`` reads from standard input one JSON line (the
``k_selection`` and ``cluster`` settings, the sample's shape), then the sample
as raw little-endian float64 bytes, then one ``k piece`` per line (see
:data:`analysis._kscore.CORE`); for each it writes one line, the piece's numbers
as JSON (floats round-trip exactly), or ``{"error": ...}`` when a fit failed, with
the warnings the fits raised (the caller raises them again, so a run's
warnings are the same in one process or several, apart from their order).
It exits at the end of its input, so it ends with the process that feeds it.

On Linux a :class:`Worker` is a fork of the caller serving the same protocol
(:class:`analysis._child.ForkedChild`), with the scientific stack imported
already; elsewhere it is that program. Neither is a ``multiprocessing`` child:
no caller's main module is imported again (a script without an ``if __name__
== "__main__"`` guard would otherwise run again in it), and nothing crosses the
pipe but numbers and JSON, never a pickle.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import signal
import sys
import threading
import warnings
from typing import BinaryIO

import numpy as np

from analysis._child import ForkedChild, can_fork, start_module
from analysis.config import ClusterConfig, KSelectionConfig

__all__ = ["Worker"]


def _category(module: str, name: str) -> type[Warning]:
    """The warning class a worker named, if this process has it imported; UserWarning otherwise."""
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


class Worker:
    """One scoring process, fed one piece at a time; :meth:`result` collects its answer.

    Its input is written by a thread of this object's own, so that neither the sample (more than
    a pipe holds) nor a k waits here while the worker is still importing.
    """

    def __init__(self) -> None:
        self.proc = ForkedChild(serve) if can_fork() else start_module("analysis._kworker")
        self.tasks: list[tuple[int, int]] = []  # the (k, piece) asked for and not yet answered, in order
        self._failed: list[tuple[int, int]] = []  # answered with an error
        self._read = b""  # what has been read of its output beyond the last whole line
        self.begun = self.closed = False
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._feeder = threading.Thread(target=self._feed, name="k-worker-input", daemon=True)
        self._feeder.start()

    def begin(self, S: np.ndarray, config: KSelectionConfig, cluster: ClusterConfig) -> None:
        """Give the worker its sample and settings (once); until then it only imports."""
        assert not self.begun
        self.begun = True
        header = {"config": config.model_dump(mode="json"), "cluster": cluster.model_dump(mode="json")}
        header["shape"] = list(S.shape)
        self._inbox.put(json.dumps(header).encode() + b"\n" + np.ascontiguousarray(S, dtype="<f8").tobytes())

    def _feed(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (chunk := self._inbox.get()) is not None:
                stdin.write(chunk)
                stdin.flush()
        except OSError:
            pass  # the worker has ended: result() says so
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def send(self, task: tuple[int, int]) -> None:
        """Ask for piece ``task = (k, piece)`` after those asked for already (the worker must be begun)."""
        assert self.begun
        self.tasks.append(task)
        self._inbox.put(f"{task[0]} {task[1]}\n".encode())

    def _line(self, timeout: float | None) -> bytes | None:
        """Its next whole line of output, if there is one within ``timeout``; read unbuffered, so
        that a second answer that came with the first is not hidden from ``select``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._read:
            if not select.select([fd], [], [], timeout)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise OSError(f"the scoring worker ended (exit code {self.proc.wait()})")
            self._read += chunk
        line, _, self._read = self._read.partition(b"\n")
        return line

    def result(self, timeout: float | None) -> tuple[tuple[int, int], dict[str, float]] | None:
        """The first piece asked for and its numbers, once they are there (None while not, within ``timeout``).

        Raises
        ------
        OSError
            The worker ended or answered with an error; the caller fits the pieces of
            :meth:`take_back` itself.
        """
        assert self.tasks
        line = self._line(timeout)
        if line is None:
            return None
        answer = json.loads(line)
        for module, name, message in answer.pop("warnings"):
            warnings.warn(message, _category(module, name), stacklevel=2)
        task = self.tasks.pop(0)
        if "error" in answer:
            self._failed.append(task)
            raise OSError(f"the scoring worker failed: {answer['error']}")
        return task, answer

    def take_back(self) -> list[tuple[int, int]]:
        """The pieces asked for that it did not answer with numbers: it failed on them, or has not
        answered yet (those stay in :attr:`tasks`, so that :meth:`close` stops it mid-fit)."""
        back, self._failed = [*self._failed, *self.tasks], []
        return back

    def close(self) -> None:
        """End the worker: close its input; stop it if it is fitting or was never used (again: nothing)."""
        if self.closed:
            return
        self.closed = True
        self._inbox.put(None)
        if self.tasks or not self.begun:  # mid-fit, or never given a sample (a run that failed early)
            self.proc.kill()
        self.proc.wait()
        self._feeder.join()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """Answer the protocol above: the header and sample from ``source``, then one answer per k."""
    from threadpoolctl import threadpool_limits

    from analysis._kscore import Scorer

    first = source.readline()
    if not first:
        return  # closed before it was given a sample: nothing to do
    header = json.loads(first)
    shape = tuple(header["shape"])
    S = np.frombuffer(source.read(8 * shape[0] * shape[1]), dtype="<f8").reshape(shape).astype("float64")
    scorer = Scorer(
        S,
        KSelectionConfig.model_validate(header["config"]),
        ClusterConfig.model_validate(header["cluster"]),
        lambda: None,
    )
    with threadpool_limits(limits=1):
        for line in source:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    k, piece = (int(word) for word in line.split())
                    answer = scorer.piece(k, piece)
                except Exception as exc:  # reported to the caller, which scores this k itself
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
            answer["warnings"] = [[w.category.__module__, w.category.__name__, str(w.message)] for w in caught]
            sink.write(json.dumps(answer).encode() + b"\n")
            sink.flush()


def _main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it closes or kills this process
    serve(sys.stdin.buffer, sys.stdout.buffer)
    # Its input is closed once k is chosen, and the run waits for it to end. Tearing down the
    # interpreter with scikit-learn and SciPy loaded takes a third of a second on our machines;
    # everything it had to say is written and flushed, and it holds no file or lock.
    os._exit(0)


if __name__ == "__main__":
    _main()
