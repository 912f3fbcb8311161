"""Summaries of classic RFM scores: the segment table, the R x F grid and the cross-tab with the clusters.

The scores come from :func:`analysis.rfm.score_rfm`. Sums use
:func:`math.fsum` and counts are taken over the distinct values, so no
summary depends on the order of the rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._align import ids_unique, same_ids
from analysis.bundle import RfmCell, RfmRuleRanges, RfmSection, RfmSegment
from analysis.errors import DataError, EmptyDataError
from analysis.rfm_rules import MAX_SCORE, RfmRules, load_rfm_rules

__all__ = ["check_customers", "rfm_mix", "summarize_rfm"]

_REQUIRED = ("customer_id", "recency", "frequency", "monetary")
_MAX_SCORE = MAX_SCORE


def check_customers(customers: pd.DataFrame) -> None:
    """Raise unless ``customers`` has the RFM columns, at least one row, finite values and unique ids."""
    missing = [c for c in _REQUIRED if c not in customers.columns]
    if missing:
        raise DataError(
            f"customers table lacks column(s) {missing!r}; required: {list(_REQUIRED)!r}.",
            value=list(customers.columns),
        )
    if len(customers) == 0:
        raise EmptyDataError("customers table has no rows; RFM scoring needs at least one.")
    bad = []
    for col in ("recency", "frequency", "monetary"):
        values = pd.to_numeric(customers[col], errors="coerce")
        if values.isna().any() or not np.isfinite(values.to_numpy(dtype=float)).all():
            bad.append(col)
    if bad:
        raise DataError(
            f"column(s) {bad!r} hold missing, non-numeric or infinite values; "
            "RFM scoring needs a finite number for every customer."
        )
    ids = customers["customer_id"]
    if ids.isna().any():
        raise DataError("customers table has a missing customer_id.", column="customer_id")
    if not ids_unique(ids):
        dup = ids.astype(str).duplicated()
        raise DataError(
            f"customer_id must be unique; {int(dup.sum())} repeated value(s).",
            column="customer_id",
        )


def _segment_order(scored: pd.DataFrame, rules: RfmRules) -> list[str]:
    """Table-order names; the fallback only when someone is in it."""
    present = {str(name) for name in pd.unique(scored["rfm_segment"].to_numpy())}
    unknown = sorted(present - set(rules.names))
    if unknown:
        raise DataError(
            f"scored table names segment(s) {unknown!r} absent from the rules table "
            f"(allowed: {rules.names!r}); pass the rules_path the scores were made with.",
            column="rfm_segment",
        )
    names = [rule.name for rule in rules.segment]
    if rules.fallback.name in present:
        names.append(rules.fallback.name)
    return names


def _labels(labels: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) != n:
        raise DataError(
            f"cluster labels must be a 1-D array with one label per customer ({n}).",
            value=arr.shape,
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise DataError("cluster labels must be integers.", value=str(arr.dtype))
    return arr.astype(np.int64)


def rfm_mix(
    scored: pd.DataFrame,
    labels: np.ndarray | Sequence[int],
    *,
    rules_path: Path | None = None,
) -> dict[int, dict[str, int]]:
    """Count the classic RFM segments inside each cluster.

    Parameters
    ----------
    scored
        Output of :func:`score_rfm`.
    labels
        Cluster id of each row of ``scored`` (same order), integers.
    rules_path
        The rules table the scores were named with; ``None`` is the packaged one.

    Returns
    -------
    dict[int, dict[str, int]]
        ``{cluster id: {rfm segment: customers}}``, cluster ids ascending, every
        segment of the table in table order with zeros included (the fallback
        only when someone is in it). Each inner dict sums to the cluster size.
    """
    rules = load_rfm_rules(rules_path)
    names = _segment_order(scored, rules)
    lab = _labels(labels, len(scored))
    counts = _count_pairs(lab, scored["rfm_segment"].astype(str).to_numpy())
    return {int(c): {name: counts.get((int(c), name), 0) for name in names} for c in sorted(set(lab.tolist()))}


def _ranges(rules: RfmRules, name: str) -> RfmRuleRanges:
    rule = next(r for r in rules.segment if r.name == name)
    return RfmRuleRanges(r=rule.r, f=rule.f, m=rule.m, fm=rule.fm)


def _mean(values: np.ndarray) -> float | None:
    return math.fsum(values.tolist()) / len(values) if len(values) else None


def summarize_rfm(
    scored: pd.DataFrame,
    customers: pd.DataFrame,
    labels: np.ndarray | Sequence[int],
    *,
    rules_path: Path | None = None,
) -> RfmSection:
    """Build the bundle's RFM section: segment table, R x F grid and cluster cross-tab.

    Parameters
    ----------
    scored
        Output of :func:`score_rfm` for ``customers``.
    customers
        The table that was scored (``customer_id``, ``recency``,
        ``frequency``, ``monetary``); rows are matched to ``scored`` by
        customer_id, so their order may differ.
    labels
        Cluster id of each row of ``customers`` (same order), integers.
    rules_path
        The rules table the scores were named with; ``None`` is the packaged one.

    Returns
    -------
    RfmSection
        - ``segments``: one entry per table segment in table order (zeros
          included; the fallback only when used) with size, share of
          customers, revenue (sum of ``monetary``), share of revenue, the mean
          recency / frequency / monetary (``None`` when empty) and the rule in
          words. Sums use :func:`math.fsum`, so they do not depend on row order.
        - ``grid``: the 25 (R, F) cells, R then F ascending, with the number of
          customers and the most common segment there (ties go to the segment
          earlier in the table). An empty cell shows the segment the rules give
          most often over the five M scores (same tie-break), so a coloured
          grid has no holes.
        - ``crosstab``: ``{rfm segment: {str(cluster id): customers}}``, segments
          in table order, every cluster id present (ascending), zeros included.

    Raises
    ------
    DataError
        When ``scored`` and ``customers`` hold different customers, labels do
        not align, or a segment is absent from the rules table.
    """
    rules = load_rfm_rules(rules_path)
    check_customers(customers)
    names = _segment_order(scored, rules)
    lab = _labels(labels, len(customers))

    aligned = _aligned(scored, customers["customer_id"].astype(str))
    seg = aligned["rfm_segment"].astype(str).to_numpy()
    recency = customers["recency"].to_numpy(dtype=float)
    frequency = customers["frequency"].to_numpy(dtype=float)
    monetary = customers["monetary"].to_numpy(dtype=float)
    n = len(customers)
    total_revenue = math.fsum(monetary.tolist())

    segments = []
    for name in names:
        mask = seg == name
        size = int(mask.sum())
        revenue = math.fsum(monetary[mask].tolist())
        segments.append(
            RfmSegment(
                name=name,
                description=(
                    rules.fallback.description
                    if name == rules.fallback.name
                    else next(r.description for r in rules.segment if r.name == name)
                ),
                rule=None if name == rules.fallback.name else _ranges(rules, name),
                shadowed=rules.is_shadowed(name),
                size=size,
                share_customers=size / n,
                revenue=revenue,
                share_revenue=revenue / total_revenue if total_revenue else 0.0,
                mean_recency=_mean(recency[mask]),
                mean_frequency=_mean(frequency[mask]),
                mean_monetary=_mean(monetary[mask]),
            )
        )

    grid = _grid(aligned, seg, rules)
    mix = _count_pairs(seg, lab)
    clusters = sorted(int(c) for c in np.unique(lab))
    crosstab = {name: {str(c): mix.get((name, c), 0) for c in clusters} for name in names}
    return RfmSection(segments=segments, grid=grid, crosstab=crosstab)


def _aligned(scored: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """``scored`` in the row order of ``ids``; an error unless both hold the same customers once each."""
    scored_ids = scored["customer_id"].astype(str)
    if same_ids(scored_ids, ids) and ids_unique(ids):
        return scored.reset_index(drop=True)  # the pipeline's case: already in the same order
    by_id = scored.assign(customer_id=scored_ids).set_index("customer_id")
    if len(by_id) != len(ids) or not by_id.index.is_unique or set(by_id.index) != set(ids):
        raise DataError(
            "scored and customers tables must hold the same customers, once each; "
            f"got {len(by_id)} scored rows for {len(ids)} customers."
        )
    return by_id.loc[ids.to_numpy()]


def _count_pairs(first: np.ndarray, second: np.ndarray) -> Counter:
    """``Counter`` of the (first, second) pairs, counted over the distinct values rather than every row."""
    a_codes, a_values = pd.factorize(first)
    b_codes, b_values = pd.factorize(second)
    counts = np.bincount(a_codes * len(b_values) + b_codes, minlength=len(a_values) * len(b_values))
    return Counter(
        {
            (_plain(a_values[i // len(b_values)]), _plain(b_values[i % len(b_values)])): int(n)
            for i, n in enumerate(counts.tolist())
            if n
        }
    )


def _plain(value):
    """A numpy scalar as the Python value it holds (str and int stay as they are)."""
    return value.item() if isinstance(value, np.generic) else value


def _grid(aligned: pd.DataFrame, seg: np.ndarray, rules: RfmRules) -> list[RfmCell]:
    """The (R, F) cells with their customers and most common segment (ties: earlier in the table)."""
    rank = {name: i for i, name in enumerate(rules.names)}
    cell = aligned["r_score"].to_numpy(dtype=np.int64) * 10 + aligned["f_score"].to_numpy(dtype=np.int64)
    by_pair = _count_pairs(cell, seg)
    by_cell: dict[tuple[int, int], Counter[str]] = {}
    for (code, name), n in by_pair.items():
        by_cell.setdefault(divmod(int(code), 10), Counter())[name] = n
    grid = []
    for r in range(1, _MAX_SCORE + 1):
        for f in range(1, _MAX_SCORE + 1):
            counts = by_cell.get((r, f))
            if counts is None:
                counts = Counter(rules.segment_for(r, f, m) for m in range(1, _MAX_SCORE + 1))
                size = 0
            else:
                size = sum(counts.values())
            top = min(counts, key=lambda s: (-counts[s], rank[s]))
            grid.append(RfmCell(r=r, f=f, customers=size, segment=top))
    return grid
