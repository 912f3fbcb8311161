"""Holdout tables: overall, per segment and by calibration frequency, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.clv._validate import holdout_rows

TABLE = pd.DataFrame(
    {
        "frequency": [0, 0, 1, 3, 5],
        "group": [1, 2, 1, 2, np.nan],
        "actual": [0.0, 1.0, 2.0, 3.0, 0.0],
        "predicted": [0.5, 0.5, 1.0, 4.0, 1.0],
    }
)


def _groups(*ids):
    # Groups that are the run's own segments (basis "final"): number == segment id.
    return [{"number": i, "segment": i} for i in ids]


def test_overall_row_by_hand():
    overall, _, _ = holdout_rows(TABLE, groups=_groups(1, 2), frequency_bins=3)
    assert overall.customers == 5
    assert (overall.actual, overall.predicted, overall.error) == (6.0, 7.0, 1.0)
    assert overall.relative_error == pytest.approx(1 / 6)
    # absolute errors 0.5, 0.5, 1, 1, 1 -> MAE 0.8; squares 0.25, 0.25, 1, 1, 1 -> RMSE sqrt(0.7)
    assert overall.mae == pytest.approx(0.8)
    assert overall.rmse == pytest.approx(np.sqrt(0.7))


def test_segments_in_id_order_and_unsegmented_only_in_total():
    _, rows, _ = holdout_rows(TABLE, groups=_groups(1, 2, 3), frequency_bins=3)
    assert [r.segment for r in rows] == [1, 2, 3]
    one, two, empty = rows
    assert (one.customers, one.actual, one.predicted) == (2, 2.0, 1.5)
    assert (two.customers, two.actual, two.predicted) == (2, 4.0, 4.5)
    assert empty.customers == 0 and empty.relative_error is None and empty.mae == 0.0


def test_frequency_rows_end_with_an_open_bin():
    _, _, rows = holdout_rows(TABLE, groups=[], frequency_bins=3)
    assert [(r.frequency_min, r.frequency_max) for r in rows] == [(0, 0), (1, 1), (2, None)]
    assert [r.customers for r in rows] == [2, 1, 2]
    assert rows[-1].frequency_min == 2 and rows[-1].frequency_max is None
    assert rows[0].relative_error == pytest.approx(0.0)
    assert rows[2].actual == 3.0 and rows[2].predicted == 5.0


def _masked_row(actual, predicted, mask):
    # A group's figures from a boolean mask over the table, as holdout_rows once computed each row.
    a, p = actual[mask], predicted[mask]
    diff = p - a
    return a.sum(), p.sum(), np.abs(diff).mean() if a.size else 0.0, np.sqrt((diff**2).mean()) if a.size else 0.0


def test_one_sort_gives_the_masked_figures_exactly():
    rng = np.random.default_rng(8)
    n = 20_000
    freq = np.minimum(rng.geometric(0.4, n) - 1, 40).astype(float)
    freq[:50] = 0.5  # not a whole number of occasions: in no frequency row
    seg = rng.integers(0, 6, n).astype(float)
    seg[rng.random(n) < 0.05] = np.nan
    table = pd.DataFrame(
        {"frequency": freq, "segment": seg, "actual": rng.poisson(1.2, n), "predicted": rng.gamma(1.0, 1.2, n)}
    )
    table = table.rename(columns={"segment": "group"})
    _, per_segment, by_frequency = holdout_rows(table, groups=_groups(*range(5), 9), frequency_bins=7)
    actual, predicted = table["actual"].to_numpy(float), table["predicted"].to_numpy(float)
    for row in per_segment:
        want = _masked_row(actual, predicted, seg == row.segment)
        assert (row.actual, row.predicted, row.mae, row.rmse) == want, row.segment
    for row in by_frequency:
        mask = freq >= row.frequency_min if row.frequency_max is None else freq == row.frequency_min
        assert (row.actual, row.predicted, row.mae, row.rmse) == _masked_row(actual, predicted, mask), row.frequency_min
    assert sum(r.customers for r in by_frequency) == n - 50
