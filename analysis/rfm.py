"""Classic RFM scoring: quintile scores, named segments, and their summary.

Scores are quintiles by rank, so every score 1..5 holds a fifth of the
customers (give or take one). Names come from a rules table kept as data
(``analysis/data/rfm_segments.toml``): rules are read in order, the first rule
whose score ranges all hold names the customer, and an explicit fallback names
anyone no rule matches.

Ranking, ties and determinism
-----------------------------
Each score sorts the customers from "worst" to "best" on a key of several
columns and cuts the sorted list into ``bins`` equal runs (a rank-``first``
quantile cut; the customer at 0-based position ``i`` of ``n`` gets score
``i * bins // n + 1``). The key starts with the score's own value and breaks
ties with the other two values, then with the customer id as text:

============  ==============================================================
score         sort key, worst first
============  ==============================================================
``r_score``   recency descending (oldest purchase first, so the most recent
              get 5), then frequency, then monetary, then customer_id
``f_score``   frequency, then monetary, then recency descending, then
              customer_id
``m_score``   monetary, then frequency, then recency descending, then
              customer_id
============  ==============================================================

Frequency has massive ties (on Online Retail II, 28% of customers have a single
order). A rank cut cannot give identical values different scores
"fairly": the tied block is split across two or more quintiles. Here the split
is decided by spend and then recency, so among one-order customers the bigger,
more recent spenders get F 2 and the rest F 1; only customers equal on all
three values fall back to the id. The order is a total order on
(values, customer_id), so permuting the rows of the input never changes a
score; it never depends on the order rows happen to have in the file.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.bundle import RfmCell, RfmRuleRanges, RfmSection, RfmSegment
from analysis.config import RfmConfig
from analysis.errors import DataError, EmptyDataError
from analysis.rfm_edges import score_keys
from analysis.rfm_rules import MAX_SCORE, RfmRule, RfmRules, all_cells, load_rfm_rules

__all__ = [
    "FM_DEFINITION",
    "RfmRule",
    "RfmRules",
    "load_rfm_rules",
    "score_rfm",
    "summarize_rfm",
    "rfm_mix",
]

FM_DEFINITION = "FM is the mean of the F and M scores rounded down: floor((F + M) / 2)."
_REQUIRED = ("customer_id", "recency", "frequency", "monetary")
_MAX_SCORE = MAX_SCORE
_all_cells = all_cells

# --------------------------------------------------------------------------- scoring


def _check_customers(customers: pd.DataFrame) -> None:
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
    dup = ids.astype(str).duplicated()
    if dup.any():
        raise DataError(
            f"customer_id must be unique; {int(dup.sum())} repeated value(s).",
            column="customer_id",
        )


def _rank_scores(keys: Sequence[np.ndarray], id_rank: np.ndarray, bins: int) -> np.ndarray:
    """Cut customers into ``bins`` equal runs along ``keys`` (primary first, ascending)."""
    n = len(id_rank)
    order = np.lexsort((id_rank, *reversed(keys)))  # lexsort: the LAST key is primary
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n, dtype=np.int64)
    return (position * bins // n + 1).astype(np.int64)


def score_rfm(
    customers: pd.DataFrame,
    *,
    config: RfmConfig,
    rules_path: Path | None = None,
    tiebreak: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score every customer 1..5 on recency, frequency and monetary, and name the segment.

    Parameters
    ----------
    customers
        One row per customer with at least ``customer_id`` (unique),
        ``recency`` (days, lower is more recent), ``frequency`` (distinct
        orders) and ``monetary`` (spend), all finite.
    config
        The ``[rfm]`` section; ``bins`` is the number of rank bins.
    rules_path
        Rules table to name segments with; ``None`` uses the packaged one.
    tiebreak
        Text that orders customers equal on all three values (one per row);
        default the customer id. The pipeline passes the keyed pseudonyms, so
        the saved model's score edges carry no raw id (:mod:`analysis.rfm_edges`).

    Returns
    -------
    pandas.DataFrame
        Same rows, order and index as ``customers``, with columns

        - ``customer_id`` (str)
        - ``r_score``, ``f_score``, ``m_score`` (int, 1..bins; 5 is best, so
          the most recent customers get ``r_score`` 5)
        - ``rfm_cell`` (str, e.g. ``"545"``)
        - ``rfm_segment`` (str, a name from the rules table)

        Scores are rank quintiles with the tie-breaking described in the
        module docstring: independent of row order, deterministic under ties.

    Raises
    ------
    DataError
        When a required column is missing, a value is missing or not finite,
        or a customer_id repeats.
    EmptyDataError
        When there are no rows.
    ConfigError
        When the rules table is invalid.
    """
    _check_customers(customers)
    rules = load_rfm_rules(rules_path)
    ids = customers["customer_id"].astype(str).to_numpy(dtype=object)
    ties = ids if tiebreak is None else np.asarray([str(t) for t in tiebreak], dtype=object)
    if len(ties) != len(ids):
        raise DataError(f"'tiebreak' must hold one value per customer ({len(ids)}); got {len(ties)}.")
    id_rank = np.argsort(np.argsort(ties.astype(str), kind="stable"), kind="stable")
    # "Goodness" keys: ascending = worst first (recency is negated, so the oldest come first).
    keys = score_keys(customers["recency"], customers["frequency"], customers["monetary"])
    bins = config.bins
    r, f, m = (_rank_scores(keys[s], id_rank, bins) for s in ("r", "f", "m"))
    lookup = {cell: rules.segment_for(*cell) for cell in _all_cells()}
    segments = [lookup[cell] for cell in zip(r.tolist(), f.tolist(), m.tolist(), strict=True)]
    cells = [f"{a}{b}{c}" for a, b, c in zip(r.tolist(), f.tolist(), m.tolist(), strict=True)]
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, index=customers.index, dtype=str),
            "r_score": pd.Series(r, index=customers.index),
            "f_score": pd.Series(f, index=customers.index),
            "m_score": pd.Series(m, index=customers.index),
            "rfm_cell": pd.Series(cells, index=customers.index, dtype=str),
            "rfm_segment": pd.Series(segments, index=customers.index, dtype=str),
        },
        index=customers.index,
    )


# --------------------------------------------------------------------------- summaries


def _segment_order(scored: pd.DataFrame, rules: RfmRules) -> list[str]:
    """Table-order names; the fallback only when someone is in it."""
    present = set(scored["rfm_segment"].astype(str))
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
    counts = Counter(zip(lab.tolist(), scored["rfm_segment"].astype(str).tolist(), strict=True))
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
    _check_customers(customers)
    names = _segment_order(scored, rules)
    lab = _labels(labels, len(customers))

    ids = customers["customer_id"].astype(str)
    by_id = scored.assign(customer_id=scored["customer_id"].astype(str)).set_index("customer_id")
    if len(by_id) != len(ids) or not by_id.index.is_unique or set(by_id.index) != set(ids):
        raise DataError(
            "scored and customers tables must hold the same customers, once each; "
            f"got {len(by_id)} scored rows for {len(ids)} customers."
        )
    aligned = by_id.loc[ids.to_numpy()]
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

    rank = {name: i for i, name in enumerate(rules.names)}
    r_scores = aligned["r_score"].to_numpy(dtype=np.int64).tolist()
    f_scores = aligned["f_score"].to_numpy(dtype=np.int64).tolist()
    by_cell: dict[tuple[int, int], Counter[str]] = {}
    for r, f, s in zip(r_scores, f_scores, seg.tolist(), strict=True):
        by_cell.setdefault((r, f), Counter())[s] += 1
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

    mix = Counter(zip(seg.tolist(), lab.tolist(), strict=True))
    clusters = sorted(set(lab.tolist()))
    crosstab = {name: {str(c): mix.get((name, c), 0) for c in clusters} for name in names}
    return RfmSection(segments=segments, grid=grid, crosstab=crosstab)
