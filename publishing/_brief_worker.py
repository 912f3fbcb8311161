"""The PDF brief rendered in a second process while the build renders the site in this one.

The site (charts drawn with matplotlib, pages by pandoc) and the brief
(WeasyPrint) are mostly Python, so threads would take turns on one core; a
second process uses the second. :class:`BriefWorker` starts
``python -m publishing._brief_worker`` when the build starts, so its imports
(WeasyPrint, Pango, the charts) happen while the analysis runs; once the
bundle is written, :meth:`BriefWorker.render` sends one JSON line (the bundle's
path and the site's address) and :meth:`BriefWorker.result` reads the answer:
a JSON line with the PDF's size and the seconds it took, then the PDF's bytes,
or ``{"error": ...}`` with the message the brief failed with. The caller writes
the bytes itself (:func:`publishing.brief.write_pdf`), after the site, so
nothing writes into the site's directory while it is being rendered.

A worker that cannot start, or ends without answering, is no error: the caller
renders the brief in its own process, which gives the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from analysis._child import start_module
from analysis.errors import PublishError

__all__ = ["BriefWorker"]


class BriefWorker:
    """One brief-rendering process; :meth:`close` ends it whatever state it is in."""

    def __init__(self, *, start: bool = True) -> None:
        self.proc: subprocess.Popen | None = None
        if start:  # else a worker that declines every job: the caller renders the brief itself
            with contextlib.suppress(OSError):
                self.proc = start_module("publishing._brief_worker")

    def render(self, bundle_path: Path, site_url: str | None) -> bool:
        """Ask for the brief of ``bundle_path``; False when the worker is not there to do it."""
        if self.proc is None or self.proc.stdin is None:
            return False
        job = {"bundle": str(Path(bundle_path).resolve()), "site_url": site_url}
        try:
            self.proc.stdin.write(json.dumps(job).encode() + b"\n")
            self.proc.stdin.close()
        except OSError:
            return False
        return True

    def result(self) -> tuple[bytes, float] | None:
        """The PDF's bytes and the seconds the worker took; None when it ended without an answer.

        Raises
        ------
        PublishError
            The brief itself failed (the same message as in this process).
        """
        if self.proc is None or self.proc.stdout is None:
            return None
        head = self.proc.stdout.readline()
        if not head:
            return None
        answer = json.loads(head)
        if "error" in answer:
            raise PublishError(answer["error"])
        data = self.proc.stdout.read(answer["size"])
        return (data, float(answer["seconds"])) if len(data) == answer["size"] else None

    def close(self) -> None:
        """Stop the worker if it still runs (its answer, if any, has been read or is not wanted), and reap it."""
        if self.proc is None:
            return
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.kill()  # unused, or its answer is no longer wanted
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> BriefWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's: it closes or kills this process
    import weasyprint  # noqa: F401  (the imports are what this process is started early for)

    from analysis.errors import SegmentationError
    from publishing.brief import DEFAULT_SITE_URL, brief_pdf_bytes
    from publishing.site import load_bundle

    line = sys.stdin.buffer.readline()
    if not line:
        return
    job, clock = json.loads(line), time.perf_counter()
    try:
        data = brief_pdf_bytes(load_bundle(Path(job["bundle"])), site_url=job["site_url"] or DEFAULT_SITE_URL)
    except SegmentationError as exc:
        sys.stdout.buffer.write(json.dumps({"error": str(exc)}).encode() + b"\n")
        return
    except Exception:  # noqa: BLE001  no answer: the build renders the brief itself and reports what fails
        return
    head = {"size": len(data), "seconds": round(time.perf_counter() - clock, 3)}
    sys.stdout.buffer.write(json.dumps(head).encode() + b"\n" + data)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _serve()
