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

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import RfmConfig
from analysis.errors import DataError
from analysis.rfm_edges import score_orders
from analysis.rfm_rules import RfmRule, RfmRules, load_rfm_rules
from analysis.rfm_summary import check_customers, rfm_mix, summarize_rfm

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

# --------------------------------------------------------------------------- scoring


def _rank_scores(order: np.ndarray, bins: int) -> np.ndarray:
    """Cut customers into ``bins`` equal runs along ``order`` (row indices, worst first)."""
    n = len(order)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n, dtype=np.int64)
    return (position * bins // n + 1).astype(np.int64)


def score_rfm(
    customers: pd.DataFrame,
    *,
    config: RfmConfig,
    rules_path: Path | None = None,
    tiebreak: Sequence[str] | None = None,
    orders: dict[str, np.ndarray] | None = None,
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
    orders
        :func:`analysis.rfm_edges.score_orders` of the same customers and
        tiebreak, when the caller has made them (the pipeline shares them with
        the edge fit); made here otherwise.

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
    check_customers(customers)
    rules = load_rfm_rules(rules_path)
    ids = customers["customer_id"].astype(str).to_numpy(dtype=object)
    ties = ids if tiebreak is None else tiebreak
    if len(ties) != len(ids):
        raise DataError(f"'tiebreak' must hold one value per customer ({len(ids)}); got {len(ties)}.")
    # "Goodness" keys: ascending = worst first (recency is negated, so the oldest come first).
    if orders is None:
        orders = score_orders(customers["recency"], customers["frequency"], customers["monetary"], ties)
    bins = config.bins
    r, f, m = (_rank_scores(orders[s], bins) for s in ("r", "f", "m"))
    # Each of the bins**3 cells named once, then looked up by the cell's index.
    code = ((r - 1) * bins + (f - 1)) * bins + (m - 1)
    every = [(a, b, c) for a in range(1, bins + 1) for b in range(1, bins + 1) for c in range(1, bins + 1)]
    segments = np.asarray([rules.segment_for(*cell) for cell in every], dtype=object)[code]
    cells = np.asarray([f"{a}{b}{c}" for a, b, c in every], dtype=object)[code]
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
