"""Distinct rows of a few columns, found by hashing and a radix sort rather than ``np.unique(axis=0)``.

Both models and the value stage work on customers' distinct histories: the
likelihood needs each distinct ``(x, t_x, T)`` once, with its count, and the
forecasts are computed once per distinct history and gathered back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Rows", "distinct_rows", "history_rows", "levels_and_codes"]


@dataclass(frozen=True)
class Rows:
    """The distinct rows of some columns (see :func:`distinct_rows`).

    Attributes
    ----------
    inverse
        For every input row, the position of its distinct row.
    counts
        How many input rows each distinct row stands for (floats, to use as weights).
    values
        One array per column: the distinct rows, sorted by the first column, then the second, ...
    levels
        One array per column: its sorted distinct values.
    codes
        One array per column: the position of each distinct row's value in ``levels``.
    """

    inverse: np.ndarray
    counts: np.ndarray
    values: tuple[np.ndarray, ...]
    levels: tuple[np.ndarray, ...]
    codes: tuple[np.ndarray, ...]


def levels_and_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of an array and each element's position among them.

    Integers in a compact range are numbered by counting, floats by hashing;
    neither sorts the elements.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu" and values.size:
        low = int(values.min())
        span = int(values.max()) - low + 1
        if span <= 4 * values.size + 65_536:
            present = np.bincount(values - low, minlength=span) > 0
            rank = np.cumsum(present) - 1
            return np.flatnonzero(present) + low, rank[values - low]
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(uniques), codes


def distinct_rows(*columns: np.ndarray) -> Rows:
    """Find the distinct rows of some equal-length columns (integers, or floats without NaN).

    Each column is numbered by hashing, then the rows are sorted on those
    numbers with numpy's radix sort (16-bit codes when every column has fewer
    than 32,768 distinct values), which is many times faster than
    ``np.unique(axis=0)`` and gives the same rows in the same order.
    """
    levels, codes = zip(*(levels_and_codes(c) for c in columns), strict=True)
    sizes = [max(len(lv), 1) for lv in levels]
    small = max(sizes, default=1) < 2**15
    order = np.lexsort([c.astype(np.int16 if small else np.int64) for c in codes[::-1]])
    if np.prod(np.array(sizes, dtype=float)) < 2**62:
        key = np.zeros(order.size, dtype=np.int64)
        for code, size in zip(codes, sizes, strict=True):
            key = key * size + code
        ordered = key[order]
        new = np.ones(order.size, dtype=bool)
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    else:
        new = np.zeros(order.size, dtype=bool)
        new[:1] = True
        for code in codes:
            ordered = code[order]
            new[1:] |= ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, order.size))
    inverse = np.empty(order.size, dtype=np.int64)
    inverse[order] = np.repeat(np.arange(starts.size), counts)
    firsts = order[starts]
    row_codes = tuple(code[firsts] for code in codes)
    return Rows(
        inverse=inverse,
        counts=counts.astype(float),
        values=tuple(lv[c] for lv, c in zip(levels, row_codes, strict=True)),
        levels=tuple(levels),
        codes=row_codes,
    )


def history_rows(columns: dict[str, np.ndarray], *, unit_days: float) -> Rows:
    """The distinct ``(frequency, recency, T)`` rows of customer summaries, in units of ``unit_days`` days.

    ``columns`` holds the integers behind the summaries
    (:func:`~analysis.clv._data.summary_arrays`): ``repeats``, ``recency_days``
    and ``T_days``. The rows are found from them by counting, not hashing, and
    then scaled exactly as the summaries are, so the rows and their order are
    those :func:`distinct_rows` finds in the float columns.
    """
    rows = distinct_rows(columns["repeats"], columns["recency_days"], columns["T_days"])
    scale = (1.0, unit_days, unit_days)
    return Rows(
        inverse=rows.inverse,
        counts=rows.counts,
        values=tuple(v.astype(float) / s for v, s in zip(rows.values, scale, strict=True)),
        levels=tuple(v.astype(float) / s for v, s in zip(rows.levels, scale, strict=True)),
        codes=rows.codes,
    )
