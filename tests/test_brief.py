"""The PDF executive brief, read back from the PDF itself (pypdf)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _brief_factory import (
    make_bundle,
    make_clv_section,
    make_experiments_section,
    write_sample_bundle,
)
from pypdf import PdfReader

from analysis.bundle import Bundle, write_bundle
from analysis.errors import PublishError
from publishing._brief_context import brief_context
from publishing._format import Formats
from publishing.brief import build_brief, render_brief_html, render_brief_pdf

# The brief factory's bundle: amounts in GBP, no [report] locale (so en_GB).
FMT = Formats("en_GB", "GBP")
EVIL_NAME = "<script>alert(1)</script> Evil & Co"
EVIL_ACTION = "<img src=x onerror=alert(1)> <b>bold</b> action"


def _text(pdf: Path) -> list[str]:
    # Collapse whitespace: pypdf may break a line anywhere inside a table cell.
    return [" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("brief")
    bundle_path = write_sample_bundle(out)
    return bundle_path, build_brief(
        bundle_path,
        out / "brief.pdf",
        figures_dir=out / "figures",
        site_url="https://example.org/segments/",
    )


@pytest.fixture(scope="module")
def evil(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evil")
    base = make_bundle()
    names = (EVIL_NAME,) + tuple(s.name for s in base.segments[1:])
    actions = (EVIL_ACTION,) + tuple(s.recommendations[0].action for s in base.segments[1:])
    bundle_path = write_sample_bundle(out, names=names, actions=actions, source_name="<i>x</i>.csv")
    return build_brief(bundle_path, out / "brief.pdf")


def test_exactly_two_a4_pages(built):
    reader = PdfReader(built[1])
    assert len(reader.pages) == 2
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (595, 842)  # A4 in points (ISO 216: 210 x 297 mm)


def test_text_has_every_segment_and_the_kpis(built):
    bundle = make_bundle()
    first, second = _text(built[1])
    for seg in bundle.segments:
        assert seg.name in first
        assert FMT.number(seg.size) in first
        assert FMT.percent(seg.share_revenue) in first
    assert FMT.number(bundle.data.customers) in first
    assert FMT.money(bundle.data.revenue) in first
    assert FMT.date(bundle.data.snapshot_date) in first
    assert f"Segments {len(bundle.segments)}" in first.replace("SEGMENTS", "Segments")


def test_page_numbers_and_running_header(built):
    first, second = _text(built[1])
    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in second
    # The running header is on page 2 only (the first page has the masthead).
    snapshot = FMT.date(make_bundle().data.snapshot_date)
    assert f"Snapshot {snapshot}" in second
    assert "executive brief" in second.lower()


def test_three_actions_are_the_highest_revenue_segments(built):
    bundle = make_bundle()
    second = _text(built[1])[1]
    ranked = sorted(bundle.segments, key=lambda s: -s.revenue)
    for seg in ranked[:3]:
        assert seg.recommendations[0].action in second
        assert FMT.money(seg.revenue) in second
    for seg in ranked[3:]:
        assert seg.recommendations[0].action not in second


def test_site_url_printed(built):
    assert "https://example.org/segments/" in _text(built[1])[1]


def test_figures_written_as_svg_with_title(built):
    figures = sorted((built[0].parent / "figures").glob("*.svg"))
    assert [f.name for f in figures] == ["brief-share.svg", "brief-value.svg"]
    for f in figures:
        assert re.search(r"<title[^>]*>[^<]+</title>", f.read_text(encoding="utf-8"))


def test_same_bundle_same_bytes(built, tmp_path):
    again = build_brief(built[0], tmp_path / "again.pdf", site_url="https://example.org/segments/")
    assert again.read_bytes() == built[1].read_bytes()


def test_markup_in_data_is_printed_as_text(evil):
    text = " ".join(_text(evil))
    assert EVIL_NAME in text
    assert "<img src=x onerror=alert(1)> <b>bold</b> action" in text
    assert "<i>x</i>.csv" in text
    raw = evil.read_bytes()
    assert b"/JavaScript" not in raw and b"/JS" not in raw
    # The charts are vector forms, so the <img> in the data must not have embedded any raster image.
    reader = PdfReader(evil)
    assert len(reader.pages) == 2
    assert [len(page.images) for page in reader.pages] == [0, 0]


def test_missing_bundle_is_a_publish_error(tmp_path):
    with pytest.raises(PublishError, match="bundle not found"):
        build_brief(tmp_path / "nope.json", tmp_path / "b.pdf")
    assert not (tmp_path / "b.pdf").exists()


def test_invalid_bundle_names_the_field(tmp_path):
    (tmp_path / "bundle.json").write_text('{"schema_version": "1.0.0"}', encoding="utf-8")
    with pytest.raises(PublishError, match="not a valid bundle"):
        build_brief(tmp_path / "bundle.json", tmp_path / "b.pdf")


def test_many_segments_still_two_pages(tmp_path):
    base = make_bundle()
    segs = [
        s.model_copy(
            update={
                "id": i + 1,
                "name": f"Segment {i + 1}",
                "size": 100,
                "share_customers": 1 / 12,
                "share_revenue": 1 / 12,
            }
        )
        for i, s in enumerate(base.segments * 3)
    ]
    bundle = base.model_copy(update={"segments": segs})
    pdf = build_brief(write_bundle(bundle, tmp_path), tmp_path / "b.pdf")
    assert len(PdfReader(pdf).pages) == 2


def test_action_ties_break_by_segment_id():
    base = make_bundle()
    segs = [s.model_copy(update={"revenue": 100.0}) for s in base.segments]
    ctx = brief_context(base.model_copy(update={"segments": segs}), colors={}, site_url="x")
    assert [a.segment_id for a in ctx.actions] == [1, 2, 3]


def _with_sections(*, reliable: bool = True) -> Bundle:
    base = make_bundle()
    return base.model_copy(
        update={
            "clv": make_clv_section(base, reliable=reliable),
            "experiments": make_experiments_section(base),
        }
    )


def test_clv_and_test_plan_shown_when_present(tmp_path):
    bundle = _with_sections()
    # Through bundle.json, as a real build does: the sections survive the round trip.
    pdf = build_brief(write_bundle(bundle, tmp_path), tmp_path / "b.pdf")
    assert len(PdfReader(pdf).pages) == 2
    first, second = _text(pdf)
    assert FMT.money(bundle.clv.total.clv) in first
    assert FMT.money(bundle.clv.total.clv_low) in first
    assert "Test plan: repurchase within 90 days" in second
    too_small = [d for d in bundle.experiments.designs if not d.testable]
    assert too_small and f"too small, min. lift {FMT.percent(too_small[0].min_detectable_effect, 0)}" in second


def test_actions_ranked_by_clv_when_reliable():
    base = make_bundle()
    clv = make_clv_section(base)
    # Reverse the value order: the smallest-revenue segment now holds the most future value.
    rows = [r.model_copy(update={"clv": 1000.0 * r.segment}) for r in clv.segments]
    bundle = base.model_copy(update={"clv": clv.model_copy(update={"segments": rows})})
    ctx = brief_context(bundle, colors={}, site_url="x")
    assert [a.segment_id for a in ctx.actions] == [4, 3, 2]
    assert ctx.actions[0].value_label == "predicted value"


def test_unreliable_clv_shows_the_reason_and_no_numbers(tmp_path):
    bundle = _with_sections(reliable=False)
    ctx = brief_context(bundle, colors={}, site_url="x")
    assert ctx.clv is not None and not ctx.clv.reliable and ctx.clv.total is None
    assert [a.segment_id for a in ctx.actions] == [1, 2, 3]  # back to revenue
    first = _text(render_brief_pdf(bundle, tmp_path / "b.pdf"))[0]
    assert "Not estimated: too few customers have bought more than once" in first


def test_two_segments_still_give_three_actions():
    base = make_bundle()
    two = base.model_copy(update={"segments": base.segments[:2]})
    ctx = brief_context(two, colors={}, site_url="x")
    # Both first actions by revenue, then the richer segment's second action.
    expected = [
        base.segments[0].recommendations[0].action,
        base.segments[1].recommendations[0].action,
        base.segments[0].recommendations[1].action,
    ]
    assert [a.action for a in ctx.actions] == expected
    assert ctx.actions_title == "Three highest-value actions"


def test_long_texts_fall_back_to_a_denser_layout(tmp_path):
    base = _with_sections()
    wordy = "a long explanation that keeps going with numbers 12.5% and £1,234 " * 6
    segs = [
        s.model_copy(update={"recommendations": [r.model_copy(update={"why": wordy}) for r in s.recommendations]})
        for s in base.segments
    ]
    bundle = base.model_copy(update={"segments": segs})
    pdf = render_brief_pdf(bundle, tmp_path / "b.pdf")
    assert len(PdfReader(pdf).pages) == 2
    # The densest layouts drop the "why" lines, never the action or its numbers.
    second = _text(pdf)[1]
    for seg in sorted(segs, key=lambda s: -s.revenue)[:3]:
        assert seg.recommendations[0].action in second
        assert FMT.money(seg.revenue) in second


def test_unknown_density_is_refused():
    with pytest.raises(ValueError, match="'density' parameter must be one of"):
        render_brief_html(make_bundle(), density="tiny")


def test_test_plan_names_the_baseline_source_and_degenerate_verdicts():
    base = make_bundle()
    exp = make_experiments_section(base)
    first, second = exp.designs[0], exp.designs[1]
    # One segment switched to revenue (near-100% repurchase), one with a 0% baseline given in points.
    switched = first.model_copy(update={"metric": "revenue", "metric_note": "Sized on revenue per customer."})
    points = second.model_copy(
        update={
            "testable": False,
            "min_detectable_effect": None,
            "min_detectable_difference": 0.0196,
            "required_total": None,
            "baseline": 0.0,
        }
    )
    designs = [switched, points, *exp.designs[2:]]
    bundle = base.model_copy(
        update={"experiments": exp.model_copy(update={"designs": designs, "baseline_source": "bgnbd"})}
    )
    plan = brief_context(bundle, colors={}, site_url="x").tests
    assert plan.baseline_source == "bgnbd"
    assert plan.lines[0].on_revenue and not plan.lines[1].on_revenue
    assert plan.lines[1].min_detectable_points == pytest.approx(1.96)
    html = " ".join(render_brief_html(bundle).split())
    assert "lifetime-value model's forecast" in html
    assert "(on revenue)" in html and "min. rise 2.0 pts" in html
