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
from _factory import impact_for
from _history_factory import with_history
from pypdf import PdfReader

from analysis.bundle import Bundle, write_bundle
from analysis.errors import PublishError
from publishing._format import Formats
from publishing.brief import LAYOUTS, build_brief, render_brief_html, render_brief_pdf
from publishing.view import build_view

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
    assert FMT.number(bundle.data.customers) in first
    assert FMT.money(bundle.data.revenue, compact=True) in first
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


def test_page_one_leads_with_the_ranking_the_overview_shows(built):
    view = build_view(make_bundle())
    first = _text(built[1])[0]
    names = [r.segment.name for r in view.value.ranking]
    assert [first.index(n, first.index("Where to act first")) for n in names] == sorted(
        first.index(n, first.index("Where to act first")) for n in names
    )
    for r in view.value.ranking:
        assert FMT.money(r.movable_value, compact=True) in first
    assert first.index("Act first on") < first.index("Where to act first")


def test_three_actions_follow_the_ranking(built):
    view = build_view(make_bundle())
    second = _text(built[1])[1]
    picks = view.value.picks(3)
    assert len(picks) == 3
    for p in picks:
        assert p.action.action in second
    for r in view.value.ranking[3:]:
        assert r.recommendations[0].action not in second


def test_site_url_printed_on_every_page(built):
    for page in _text(built[1]):
        assert "Full report: https://example.org/segments/" in page


def test_figures_written_as_svg_with_title(built):
    figures = sorted((built[0].parent / "figures").glob("*.svg"))
    assert [f.name for f in figures] == ["brief-impact.svg", "brief-share.svg"]
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


def _picks(bundle: Bundle) -> list[int]:
    return [p.row.segment.id for p in build_view(bundle).value.picks(3)]


def test_action_ties_break_by_segment_id():
    base = make_bundle()
    segs = [s.model_copy(update={"revenue": 100.0}) for s in base.segments]
    assert _picks(base.model_copy(update={"segments": segs})) == [1, 2, 3]


def _with_sections(*, reliable: bool = True) -> Bundle:
    base = make_bundle()
    clv = make_clv_section(base, reliable=reliable)
    return base.model_copy(
        update={"clv": clv, "experiments": make_experiments_section(base), "impact": impact_for(base.segments, clv)}
    )


def test_clv_and_test_plan_shown_when_present(tmp_path):
    bundle = _with_sections()
    # Through bundle.json, as a real build does: the sections survive the round trip.
    pdf = build_brief(write_bundle(bundle, tmp_path), tmp_path / "b.pdf")
    assert len(PdfReader(pdf).pages) == 2
    first, second = _text(pdf)
    assert FMT.money(bundle.impact.total_predicted_value, compact=True) in first
    assert FMT.money(bundle.impact.total_at_risk_value, compact=True) in first
    assert FMT.money(bundle.clv.total.clv) in second
    assert "How to test them: repurchase within 90 days" in second
    assert "Too small to test as designed" in second


def test_actions_follow_the_impact_ranking_not_revenue():
    base = _with_sections()
    # Reverse the ranking: the smallest-revenue segment now has the most value an action could move.
    bundle = base.model_copy(update={"impact": base.impact.model_copy(update={"ranking": [4, 3, 2, 1]})})
    assert _picks(bundle) == [4, 3, 2]


def test_unreliable_clv_shows_the_reason_and_no_numbers(tmp_path):
    bundle = _with_sections(reliable=False)
    view = build_view(bundle)
    assert view.value.basis == "revenue" and not view.value.clv.reliable
    second = _text(render_brief_pdf(bundle, tmp_path / "b.pdf"))[1]
    assert "Not estimated: too few customers have bought more than once" in second


def test_two_segments_still_give_three_actions():
    base = make_bundle()
    two = base.model_copy(update={"segments": base.segments[:2]})
    picks = build_view(two).value.picks(3)
    # Both first actions by ranking, then the richer segment's second action.
    expected = [
        base.segments[0].recommendations[0].action,
        base.segments[1].recommendations[0].action,
        base.segments[0].recommendations[1].action,
    ]
    assert [p.action.action for p in picks] == expected


def _bottom_of_text(page) -> float:
    """How far down the page its body text reaches, as a share of the page height (margin boxes left out)."""
    ys: list[float] = []
    height = float(page.mediabox.height)

    def visit(text, cm, tm, font, size):
        y = tm[5] * cm[3] + cm[5]
        if text.strip() and 60 < y < height - 50:  # the footer and header margin boxes sit outside this band
            ys.append(y)

    page.extract_text(visitor_text=visit)
    return 1 - min(ys) / height


def _long(text: str, n: int) -> str:
    return (text + " ") * n


def _extreme(kind: str) -> Bundle:
    base = _with_sections()
    if kind == "two-segments-bare":
        two = make_bundle()
        return two.model_copy(update={"segments": two.segments[:2]})
    if kind == "withheld-clv":
        return _with_sections(reliable=False)
    if kind == "long-texts":
        segs = [
            s.model_copy(
                update={
                    "name": _long("Exceptionally long segment name", 3),
                    "recommendations": [
                        r.model_copy(
                            update={"action": _long(r.action, 4), "why": _long(r.why, 8), "kpi": _long(r.kpi, 5)}
                        )
                        for r in s.recommendations
                    ],
                }
            )
            for s in base.segments
        ]
        return base.model_copy(update={"segments": segs})
    if kind == "huge-amounts":
        segs = [s.model_copy(update={"revenue": s.revenue * 1e6}) for s in base.segments]
        data = base.data.model_copy(update={"revenue": base.data.revenue * 1e6})
        return base.model_copy(update={"segments": segs, "data": data})
    if kind == "twelve-segments":
        segs = [
            s.model_copy(update={"id": i + 1, "name": f"Segment number {i + 1} with a name", "size": 100})
            for i, s in enumerate(base.segments * 3)
        ]
        twelve = base.model_copy(update={"segments": segs, "clv": None, "experiments": None})
        return twelve.model_copy(update={"impact": impact_for(segs, None)})
    if kind == "history":
        return with_history(base)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["two-segments-bare", "withheld-clv", "long-texts", "huge-amounts", "twelve-segments", "history"]
)
def test_the_brief_is_always_two_full_pages(kind, tmp_path):
    bundle = _extreme(kind)
    pdf = render_brief_pdf(bundle, tmp_path / "b.pdf", site_url="https://example.org/segments/")
    reader = PdfReader(pdf)
    assert len(reader.pages) == 2
    pages = _text(pdf)
    assert all("Full report: https://example.org/segments/" in p for p in pages)
    # Both pages are used: the body text reaches at least the lower half of each.
    assert [_bottom_of_text(p) > 0.55 for p in reader.pages] == [True, True], [_bottom_of_text(p) for p in reader.pages]
    if kind == "twelve-segments":  # the charts draw the first eight of the ranking; the table says the rest are online
        assert "the first 8 segments by value an action could move" in pages[0]
    if kind == "history":
        assert f"Since the last report ({FMT.date(bundle.history.previous_snapshot)})" in pages[0]


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match=r"'layout' parameter must be an int in the range \[0, 6\]"):
        render_brief_html(make_bundle(), layout=len(LAYOUTS))


def test_test_plan_words_the_verdicts_and_metric_switches():
    base = make_bundle()
    exp = make_experiments_section(base)
    first = exp.designs[0]
    switched = first.model_copy(update={"metric": "revenue"})
    bundle = base.model_copy(update={"experiments": exp.model_copy(update={"designs": [switched, *exp.designs[1:]]})})
    html = " ".join(render_brief_html(bundle).split())
    assert "(on revenue)" in html and "Too small to test as designed" in html
