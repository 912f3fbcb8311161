"""Lifetime-value charts: value by segment and the holdout check (publishing/charts/clv.py)."""

from __future__ import annotations

from _charts import drawn, fresh_axes, texts, tick_texts

from publishing._format import Formats
from publishing.charts import PALETTE, clv_alt, clv_bars, holdout_alt, holdout_bars

NAMES = ["Champions", "Loyal regulars", "Recent occasional buyers"]
CLV = [2_747_760.0, 1_060_390.0, 420_642.0]
LOW = [2_700_000.0, 1_040_445.0, 405_400.0]
HIGH = [2_790_000.0, 1_080_730.0, 436_297.0]
SHARE = [0.618, 0.238, 0.095]
GBP = Formats("en_GB", "GBP")


def test_clv_bars_put_value_labels_clear_of_the_error_bar_caps():
    ax = fresh_axes()
    assert clv_bars(NAMES, CLV, LOW, HIGH, SHARE, list(PALETTE[:3]), ax=ax, fmt=GBP) is ax
    drawn(ax)
    assert texts(ax) == ["£2.7m · 62%", "£1.1m · 24%", "£421k · 10%"]
    caps = [line for line in ax.lines if line.get_marker() == "|"]
    assert caps, "error bars have caps"
    # Each label starts to the right of its own row's caps (the first name is the top row, y = 2).
    for y, label in zip([2, 1, 0], ax.texts, strict=True):
        row_caps = [line for line in caps if abs(line.get_ydata()[0] - y) < 1e-9]
        assert row_caps
        assert label.get_window_extent().x0 > max(c.get_window_extent().x1 for c in row_caps)


def test_clv_axis_is_money_with_its_currency():
    ax = fresh_axes()
    clv_bars(NAMES, CLV, LOW, HIGH, SHARE, list(PALETTE[:3]), ax=ax, fmt=GBP)
    drawn(ax)
    ticks = tick_texts(ax.xaxis)
    assert ticks[0] == "£0" and "£2m" in ticks and not any(t.endswith(".0k") for t in ticks)
    assert len([t for t in ax.xaxis.get_major_locator()() if 0 <= t <= ax.get_xlim()[1]]) <= 4  # room on a phone
    unknown = fresh_axes()
    clv_bars(NAMES, CLV, LOW, HIGH, SHARE, list(PALETTE[:3]), ax=unknown, fmt=Formats("en_GB", None))
    assert unknown.get_xlabel().endswith("(currency unknown)")


def test_clv_alt_cites_values_and_intervals_in_the_locale():
    alt = clv_alt(NAMES, CLV, LOW, HIGH, SHARE, 0.9, Formats("de_CH", "CHF"))
    assert (
        "Champions: CHF\u00a02'747'760 (90% interval CHF\u00a02'700'000 to CHF\u00a02'790'000), 61.8% of value" in alt
    )


def test_holdout_bars_pair_actual_and_predicted():
    ax = fresh_axes()
    labels, actual, predicted = ["0", "1", "2+"], [0.4, 0.8, 3.7], [0.5, 0.7, 3.5]
    assert holdout_bars(labels, actual, predicted, ax=ax, fmt=GBP) is ax
    assert [round(p.get_height(), 9) for p in ax.patches] == actual + predicted
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    assert holdout_alt(labels, actual, predicted, GBP).endswith("2+: actual 3.70, predicted 3.50.")
