"""Heatmaps: RFM grid, RFM x cluster cross-tab, migration matrix (publishing/charts/rfm.py, transitions.py).

Every cell label is checked against the colour of its own cell, read back from
the drawn mesh: WCAG AA asks for a contrast of at least 4.5:1.
"""

from __future__ import annotations

import numpy as np
import pytest
from _charts import drawn, fresh_axes, texts

from publishing._format import Formats
from publishing.charts import (
    contrast_ratio,
    rfm_crosstab,
    rfm_crosstab_alt,
    rfm_grid,
    rfm_grid_alt,
    transition_alt,
    transition_heatmap,
)

FMT = Formats("en_GB")


def _cell_contrasts(ax) -> list[float]:
    """Contrast of every text in a heatmap against the colour its cell is drawn in."""
    mesh = ax.collections[0]
    values = np.ma.asarray(mesh.get_array()).reshape(len(ax.get_yticks()), len(ax.get_xticks()))
    ratios = []
    for text in ax.texts:
        x, y = text.get_position()
        i, j = int(y), int(x)
        assert values[i, j] is not np.ma.masked, text.get_text()  # every label sits on a drawn cell
        background = mesh.cmap(mesh.norm(values[i, j]))
        ratios.append(contrast_ratio(text.get_color(), background))
    return ratios


def _grid():
    r = [5, 5, 5, 4, 4, 3, 2, 1, 1]
    f = [1, 3, 5, 2, 5, 3, 1, 1, 5]
    customers = [23, 88, 295, 88, 163, 138, 150, 276, 7]
    names = ["New Customers", "Potential Loyalist", "Champions", "Potential Loyalist", "Champions",
             "Need Attention", "Hibernating", "Lost", "Can't Lose Them"]  # fmt: off
    return r, f, customers, names


def test_rfm_grid_draws_every_cell_with_readable_text():
    ax = fresh_axes(4.6, 4.6)
    assert rfm_grid(*_grid(), ax=ax, fmt=FMT) is ax
    drawn(ax)
    shown = texts(ax)
    for n in _grid()[2]:
        assert FMT.number(n) in shown
    assert "Potential\nLoyalist" in shown and "Can't\nLose Them" in shown  # wrapped, never cut
    assert not any("\u2026" in t for t in shown)
    ratios = _cell_contrasts(ax)
    assert len(ratios) == 2 * len(_grid()[2]) and min(ratios) >= 4.5
    # Mid-blue cells exist in this grid, where the former grey text failed.
    mesh = ax.collections[0]
    assert any(contrast_ratio("#6b7785", mesh.cmap(mesh.norm(v))) < 4.5 for v in _grid()[2])


def test_rfm_grid_leaves_missing_cells_blank_and_refuses_an_empty_grid():
    ax = fresh_axes(4.6, 4.6)
    rfm_grid(*_grid(), ax=ax, fmt=FMT)
    values = ax.collections[0].get_array()
    assert np.ma.count_masked(values) == 5 * 4 - len(_grid()[2])  # R scores 5..1 x F scores 1, 2, 3, 5
    with pytest.raises(ValueError, match="at least one RFM cell"):
        rfm_grid([], [], [], [], ax=fresh_axes())


def test_rfm_grid_alt_names_the_largest_cell():
    assert rfm_grid_alt(*_grid(), FMT).endswith(
        "the largest cell, R = 5 and F = 5, holds 295 customers, mostly Champions."
    )


def test_rfm_crosstab_shades_each_cluster_column_by_share():
    ax = fresh_axes(5.2, 3.2)
    rfm_names, segments = ["Champions", "Loyal", "Lost"], ["High spenders", "Lapsed one-off buyers"]
    counts = [[300, 10], [90, 40], [10, 950]]
    assert rfm_crosstab(rfm_names, segments, counts, ax=ax, fmt=FMT) is ax
    drawn(ax)
    assert sorted(texts(ax)) == sorted(["300", "10", "90", "40", "10", "950"])
    assert min(_cell_contrasts(ax)) >= 4.5
    shares = np.ma.asarray(ax.collections[0].get_array()).reshape(3, 2)
    assert shares[:, 0].sum() == pytest.approx(1.0) and shares[2, 1] == pytest.approx(950 / 1000)
    alt = rfm_crosstab_alt(rfm_names, segments, counts, FMT)
    assert (
        "High spenders: mostly Champions (300, 75.0%)" in alt
        and "Lapsed one-off buyers: mostly Lost (950, 95.0%)" in alt
    )
    with pytest.raises(ValueError, match=r"must be 3 rows x 2 columns. Got shape \(2, 2\)"):
        rfm_crosstab(rfm_names, segments, counts[:2], ax=fresh_axes())


# Hand-made migration: 100 Champions (80 stay, 15 become Loyal, 5 Lost), 50 Loyal (10 up, 30 stay,
# 10 Lost), 20 Lost (0, 2, 18 stay). Stayed: 80 + 30 + 18 = 128 of 170.
BEFORE = ["Champions", "Loyal", "Lost"]
NOW = ["Champions", "Loyal", "Lost"]
MOVES = [[80, 15, 5], [10, 30, 10], [0, 2, 18]]


def test_transition_heatmap_shows_counts_and_row_shares():
    ax = fresh_axes(4.6, 4.0)
    assert transition_heatmap(BEFORE, NOW, MOVES, ax=ax, fmt=FMT) is ax
    drawn(ax)
    shown = texts(ax)
    for row in MOVES:
        for n in row:
            assert str(n) in shown
    assert {"80%", "15%", "5%", "20%", "60%", "0%", "10%", "90%"} <= set(shown)
    assert min(_cell_contrasts(ax)) >= 4.5
    # The three "stayed" cells are outlined.
    outlined = sorted((round(p.get_x()), round(p.get_y())) for p in ax.patches if not p.get_fill())
    assert outlined == [(0, 0), (1, 1), (2, 2)]
    assert ax.get_ylabel() == "segment before" and ax.get_xlabel() == "segment now"


def test_transition_alt_counts_who_stayed_and_the_largest_move():
    alt = transition_alt(BEFORE, NOW, MOVES, FMT)
    assert "Heatmap of 170 customers" in alt
    assert "128 (75.3%) stayed in their segment" in alt
    assert "the largest move is from Champions to Loyal: 15 customers, 15.0% of Champions" in alt


def test_transition_heatmap_allows_segments_that_appear_or_vanish():
    ax = fresh_axes(4.6, 3.0)
    transition_heatmap(["Champions", "Lost"], ["Champions", "Lost", "New"], [[5, 0, 1], [0, 3, 0]], ax=ax, fmt=FMT)
    assert len([p for p in ax.patches if not p.get_fill()]) == 2
    with pytest.raises(ValueError, match=r"2 rows \(labels_from\) x 3 columns \(labels_to\). Got shape \(2, 2\)"):
        transition_heatmap(["A", "B"], ["A", "B", "C"], [[1, 2], [3, 4]], ax=fresh_axes())
    with pytest.raises(ValueError, match="finite, non-negative"):
        transition_heatmap(["A"], ["A"], [[-1]], ax=fresh_axes())
