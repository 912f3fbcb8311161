"""The PDF brief, and then a share of the site's charts, drawn in a second process while the build renders the site.

The site (charts drawn with matplotlib, pages by pandoc) and the brief
(WeasyPrint) are mostly Python, so threads would take turns on one core; a
second process uses the second. :class:`BriefWorker` starts
``python -m publishing._brief_worker`` when the build starts, so its imports
(WeasyPrint, Pango, the charts) happen while the analysis runs.

The protocol, one JSON line per message on each side:

1. :meth:`BriefWorker.render` sends the bundle's path and the site's address;
   the worker answers with the PDF's size and the seconds it took, then the
   PDF's bytes, or ``{"error": ...}`` with the message the brief failed with.
2. :meth:`BriefWorker.share_charts` sends the settings of the site's view
   (its archive links and the brief's link); the worker builds that view from
   the same bundle, so its :func:`publishing.charts.site_chart_jobs` are the
   site's, in the same order.
3. :meth:`BriefWorker.ask` sends a chart's place in that list; the worker
   answers with its key, caption, alt text and size, then the SVG's bytes, or
   ``{"error": ...}``.

:func:`draw_site_charts` draws the site's charts from the front of the list
in this process and hands the back of it to the worker one chart at a time,
once the brief is done: the charts are the same bytes whoever drew them (a
test checks this). The caller writes the brief itself
(:func:`publishing.brief.write_pdf`), after the site, so nothing writes into
the site's directory while it is being rendered.

A worker that cannot start, or ends without answering, is no error: the
caller renders the brief and draws the charts in its own process, which gives
the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from analysis._child import start_module
from analysis.errors import PublishError

if TYPE_CHECKING:
    from publishing.charts import Chart

__all__ = ["BriefWorker", "draw_site_charts"]


def _answer(stream: IO[bytes]) -> tuple[dict, bytes] | None:
    """One answer: its JSON head and the ``size`` bytes after it (none for an error); None at the end.

    An answer that cannot be read is no answer either: the caller does that work itself.
    """
    try:
        answer = json.loads(stream.readline() or b"null")
        if not isinstance(answer, dict):
            return None
        data = stream.read(answer["size"]) if "size" in answer else b""
    except (OSError, ValueError, TypeError):
        return None
    return (answer, data) if len(data) == answer.get("size", 0) else None


class BriefWorker:
    """One brief-rendering process; :meth:`close` ends it whatever state it is in."""

    def __init__(self, *, start: bool = True) -> None:
        self.proc: subprocess.Popen | None = None
        self._brief: tuple[dict, bytes] | None = None
        self._brief_read = False
        if start:  # else a worker that declines every job: the caller renders the brief itself
            with contextlib.suppress(OSError):
                self.proc = start_module("publishing._brief_worker")

    def _send(self, message: dict) -> bool:
        if self.proc is None or self.proc.stdin is None or self.proc.stdin.closed:
            return False
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            return False
        return True

    def render(self, bundle_path: Path, site_url: str | None) -> bool:
        """Ask for the brief of ``bundle_path``; False when the worker is not there to do it."""
        return self._send({"bundle": str(Path(bundle_path).resolve()), "site_url": site_url})

    def _read_brief(self, timeout: float | None) -> bool:
        """Read the brief's answer if it is there within ``timeout``; True once it has been read."""
        if not self._brief_read:
            out = None if self.proc is None else self.proc.stdout
            if out is None or not select.select([out], [], [], timeout)[0]:
                return out is None
            self._brief, self._brief_read = _answer(out), True
        return True

    def result(self) -> tuple[bytes, float] | None:
        """The PDF's bytes and the seconds the worker took; None when it ended without an answer.

        Raises
        ------
        PublishError
            The brief itself failed (the same message as in this process).
        """
        self._read_brief(None)
        if self._brief is None:
            return None
        answer, data = self._brief
        if "error" in answer:
            raise PublishError(answer["error"])
        return data, float(answer["seconds"])

    def share_charts(self, *, archive: Sequence[tuple[str, str]], brief_href: str | None) -> bool:
        """Offer to draw the site's charts of the view with these settings; False when there is no worker."""
        return self._send({"archive": [list(pair) for pair in archive], "brief_href": brief_href})

    def ask(self, index: int) -> None:
        """Ask for the chart at ``index`` of the site's list (the brief's answer must have been read).

        Raises OSError when the worker has ended or its brief failed.
        """
        if self._brief is None or "error" in self._brief[0] or not self._send({"chart": index}):
            raise OSError("the brief worker has ended")

    def drawn(self) -> Chart:
        """The chart asked for, once the worker has drawn it.

        Raises OSError when the worker ended or failed on it: the caller draws it itself.
        """
        from publishing.charts import Chart

        done = None if self.proc is None or self.proc.stdout is None else _answer(self.proc.stdout)
        if done is None or "error" in done[0]:
            raise OSError("the brief worker did not draw the chart")
        head, svg = done
        return Chart(key=head["key"], svg=svg.decode("utf-8"), alt=head["alt"], caption=head["caption"])

    def close(self) -> None:
        """Stop the worker if it still runs (its answers, if any, have been read or are not wanted), and reap it."""
        if self.proc is None:
            return
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
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


class _Ends:
    """The places of the charts not yet drawn: this process takes the first, the worker the last."""

    def __init__(self, count: int) -> None:
        self.front, self.back, self.lock = 0, count, threading.Lock()

    def first(self) -> int | None:
        with self.lock:
            if self.front >= self.back:
                return None
            self.front += 1
            return self.front - 1

    def last(self) -> int | None:
        with self.lock:
            if self.front >= self.back:
                return None
            self.back -= 1
            return self.back

    @property
    def empty(self) -> bool:
        with self.lock:
            return self.front >= self.back

    def close(self) -> None:
        with self.lock:
            self.back = self.front


def _lend(worker: BriefWorker, ends: _Ends, drawn: dict[int, Chart], returned: list[int]) -> None:
    """Keep the worker drawing the last charts left, from the moment its brief is done until none is.

    Runs in a thread of this process that only waits on the worker's pipe. A chart the worker
    could not draw goes to ``returned``, and the worker gets no more.
    """
    while not worker._read_brief(0.05):
        if ends.empty:
            return
    while (index := ends.last()) is not None:
        try:
            worker.ask(index)
            chart = worker.drawn()
        except Exception:  # noqa: BLE001  whatever went wrong, this process draws the chart
            returned.append(index)
            return
        drawn[index] = chart


def draw_site_charts(jobs: list[Callable[[], Chart]], worker: BriefWorker | None) -> list[Chart]:
    """Draw ``jobs``: from the first, in order, here; from the last, in ``worker`` once its brief is done.

    A thread of this process hands the worker the last chart left as soon as it is idle, while
    this one draws the first left; a worker that fails or has ended leaves the rest to this
    process. The charts come back in the order of ``jobs``.
    """
    drawn: dict[int, Chart] = {}
    returned: list[int] = []
    ends = _Ends(len(jobs))
    lender = None
    if worker is not None:
        lender = threading.Thread(target=_lend, args=(worker, ends, drawn, returned), name="chart-lender")
        lender.start()
    try:
        while (index := ends.first()) is not None:
            drawn[index] = jobs[index]()
    finally:
        ends.close()
        if lender is not None:
            lender.join()  # at most the chart the worker is drawing
    for index in returned:
        drawn[index] = jobs[index]()
    return [drawn[index] for index in range(len(jobs))]


def _write(head: dict, data: bytes | None = None) -> None:
    """One answer: ``head`` as a JSON line, with the size of ``data`` and then ``data`` when there is any."""
    if data is not None:
        head = {**head, "size": len(data)}
    sys.stdout.buffer.write(json.dumps(head).encode() + b"\n" + (data or b""))
    sys.stdout.buffer.flush()


def _serve_charts(bundle: object) -> None:
    from publishing.charts import site_chart_jobs
    from publishing.view import build_view

    line = sys.stdin.buffer.readline()
    if not line:
        return
    settings = json.loads(line)
    view = build_view(bundle, archive=[tuple(p) for p in settings["archive"]], brief_href=settings["brief_href"])
    jobs = site_chart_jobs(view)
    for line in sys.stdin.buffer:
        try:
            chart = jobs[json.loads(line)["chart"]]()
        except Exception as exc:  # noqa: BLE001  the build draws that chart itself and reports what fails
            _write({"error": str(exc)})
            continue
        _write({"key": chart.key, "alt": chart.alt, "caption": chart.caption}, chart.svg.encode("utf-8"))


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
        bundle = load_bundle(Path(job["bundle"]))
        data = brief_pdf_bytes(bundle, site_url=job["site_url"] or DEFAULT_SITE_URL)
    except SegmentationError as exc:
        _write({"error": str(exc)})
        return
    except Exception:  # noqa: BLE001  no answer: the build renders the brief itself and reports what fails
        return
    _write({"seconds": round(time.perf_counter() - clock, 3)}, data)
    _serve_charts(bundle)


if __name__ == "__main__":
    _serve()
