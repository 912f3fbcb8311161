"""Lift with confidence intervals (publishing/charts/experiments.py) and the projection scatter (projection.py)."""

from __future__ import annotations

from _charts import drawn, fresh_axes, labels_top_down, tick_texts
from matplotlib.colors import to_hex

from publishing._format import Formats
from publishing.charts import lift_alt, lift_intervals, projection_alt, projection_scatter

FMT = Formats("en_GB", "GBP")


def test_lift_intervals_draw_each_interval_and_percent_ticks():
    ax = fresh_axes()
    names, lift, low, high = (
        ["Champions", "Lost", "All customers"],
        [0.12, -0.03, 0.05],
        [0.02, -0.1, None],
        [0.2, 0.04, None],
    )
    colors = ["#0072B2", "#E69F00", "#1f2933"]
    result = lift_intervals(
        names, lift, low, high, colors, totals=[False, False, True], metric_label="repurchase", ax=ax, fmt=FMT
    )
    assert result is ax
    drawn(ax)
    spans = [tuple(line.get_xdata()) for line in ax.lines[:3]]
    assert spans == [(0.02, 0.2), (-0.1, 0.04), (0.05, 0.05)]  # no interval: a point
    ticks = tick_texts(ax.xaxis)
    assert all(t.endswith("%") for t in ticks) and "0%" in ticks
    assert labels_top_down(ax) == names and ax.get_xlabel() == "relative lift in repurchase"
    markers = [c.get_paths()[0].vertices.shape[0] for c in ax.collections]
    assert len(set(markers)) == 2  # the overall row is a diamond, the segments dots


def test_lift_alt_gives_intervals_only_where_known():
    alt = lift_alt(["Champions", "All"], [0.12, 0.05], [0.02, None], [0.2, None], 0.95, "repurchase", FMT)
    assert "Champions: 12.0% (95% interval 2.0% to 20.0%)" in alt and alt.endswith("All: 5.0%.")


def test_projection_scatter_colours_each_segment_and_marks_centres():
    ax = fresh_axes(4.6, 4.6)
    x, y, seg = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 0.5, 0.2], [1, 1, 2, 2]
    colors, names = {1: "#0072B2", 2: "#E69F00"}, {1: "Champions", 2: "Recent occasional buyers"}
    result = projection_scatter(
        x,
        y,
        seg,
        colors,
        names,
        centroids=[(1, 0.5, 0.5), (2, 2.5, 0.35)],
        explained_variance=[0.56, 0.25],
        ax=ax,
        fmt=FMT,
    )
    assert result is ax
    points = ax.collections[:2]
    assert [to_hex(c.get_facecolor()[0], keep_alpha=False) for c in points] == ["#0072b2", "#e69f00"]
    assert [len(c.get_offsets()) for c in ax.collections] == [2, 2, 1, 1]
    assert ax.get_xlabel() == "PCA 1 (56% of variance)" and ax.get_ylabel() == "PCA 2 (25% of variance)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Champions", "Recent occasional\nbuyers"]
    alt = projection_alt(4, {"Champions": 2, "Recent occasional buyers": 2}, "pca", [0.56, 0.25], FMT)
    assert alt.startswith("Scatter plot of 4 customers on the first two PCA components, which carry 56% and 25%")
