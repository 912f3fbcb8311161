"""The bundle adapters: every chart of the site and the brief from the hand-made bundle (charts/_bundle.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from _factory import INJECTION, make_bundle

from analysis.errors import PublishError
from publishing._format import Formats, formats_for
from publishing.charts import (
    PALETTE,
    box_chart,
    brief_charts,
    bundle_colors,
    clv_chart,
    holdout_chart,
    lift_chart,
    profile_chart,
    rfm_crosstab_chart,
    site_charts,
    size_revenue_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def _root(svg: str) -> ET.Element:
    return ET.fromstring(svg.split("\n", 3)[-1] if svg.startswith("<?xml") else svg)


def _svg_texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in _root(svg).iter(f"{SVG}text")]


@pytest.fixture(scope="module")
def bundle():
    return make_bundle()


@pytest.fixture(scope="module")
def fmt(bundle):
    return formats_for(bundle)


@pytest.fixture(scope="module")
def charts(bundle):
    return site_charts(bundle)


def test_bundle_colors_follow_id_order(bundle):
    ids = sorted(s.id for s in bundle.segments)
    assert bundle_colors(bundle) == dict(zip(ids, PALETTE, strict=False))


def test_every_chart_is_svg_with_title_desc_and_live_text(charts):
    keys = [c.key for c in charts]
    assert len(keys) == len(set(keys))
    for chart in charts:
        root = _root(chart.svg)
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text == chart.caption
        assert desc is not None and desc.text == chart.alt and len(chart.alt) > 40
        assert _svg_texts(chart.svg), chart.key
        assert "<dc:date>" not in chart.svg


def test_charts_are_byte_for_byte_reproducible(bundle, charts):
    assert [c.svg for c in site_charts(bundle)] == [c.svg for c in charts]


def test_alt_text_cites_every_segment_and_its_shares(bundle, fmt):
    alt = size_revenue_chart(bundle).alt
    for seg in bundle.segments:
        assert f"{seg.name}: {fmt.percent(seg.share_customers)} of customers, {fmt.percent(seg.share_revenue)}" in alt


def test_a_segment_chart_is_drawn_in_that_segment_colour(bundle):
    colors = bundle_colors(bundle)
    for seg in bundle.segments:
        svg = profile_chart(bundle, seg.id).svg.lower()
        assert f"fill: {colors[seg.id].lower()}" in svg
        assert not any(f"fill: {c.lower()}" in svg for sid, c in colors.items() if sid != seg.id)


def test_box_chart_draws_every_segment_whole_and_cites_the_quantiles(bundle, fmt):
    seg = bundle.segments[1]
    chart = box_chart(bundle, seg.id)
    b = seg.profile["monetary"].box
    assert f"median {fmt.money(b.median)}, middle half {fmt.money(b.q1)} to {fmt.money(b.q3)}" in chart.alt
    shown = " ".join(_svg_texts(chart.svg))
    for other in bundle.segments:
        assert other.name in shown and "\u2026" not in shown  # wrapped lines are consecutive texts
    assert re.search(r"£\d", shown) and "10^" not in shown


def test_clv_chart_cites_every_segment_value_in_its_colour(bundle, fmt):
    chart = clv_chart(bundle)
    colors = bundle_colors(bundle)
    names = {s.id: s.name for s in bundle.segments}
    for row in bundle.clv.segments:
        assert f"{names[row.segment]}: {fmt.money(row.clv)}" in chart.alt
        assert f"fill: {colors[row.segment].lower()}" in chart.svg.lower()
    assert any(t.startswith("£") and t.endswith(("k", "m")) for t in _svg_texts(chart.svg))


def test_charts_follow_the_bundle_locale(bundle):
    swiss = Formats("de_CH", "CHF")
    chart = clv_chart(bundle, fmt=swiss)
    top = bundle.clv.segments[0]
    name = next(s.name for s in bundle.segments if s.id == top.segment)
    assert f"{name}: {swiss.money(top.clv)}" in chart.alt and "CHF" in " ".join(_svg_texts(chart.svg))


def test_holdout_and_lift_charts_cite_their_numbers(bundle, fmt):
    holdout = holdout_chart(bundle)
    for row in bundle.clv.validation.by_frequency:
        assert fmt.number(row.predicted_per_customer, 2) in holdout.alt
    lift = lift_chart(bundle)
    names = {s.id: s.name for s in bundle.segments}
    for row in bundle.experiment_results.primary.segments:
        assert f"{names[row.segment]}: {fmt.percent(row.lift)}" in lift.alt


def test_rfm_crosstab_chart_is_ready_for_the_rfm_page(bundle):
    chart = rfm_crosstab_chart(bundle)
    assert chart.key == "rfm-crosstab"
    for name in bundle.rfm.crosstab:
        assert name in _svg_texts(chart.svg)
    assert "mostly" in chart.alt


def test_brief_charts_are_drawn_for_print(bundle, fmt):
    charts = brief_charts(bundle)
    assert set(charts) == {"share", "value"}
    site = size_revenue_chart(bundle)
    width = float(re.search(r'width="([\d.]+)pt"', charts["share"].svg).group(1))
    assert width > float(re.search(r'width="([\d.]+)pt"', site.svg).group(1))  # the print column is wider
    seg = bundle.segments[0]
    assert f"{seg.name}: {fmt.money(seg.revenue / seg.size)}" in charts["value"].alt
    assert charts["share"].data_uri().startswith("data:image/svg+xml;base64,")


def test_unknown_segment_is_refused_with_the_allowed_ids(bundle):
    with pytest.raises(PublishError, match=r"must be one of the bundle's segment ids \[1, 2, 3, 4\]. Got 9"):
        profile_chart(bundle, 9)


def test_hostile_names_are_xml_escaped_in_the_svg():
    for chart in site_charts(make_bundle(text=INJECTION)):
        assert "<script" not in chart.svg and "<img" not in chart.svg
        _root(chart.svg)  # still well-formed XML


def test_chart_write(tmp_path, bundle):
    chart = size_revenue_chart(bundle)
    path = chart.write(tmp_path / "figs")
    assert path.name == "size-revenue.svg" and path.read_text(encoding="utf-8") == chart.svg


def test_optional_charts_are_refused_without_their_section():
    bundle = make_bundle(clv="unreliable", results=False)
    with pytest.raises(PublishError, match="needs a reliable clv section.*unreliable"):
        clv_chart(bundle)
    with pytest.raises(PublishError, match="needs an experiment_results section"):
        lift_chart(bundle)
    keys = {c.key for c in site_charts(bundle)}
    assert not keys & {"clv-segments", "clv-holdout", "experiment-lift"}
