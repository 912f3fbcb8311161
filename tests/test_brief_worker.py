"""The brief rendered in a second process is the brief rendered in this one, and the build never depends on it."""

from __future__ import annotations

import pytest
from _brief_factory import write_sample_bundle

import publishing.build as build_module
from analysis.errors import PublishError
from publishing._brief_worker import BriefWorker
from publishing.brief import build_brief


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
