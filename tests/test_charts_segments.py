"""Segment charts: size vs revenue, profile z-bars, box plots, value per customer (publishing/charts/segments.py)."""

from __future__ import annotations

import pytest
from _charts import drawn, fresh_axes, labels_top_down, texts, tick_texts
from matplotlib.colors import to_hex

from publishing._format import Formats
from publishing.charts import (
    PALETTE,
    box_alt,
    profile_alt,
    profile_bars,
    segment_boxes,
    size_revenue,
    size_revenue_alt,
    value_alt,
    value_bars,
)

GBP = Formats("en_GB", "GBP")
NAMES = ["Champions", "Recent occasional buyers", "Hibernating"]
COLORS = list(PALETTE[:3])


def _bar_widths(ax) -> list[float]:
    return [round(p.get_width(), 9) for p in ax.patches]


def test_size_revenue_draws_both_shares_on_the_given_axes():
    ax = fresh_axes()
    customers, revenue = [0.15, 0.31, 0.54], [0.70, 0.25, 0.05]
    assert size_revenue(NAMES, customers, revenue, COLORS, ax=ax, fmt=GBP) is ax
    drawn(ax)
    assert _bar_widths(ax) == [0.15, 0.70, 0.31, 0.25, 0.54, 0.05]
    # First name on top, the long one wrapped on two lines and shown whole.
    assert labels_top_down(ax) == ["Champions", "Recent occasional\nbuyers", "Hibernating"]
    assert sorted(texts(ax)) == sorted(["15%", "70%", "31%", "25%", "54%", "5%"])
    assert "%" in tick_texts(ax.xaxis)[1]


def test_size_revenue_alt_cites_every_share():
    alt = size_revenue_alt(NAMES, [0.15, 0.31, 0.54], [0.70, 0.25, 0.05], GBP)
    assert "Champions: 15.0% of customers, 70.0% of revenue" in alt
    assert "Hibernating: 54.0% of customers, 5.0% of revenue" in alt


def test_profile_bars_label_each_z_score_with_its_sign():
    ax = fresh_axes()
    labels = ["Recency (days since last order)", "Spend"]
    assert profile_bars(labels, [1.39, -0.15], "#009E73", ax=ax, fmt=GBP) is ax
    drawn(ax)
    assert texts(ax) == ["+1.39", "\u22120.15"]
    assert {to_hex(p.get_facecolor()) for p in ax.patches} == {"#009e73"}
    assert labels_top_down(ax) == ["Recency (days since\nlast order)", "Spend"]
    assert profile_alt("Hibernating", labels, [1.39, -0.15], GBP).endswith(
        "Recency (days since last order) +1.39; Spend \u22120.15."
    )


BOXES = [
    {"whisker_low": 900.0, "q1": 2500.0, "median": 4100.0, "q3": 7300.0, "whisker_high": 14000.0, "mean": 5600.0},
    {"whisker_low": 20.0, "q1": 180.0, "median": 310.0, "q3": 520.0, "whisker_high": 1000.0, "mean": 390.0},
    {"whisker_low": 5.0, "q1": 60.0, "median": 120.0, "q3": 240.0, "whisker_high": 500.0, "mean": 160.0},
]


def test_segment_boxes_draw_the_given_quantiles_with_plain_money_ticks():
    ax = fresh_axes()
    result = segment_boxes(NAMES, BOXES, COLORS, highlight=1, money=True, title="Spend", ax=ax, fmt=GBP)
    assert result is ax
    drawn(ax)
    # Skewed spend: a symmetric-log axis, labelled in money with its currency, never as powers of ten.
    assert ax.get_xscale() == "symlog"
    ticks = tick_texts(ax.xaxis)
    assert ticks and all(t.startswith("£") for t in ticks) and not any("10^" in t or "$" in t for t in ticks)
    assert "£1k" in ticks
    assert labels_top_down(ax) == ["Champions", "Recent occasional\nbuyers", "Hibernating"]
    weights = {t.get_text(): t.get_fontweight() for t in ax.get_yticklabels()}
    assert weights == {"Champions": "normal", "Recent occasional\nbuyers": "bold", "Hibernating": "normal"}
    medians = sorted(line.get_xdata()[0] for line in ax.lines if len(set(line.get_xdata())) == 1)
    assert {4100.0, 310.0, 120.0} <= set(medians)


def test_segment_boxes_refuse_missing_quantiles():
    with pytest.raises(ValueError, match=r"needs the keys .*Missing \['mean'\]"):
        segment_boxes(["A"], [{k: 1.0 for k in ("whisker_low", "q1", "median", "q3", "whisker_high")}], ["#000"])


def test_box_alt_formats_money_and_days():
    alt = box_alt("Champions", ["Spend", "Recency"], [BOXES[0], BOXES[2]], ["money", "days"], GBP)
    assert "Spend: median £4,100, middle half £2,500 to £7,300" in alt
    assert "Recency: median 120 days, middle half 60 days to 240 days" in alt
    with pytest.raises(ValueError, match=r"'kinds' parameter must hold 'money', 'days' or 'number'. Got \['euros'\]"):
        box_alt("Champions", ["Spend"], [BOXES[0]], ["euros"], GBP)


def test_value_bars_label_each_amount_in_the_currency():
    ax = fresh_axes(3.4, 1.6)
    zh = Formats("zh_TW", "TWD")
    assert value_bars(NAMES, [13900.0, 437.0, 576.2], COLORS, ax=ax, fmt=zh) is ax
    assert texts(ax) == ["NT$13,900", "NT$437", "NT$576"]
    assert value_alt("Revenue per customer", NAMES, [13900.0, 437.0, 576.2], zh) == (
        "Bar chart of revenue per customer by segment. Champions: NT$13,900; Recent occasional buyers: NT$437; "
        "Hibernating: NT$576."
    )


def test_chart_functions_default_to_the_current_pyplot_axes():
    import matplotlib.pyplot as plt

    fig = plt.figure()
    try:
        assert size_revenue(NAMES, [0.2, 0.3, 0.5], [0.6, 0.3, 0.1], COLORS) is fig.gca()
    finally:
        plt.close(fig)
