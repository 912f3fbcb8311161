"""Distinct rows: the same rows, order, counts and inverse as numpy's unique over rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from analysis.clv._rows import distinct_rows, levels_and_codes

_small = st.sampled_from([0.0, 0.5, 1.0, 7.0 / 3.0, 13.0, 52.0, 1e6])
_columns = st.integers(0, 60).flatmap(
    lambda n: st.tuples(*(hnp.arrays(np.float64, n, elements=_small) for _ in range(3)))
)


def _check(columns, rows):
    stacked = np.column_stack(columns) if columns[0].size else np.zeros((0, len(columns)))
    uniq, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(np.column_stack(rows.values).reshape(-1, len(columns)), uniq)
    np.testing.assert_array_equal(rows.inverse, inverse.ravel())
    np.testing.assert_array_equal(rows.counts, counts)
    for col, vals, lv, code in zip(columns, rows.values, rows.levels, rows.codes, strict=True):
        np.testing.assert_array_equal(vals[rows.inverse], col)
        np.testing.assert_array_equal(lv[code], vals)
        assert np.all(np.diff(lv) > 0)


@settings(max_examples=150, deadline=None)
@given(columns=_columns)
def test_float_rows_match_numpy_unique(columns):
    _check(columns, distinct_rows(*columns))


@pytest.mark.parametrize("span", [10, 10_000_000], ids=["counted", "hashed"])
def test_integer_columns_match_numpy_unique(span):
    # Compact ranges are numbered by counting, wide ones by hashing: the same rows either way.
    rng = np.random.default_rng(span)
    columns = tuple(rng.integers(0, span, 500) for _ in range(2))
    _check(columns, distinct_rows(*columns))
    levels, codes = levels_and_codes(columns[0])
    np.testing.assert_array_equal(levels, np.unique(columns[0]))
    np.testing.assert_array_equal(levels[codes], columns[0])


def test_many_distinct_values_per_column_still_sort_correctly():
    # More than 2**15 levels per column: the rows are sorted on 64-bit codes instead of 16-bit ones.
    rng = np.random.default_rng(7)
    columns = (rng.integers(0, 3, 100_000).astype(float), rng.random(100_000))
    _check(columns, distinct_rows(*columns))
