"""The choice-of-k charts: elbow and silhouette / stability (publishing/charts/kselect.py)."""

from __future__ import annotations

from _charts import drawn, fresh_axes, texts, tick_texts

from publishing._format import Formats
from publishing.charts import elbow, elbow_alt, k_metrics, k_metrics_alt

KS = [2, 3, 4, 5, 6, 7, 8, 9, 10]
INERTIA = [9100.0, 7000.0, 5900.0, 4700.0, 4300.0, 4000.0, 3800.0, 3650.0, 3500.0]
SILHOUETTE = [0.33, 0.30, 0.30, 0.26, 0.26, 0.25, 0.25, 0.24, 0.24]
STABILITY = [0.97, 0.96, 0.96, 0.96, 0.77, 0.76, 0.84, 0.745, 0.74]
FMT = Formats("en_GB")


def test_elbow_marks_the_knee_and_the_chosen_k():
    ax = fresh_axes()
    assert elbow(KS, INERTIA, chosen_k=5, elbow_k=5, ax=ax, fmt=FMT) is ax
    drawn(ax)
    assert list(ax.lines[0].get_xdata()) == KS and list(ax.lines[0].get_ydata()) == INERTIA
    assert "knee at k = 5" in texts(ax) and "chosen k = 5" in texts(ax)
    assert "9k" in tick_texts(ax.yaxis) or "8k" in tick_texts(ax.yaxis)


def test_elbow_alt_without_a_knee():
    alt = elbow_alt(KS, INERTIA, 4, None, FMT)
    assert "falling from 9,100 to 3,500" in alt and "no clear knee was found" in alt and "k = 4 was chosen" in alt


def test_stability_floor_label_sits_outside_the_plot_where_no_curve_can_cross_it():
    ax = fresh_axes()
    assert k_metrics(KS, SILHOUETTE, STABILITY, chosen_k=5, min_stability=0.75, ax=ax, fmt=FMT) is ax
    drawn(ax)
    label = next(t for t in ax.texts if t.get_text() == "floor\n0.75")
    plot = ax.get_window_extent()
    box = label.get_window_extent()
    assert box.x0 >= plot.x1  # right of the axes area, so the stability line (inside) never runs through it
    assert box.y0 <= ax.transData.transform((10, 0.75))[1] <= box.y1  # level with the floor line
    chosen = next(t for t in ax.texts if t.get_text() == "chosen k = 5")
    assert chosen.get_window_extent().y0 >= plot.y1  # above the plot


def test_k_metrics_alt_cites_the_best_and_the_chosen_scores():
    alt = k_metrics_alt(KS, SILHOUETTE, STABILITY, 5, 0.75, FMT)
    assert "the highest silhouette, 0.33, is at k = 2" in alt
    assert "at the chosen k = 5 silhouette is 0.26 and stability 0.96" in alt
    assert alt.endswith("the stability floor is 0.75.")
