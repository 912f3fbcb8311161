"""The fixed-size stratified sample of customers that k is chosen on.

Scoring a k costs 1 + ``stability_resamples`` + ``gap_references`` clusterings,
so it runs on at most ``sample_size`` customers whatever the size of the data;
the final fit (:func:`analysis.cluster.fit_segments`) then labels everyone.

Stratification
--------------
Each feature is cut into ``b`` quantile bins, which splits the feature space
into at most ``b ** p`` cells, ``b`` being the largest integer with
``b ** p <= sample_size / ROWS_PER_CELL`` (at least 2): four bins per feature
for the four default features and 3,000 customers. Every cell then gets its
proportional share of the sample (Cochran, *Sampling Techniques*, 3rd ed.,
1977, chapter 5: proportional allocation), rounded by largest remainder so
the shares add up to exactly ``sample_size``, and its rows are drawn without
replacement. A group of customers occupying its own cells, such as a 5% VIP
group with extreme spend and frequency, therefore makes up its share of the
sample to within one row per cell, rather than whatever a simple random draw
happens to give.

The matrix is expected in canonical row order (see
:func:`analysis.cluster.canonical_order`); the quantiles do not depend on row
order, so neither does the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ROWS_PER_CELL", "Sample", "stratified_sample"]

ROWS_PER_CELL = 10
"""Target average of sampled rows per grid cell; sets the grid's resolution."""


@dataclass(frozen=True)
class Sample:
    """Row indices (ascending) of the sample, and how it was drawn."""

    rows: np.ndarray
    method: str
    bins: int | None
    cells: int | None


def _bins(size: int, p: int) -> int:
    bins = 2
    while (bins + 1) ** p <= size / ROWS_PER_CELL:
        bins += 1
    return bins


def _cell_codes(X: np.ndarray, bins: int) -> np.ndarray:
    """Grid cell of each row: the mixed-radix number of its per-feature quantile bins."""
    codes = np.zeros(X.shape[0], dtype=np.int64)
    inner = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    for col in X.T:
        edges = np.unique(np.quantile(col, inner))
        codes = codes * bins + np.searchsorted(edges, col, side="right")
    return codes


def _allocate(counts: np.ndarray, size: int) -> np.ndarray:
    """Proportional allocation of ``size`` rows over cells of ``counts`` rows, by largest remainder."""
    quota = counts * (size / counts.sum())
    take = np.floor(quota).astype(np.int64)
    short = size - int(take.sum())
    # Largest remainders first; equal remainders go to the earlier cell (stable sort), so the
    # allocation is a function of the counts alone.
    order = np.argsort(-(quota - take), kind="stable")
    take[order[:short]] += 1
    return take


def stratified_sample(X: np.ndarray, size: int, *, rng: np.random.Generator) -> Sample:
    """Draw ``size`` rows of ``X`` stratified over a quantile grid of its columns.

    Parameters
    ----------
    X
        ``n x p`` matrix in canonical row order.
    size
        Rows wanted; when ``n <= size`` every row is kept.
    rng
        Draws the rows within each cell.

    Returns
    -------
    Sample
        ``rows`` ascending; ``method`` is ``"all"`` or ``"stratified"``, with the
        number of bins per feature and of non-empty cells for the latter.
    """
    n, p = X.shape
    if n <= size:
        return Sample(rows=np.arange(n), method="all", bins=None, cells=None)
    bins = _bins(size, p)
    codes = _cell_codes(X, bins)
    cells, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    take = _allocate(counts, size)
    members = np.argsort(inverse, kind="stable")  # rows grouped by cell, canonical order within
    bounds = np.r_[0, np.cumsum(counts)]
    chosen = [
        rng.choice(members[bounds[c] : bounds[c + 1]], int(take[c]), replace=False)
        for c in range(len(cells))
        if take[c]
    ]
    return Sample(rows=np.sort(np.concatenate(chosen)), method="stratified", bins=bins, cells=len(cells))
