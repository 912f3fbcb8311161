"""SVG charts and segment colours (publishing/figures.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from _factory import INJECTION, make_bundle

from analysis.errors import PublishError
from publishing import figures
from publishing.figures import (
    PALETTE,
    box_chart,
    clv_chart,
    holdout_chart,
    lift_chart,
    profile_chart,
    segment_colors,
    site_charts,
    size_revenue_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def bundle():
    return make_bundle()


@pytest.fixture(scope="module")
def charts(bundle):
    return site_charts(bundle)


def test_segment_colors_are_distinct_and_follow_id_order(bundle):
    colors = segment_colors(bundle)
    ids = sorted(s.id for s in bundle.segments)
    assert list(colors) == ids
    assert [colors[i] for i in ids] == list(PALETTE[: len(ids)])
    assert len(set(colors.values())) == len(ids)


def test_segment_colors_stay_distinct_beyond_the_palette(bundle):
    many = bundle.model_copy(
        update={"segments": [s.model_copy(update={"id": i + 1}) for i, s in enumerate(bundle.segments * 5)]}
    )
    colors = segment_colors(many)
    assert len(set(colors.values())) == len(many.segments)


def test_every_chart_is_svg_with_title_desc_and_live_text(charts):
    keys = [c.key for c in charts]
    assert len(keys) == len(set(keys))
    for chart in charts:
        root = ET.fromstring(chart.svg.split("\n", 3)[-1] if chart.svg.startswith("<?xml") else chart.svg)
        assert root.tag == f"{SVG}svg"
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text == chart.caption
        assert desc is not None and desc.text == chart.alt and len(chart.alt) > 40
        # svg.fonttype = "none": labels are <text>, not glyph paths
        assert any(True for _ in root.iter(f"{SVG}text")), chart.key
        assert "<dc:date>" not in chart.svg


def test_charts_are_byte_for_byte_reproducible(bundle, charts):
    again = site_charts(bundle)
    assert [c.svg for c in again] == [c.svg for c in charts]


def test_alt_text_cites_every_segment_and_its_shares(bundle):
    alt = size_revenue_chart(bundle).alt
    for seg in bundle.segments:
        assert seg.name in alt
        assert figures.format_percent(seg.share_revenue) in alt


def test_a_segment_chart_is_drawn_in_that_segment_colour(bundle):
    colors = segment_colors(bundle)
    for seg in bundle.segments:
        svg = profile_chart(bundle, seg.id).svg
        assert f"fill: {colors[seg.id]}" in svg or f"fill: {colors[seg.id].lower()}" in svg
        others = [c for sid, c in colors.items() if sid != seg.id]
        assert not any(f"fill: {c.lower()}" in svg.lower() for c in others)


def test_box_chart_draws_the_bundle_quantiles_for_every_segment(bundle):
    seg = bundle.segments[1]
    chart = box_chart(bundle, seg.id)
    b = seg.profile["monetary"].box
    assert figures.format_number(b.median) in chart.alt
    assert figures.format_number(b.q1) in chart.alt and figures.format_number(b.q3) in chart.alt
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", chart.svg)
    for other in bundle.segments:
        assert other.name in labels


def test_unknown_segment_is_refused_with_the_allowed_ids(bundle):
    with pytest.raises(PublishError, match=r"must be one of the bundle's segment ids \[1, 2, 3, 4\]. Got 9"):
        profile_chart(bundle, 9)


def test_hostile_names_are_xml_escaped_in_the_svg():
    bundle = make_bundle(text=INJECTION)
    for chart in site_charts(bundle):
        assert "<script" not in chart.svg and "<img" not in chart.svg
        ET.fromstring(chart.svg.split("\n", 3)[-1])  # still well-formed XML


def test_chart_write_and_data_uri(tmp_path, bundle):
    chart = size_revenue_chart(bundle)
    path = chart.write(tmp_path / "figs")
    assert path.name == "size-revenue.svg" and path.read_text(encoding="utf-8") == chart.svg
    assert chart.data_uri().startswith("data:image/svg+xml;base64,")


def test_clv_chart_cites_every_segment_value_in_its_colour(bundle):
    chart = clv_chart(bundle)
    colors = segment_colors(bundle)
    for row in bundle.clv.segments:
        assert row.name in chart.alt and figures.format_number(row.clv) in chart.alt
        assert f"fill: {colors[row.segment].lower()}" in chart.svg.lower()


def test_holdout_and_lift_charts_cite_their_numbers(bundle):
    holdout = holdout_chart(bundle)
    for row in bundle.clv.validation.by_frequency:
        assert figures.format_number(row.predicted_per_customer, 2) in holdout.alt
    lift = lift_chart(bundle)
    names = {s.id: s.name for s in bundle.segments}
    for row in bundle.experiment_results.primary.segments:
        assert f"{names[row.segment]}: {figures.format_percent(row.lift)}" in lift.alt


def test_optional_charts_are_refused_without_their_section():
    bundle = make_bundle(clv="unreliable", results=False)
    with pytest.raises(PublishError, match="needs a reliable clv section.*unreliable"):
        clv_chart(bundle)
    with pytest.raises(PublishError, match="needs an experiment_results section"):
        lift_chart(bundle)
    keys = {c.key for c in site_charts(bundle)}
    assert not keys & {"clv-segments", "clv-holdout", "experiment-lift"}
