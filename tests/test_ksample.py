"""Tests for analysis._ksample.stratified_sample: size, proportional allocation, small groups."""

from __future__ import annotations

import numpy as np
import pytest

from analysis._ksample import _allocate, _bins, _cell_codes, stratified_sample
from analysis.cluster import canonical_order


def _mixture(n=10_000, vip_share=0.05, seed=0):
    """Two broad groups and a small far-out one (like a VIP group), in canonical row order."""
    rng = np.random.default_rng(seed)
    n_vip = int(n * vip_share)
    X = np.vstack(
        [
            rng.normal([0, 0, 0], 1.0, size=((n - n_vip) // 2, 3)),
            rng.normal([3, -2, 1], 1.0, size=(n - n_vip - (n - n_vip) // 2, 3)),
            rng.normal([9, 9, 9], 0.5, size=(n_vip, 3)),
        ]
    )
    vip = np.r_[np.zeros(n - n_vip, dtype=bool), np.ones(n_vip, dtype=bool)]
    order = canonical_order(X)
    return X[order], vip[order]


@pytest.mark.parametrize(("size", "p", "bins"), [(3000, 4, 4), (3000, 8, 2), (3000, 2, 17), (200, 2, 4), (100, 6, 2)])
def test_grid_resolution(size, p, bins):
    # About ROWS_PER_CELL = 10 sampled rows per cell: bins ** p <= size / 10, at least 2 bins.
    assert _bins(size, p) == bins


def test_largest_remainder_allocation_by_hand():
    # Quotas 3.5, 2.5, 1.0 of 7 rows over cells of 7, 5, 2 rows (size 7 of 14): floors 3, 2, 1;
    # one row left, the remainders tie (0.5, 0.5), and the earlier cell gets it.
    assert _allocate(np.array([7, 5, 2]), 7).tolist() == [4, 2, 1]
    assert _allocate(np.array([1, 1, 1]), 2).tolist() == [1, 1, 0]


def test_everyone_is_kept_when_the_data_is_small():
    X, _ = _mixture(n=500)
    sample = stratified_sample(X, 500, rng=np.random.default_rng(0))
    assert sample.method == "all" and sample.rows.tolist() == list(range(500))


def test_the_sample_has_the_exact_size_and_each_cell_its_proportional_share():
    X, _ = _mixture()
    sample = stratified_sample(X, 1500, rng=np.random.default_rng(0))
    assert sample.method == "stratified" and len(sample.rows) == 1500
    assert np.all(np.diff(sample.rows) > 0)  # ascending, no repeats
    codes = _cell_codes(X, sample.bins)
    cells, counts = np.unique(codes, return_counts=True)
    assert sample.cells == len(cells)
    drawn = dict(zip(*np.unique(codes[sample.rows], return_counts=True), strict=True))
    quota = counts * 1500 / len(X)
    got = np.array([drawn.get(c, 0) for c in cells])
    assert np.all(np.abs(got - quota) < 1.0)  # proportional allocation, to within rounding


def test_a_five_percent_group_keeps_its_share():
    X, vip = _mixture(vip_share=0.05)
    sample = stratified_sample(X, 1000, rng=np.random.default_rng(3))
    # The far-out group fills its own cells, so it gets its 50 rows to within one per cell it spans.
    spanned = len(np.unique(_cell_codes(X, sample.bins)[vip]))
    assert abs(int(vip[sample.rows].sum()) - 50) <= spanned


def test_same_seed_same_sample_and_row_order_does_not_matter():
    X, _ = _mixture(seed=4)
    first = stratified_sample(X, 800, rng=np.random.default_rng(7))
    again = stratified_sample(X.copy(), 800, rng=np.random.default_rng(7))
    assert np.array_equal(first.rows, again.rows)
    shuffled = X[np.random.default_rng(1).permutation(len(X))]
    resorted = shuffled[canonical_order(shuffled)]
    assert np.array_equal(X[first.rows], resorted[stratified_sample(resorted, 800, rng=np.random.default_rng(7)).rows])
