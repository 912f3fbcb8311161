"""The one theme, segment colours, label wrapping, and the figure -> SVG wrapper (publishing/charts/_theme, _svg)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib
import pytest

from publishing.charts import (
    FEATURE_LABELS,
    PALETTE,
    WIDTH,
    contrast_ratio,
    new_figure,
    segment_colors,
    text_color_for,
    theme,
    themed,
    to_chart,
    wrap_label,
)

SVG = "{http://www.w3.org/2000/svg}"


def test_segment_colors_follow_id_order_and_stay_distinct_beyond_the_palette():
    colors = segment_colors([4, 2, 9, 1])
    assert list(colors) == [1, 2, 4, 9]
    assert list(colors.values()) == list(PALETTE[:4])
    many = segment_colors(range(1, 31))
    assert len(set(many.values())) == 30
    assert segment_colors(range(1, 31)) == many  # deterministic


def test_one_theme_two_media_differ_only_in_scale():
    screen, paper = theme("screen"), theme("print")
    assert set(screen) == set(paper)
    assert screen["font.size"] > paper["font.size"]
    same = [k for k in screen if not k.endswith(("size", "width")) and not k.startswith("lines.marker")]
    assert {k: screen[k] for k in same} == {k: paper[k] for k in same}
    assert screen["text.parse_math"] is False and screen["svg.fonttype"] == "none"
    assert WIDTH["print"] > WIDTH["screen"]
    with pytest.raises(ValueError, match=r"'medium' parameter must be one of \['phone', 'print', 'screen'\]. Got 'tv'"):
        theme("tv")


def test_theme_leaves_the_global_settings_alone():
    before = dict(matplotlib.rcParams)
    with themed("print"):
        assert matplotlib.rcParams["font.size"] == theme("print")["font.size"]
    assert dict(matplotlib.rcParams) == before


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("Champions", 18, "Champions"),
        ("Recent occasional buyers", 18, "Recent occasional\nbuyers"),
        ("Potential Loyalist", 9, "Potential\nLoyalist"),
        ("Champions — high spend, very recent", 12, "Champions — high\nspend, very recent"),
        ("Supercalifragilistic", 8, "Supercalifragilistic"),
    ],
    ids=["short", "two-lines", "cell", "longer-lines-rather-than-cut", "one-long-word"],
)
def test_wrap_label_never_cuts_a_name(text, width, expected):
    wrapped = wrap_label(text, width)
    assert wrapped == expected
    assert wrapped.count("\n") <= 1 and " ".join(wrapped.split()) == text


def test_feature_labels_name_every_feature_the_config_allows():
    from analysis.config import FEATURES

    assert set(FEATURES) <= set(FEATURE_LABELS)


def _drawn_chart(alt: str = "A line from 0 to 1.", caption: str = "A line", *, label: str = "x"):
    with themed():
        fig = new_figure(3, 2)
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], label=label)
        ax.legend()
        return to_chart(fig, key="line", alt=alt, caption=caption)


def test_to_chart_names_the_svg_for_assistive_technology():
    chart = _drawn_chart()
    root = ET.fromstring(chart.svg.split("\n", 3)[-1])
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("aria-labelledby") == "title desc"
    assert root.find(f"{SVG}title").text == "A line" and root.find(f"{SVG}desc").text == "A line from 0 to 1."
    assert any(True for _ in root.iter(f"{SVG}text"))  # text stays text (svg.fonttype = "none")
    assert "<dc:date>" not in chart.svg and chart.filename == "line.svg"


def test_to_chart_is_byte_for_byte_reproducible():
    assert _drawn_chart().svg == _drawn_chart().svg


def test_to_chart_escapes_alt_caption_and_chart_text():
    evil = "<script>alert(1)</script> & $x$"
    chart = _drawn_chart(alt=evil, caption=evil, label=evil)
    assert "<script" not in chart.svg
    root = ET.fromstring(chart.svg.split("\n", 3)[-1])
    assert root.find(f"{SVG}desc").text == evil
    # text.parse_math is off: "$x$" in a name is drawn as typed, not as mathtext.
    assert evil in [t.text for t in root.iter(f"{SVG}text")]


def test_text_colour_on_any_background_meets_wcag_aa():
    for gray in range(0, 256, 5):
        background = f"#{gray:02x}{gray:02x}{gray:02x}"
        assert contrast_ratio(text_color_for(background), background) >= 4.5
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
