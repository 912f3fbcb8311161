"""The brief and charts drawn in a second process are the ones drawn in this one; the build never depends on it."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from _brief_factory import write_sample_bundle

import publishing.build as build_module
from analysis.errors import PublishError
from publishing._brief_worker import BriefWorker, draw_site_charts
from publishing.brief import build_brief
from publishing.charts import site_chart_jobs, site_charts
from publishing.site import load_bundle
from publishing.view import build_view


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return write_sample_bundle(tmp_path_factory.mktemp("bundle"))


def test_the_worker_renders_the_same_bytes_as_this_process(bundle, tmp_path):
    here = build_brief(bundle, tmp_path / "here.pdf", site_url="https://segments.example.com").read_bytes()
    with BriefWorker() as worker:
        assert worker.render(bundle, "https://segments.example.com")
        data, seconds = worker.result()
    assert data == here and data.startswith(b"%PDF-")
    assert seconds > 0


def test_a_brief_that_fails_fails_with_the_same_message(tmp_path):
    broken = tmp_path / "bundle.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(PublishError) as here:
        build_brief(broken, tmp_path / "b.pdf")
    with BriefWorker() as worker, pytest.raises(PublishError) as there:
        worker.render(broken, None)
        worker.result()
    assert str(there.value) == str(here.value)


def test_a_worker_that_dies_leaves_the_brief_to_the_build(bundle, tmp_path):
    worker = BriefWorker()
    worker.proc.kill()
    worker.proc.wait()
    worker.render(bundle, None)
    out = tmp_path / "brief.pdf"
    seconds = build_module._brief_from(worker, bundle, out, site_url=None)
    worker.close()
    assert out.read_bytes() == build_brief(bundle, tmp_path / "again.pdf").read_bytes()
    assert seconds > 0


def test_an_unused_worker_and_a_declining_one_end_quietly():
    worker = BriefWorker()
    proc = worker.proc
    worker.close()
    assert proc.returncode is not None and worker.proc is None
    idle = BriefWorker(start=False)
    assert idle.render("unused.json", None) is False and idle.result() is None
    idle.close()


@pytest.fixture(scope="module")
def drawn_here(bundle):
    """The sample's view and its site charts, all drawn in this process."""
    view = build_view(load_bundle(bundle), brief_href="brief.pdf")
    return view, site_charts(view)


def _counted(jobs, here):
    """``jobs`` that record, in ``here``, each one this process drew."""

    def counted(index, job):
        def draw():
            here.append(index)
            return job()

        return draw

    return [counted(i, job) for i, job in enumerate(jobs)]


def _with_brief_done(bundle, worker):
    assert worker.render(bundle, None) and worker.share_charts(archive=(), brief_href="brief.pdf")
    data, _seconds = worker.result()  # the brief first, so that the worker is free for charts at once
    return data


def test_the_worker_draws_the_last_charts_and_they_are_the_same_bytes(bundle, drawn_here):
    view, alone = drawn_here
    assert len(alone) >= 3
    here: list[int] = []
    with BriefWorker() as worker:
        pdf = _with_brief_done(bundle, worker)
        shared = draw_site_charts(_counted(site_chart_jobs(view), here), worker)
    assert pdf.startswith(b"%PDF-")
    assert shared == alone  # key, SVG, alt text and caption, in the site's order
    assert here == list(range(len(here))) and 0 < len(here) < len(alone)  # the first here, the rest there


def test_without_a_worker_every_chart_is_drawn_here(drawn_here):
    view, alone = drawn_here
    assert draw_site_charts(site_chart_jobs(view), None) == alone
    idle = BriefWorker(start=False)
    assert idle.share_charts(archive=(), brief_href=None) is False


def test_a_chart_the_worker_cannot_draw_is_drawn_here(bundle, drawn_here):
    view, alone = drawn_here
    extra = site_chart_jobs(view)[0]  # at a place the worker's list does not have: it answers an error
    here: list[int] = []
    asked: list[int] = []
    with BriefWorker() as worker:
        _with_brief_done(bundle, worker)
        ask = worker.ask
        worker.ask = lambda index: (asked.append(index), ask(index))[1]
        jobs = _counted([*site_chart_jobs(view), extra], here)
        shared = draw_site_charts(jobs, worker)
    assert shared == [*alone, alone[0]]
    assert asked == [len(jobs) - 1]  # asked of the worker first, which then gets no more
    assert sorted(here) == list(range(len(jobs)))  # so every chart, that one too, is drawn here


def test_a_worker_that_dies_leaves_the_charts_here(bundle, drawn_here):
    view, alone = drawn_here
    here: list[int] = []
    with BriefWorker() as worker:
        _with_brief_done(bundle, worker)
        worker.proc.kill()
        worker.proc.wait()
        shared = draw_site_charts(_counted(site_chart_jobs(view), here), worker)
    assert shared == alone and sorted(here) == list(range(len(shared)))


def test_a_failed_brief_leaves_the_charts_here_and_keeps_its_message(drawn_here, tmp_path):
    broken = tmp_path / "bundle.json"
    broken.write_text("{not json", encoding="utf-8")
    view, alone = drawn_here
    here: list[int] = []
    with BriefWorker() as worker:
        assert worker.render(broken, None) and worker.share_charts(archive=(), brief_href="brief.pdf")
        shared = draw_site_charts(_counted(site_chart_jobs(view), here), worker)
        with pytest.raises(PublishError, match="not a valid bundle"):
            worker.result()
    assert shared == alone and sorted(here) == list(range(len(shared)))


def test_a_chart_that_fails_here_fails_the_site_and_stops_the_worker(bundle, drawn_here):
    view, _alone = drawn_here

    def broken():
        raise PublishError("chart 'x': no data.")

    with BriefWorker() as worker:
        _with_brief_done(bundle, worker)
        with pytest.raises(PublishError, match="no data"):
            draw_site_charts([broken, *site_chart_jobs(view)], worker)
        assert not any(t.name == "chart-lender" for t in threading.enumerate())


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_that_answers_garbage_leaves_the_brief_and_the_charts_here(drawn_here):
    view, alone = drawn_here
    worker = BriefWorker(start=False)
    garbage = "import sys; sys.stdout.write('not json\\n'); sys.stdout.flush(); sys.stdin.read()"
    worker.proc = subprocess.Popen([sys.executable, "-c", garbage], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with worker:
        assert worker.render("bundle.json", None) and worker.share_charts(archive=(), brief_href="brief.pdf")
        assert draw_site_charts(site_chart_jobs(view), worker) == alone
        assert worker.result() is None  # so the build renders the brief itself
