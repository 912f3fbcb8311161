"""RFM scores as boundary keys: score customers the training run never saw exactly as it would have.

:func:`analysis.rfm.score_rfm` cuts the customers, sorted worst to best on a
key of several columns, into ``bins`` equal runs. The customer at 0-based
position ``p`` of ``n`` gets ``p * bins // n + 1``. The first position of score
``s`` is ``ceil((s - 1) * n / bins)``; the key of the customer there is the
score's *edge*. A customer whose key is lexicographically at or above ``e``
edges scores ``1 + e``. On the training customers this reproduces the rank
scores exactly (keys are unique because the last component, the tie-break
text, is); on new customers it places them among the training customers.

Keys, worst first (see :mod:`analysis.rfm`): R is (-recency, frequency,
monetary, tiebreak), F is (frequency, monetary, -recency, tiebreak), M is
(monetary, frequency, -recency, tiebreak).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["KEY_ORDER", "score_keys", "score_orders", "fit_edges", "score_with_edges", "text_rank"]

KEY_ORDER = {
    "r": ("fresh", "frequency", "monetary"),
    "f": ("frequency", "monetary", "fresh"),
    "m": ("monetary", "frequency", "fresh"),
}


def text_rank(texts: Sequence[str]) -> np.ndarray:
    """0-based rank of each text in code-point order, equal texts in input order (a stable sort)."""
    return np.argsort(np.argsort(np.asarray(texts, dtype=object).astype(str), kind="stable"), kind="stable")


def score_keys(recency, frequency, monetary) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The numeric part of each score's sort key (ascending = worst first)."""
    cols = {
        "fresh": -np.asarray(recency, dtype=float),
        "frequency": np.asarray(frequency, dtype=float),
        "monetary": np.asarray(monetary, dtype=float),
    }
    return {score: tuple(cols[c] for c in order) for score, order in KEY_ORDER.items()}


def score_orders(recency, frequency, monetary, tiebreak: Sequence[str]) -> dict[str, np.ndarray]:
    """Row indices in ascending order of each score's whole key: its numeric part, then the tiebreak text.

    Scoring (:func:`analysis.rfm.score_rfm`) and fitting the edges sort the
    customers the same way; at 1.6M customers each set of sorts takes about two
    seconds, so the pipeline makes them once and hands them to both.
    """
    tie_rank = text_rank(np.asarray([str(t) for t in tiebreak], dtype=object))
    keys = score_keys(recency, frequency, monetary)
    return {score: np.lexsort((tie_rank, c, b, a)) for score, (a, b, c) in keys.items()}


def fit_edges(
    recency, frequency, monetary, tiebreak: Sequence[str], *, bins: int, orders: dict[str, np.ndarray] | None = None
) -> dict[str, list[tuple[float, float, float, str]]]:
    """The ``bins - 1`` edge keys of each score on these customers (ascending).

    ``orders``: :func:`score_orders` of the same customers and tiebreak, when already made.
    """
    text = np.asarray([str(t) for t in tiebreak], dtype=object)
    n = len(text)
    if n < bins:
        raise ValueError(f"fitting RFM edges needs at least {bins} customers; got {n}")
    orders = orders if orders is not None else score_orders(recency, frequency, monetary, text)
    edges = {}
    for score, (a, b, c) in score_keys(recency, frequency, monetary).items():
        order = orders[score]
        starts = [math.ceil((s - 1) * n / bins) for s in range(2, bins + 1)]
        edges[score] = [
            (float(a[order[p]]), float(b[order[p]]), float(c[order[p]]), str(text[order[p]])) for p in starts
        ]
    return edges


def _at_or_above(key: tuple[np.ndarray, ...], tie: np.ndarray, edge: tuple[float, float, float, str]) -> np.ndarray:
    a, b, c = key
    ea, eb, ec, et = edge
    return (a > ea) | ((a == ea) & ((b > eb) | ((b == eb) & ((c > ec) | ((c == ec) & (tie >= et))))))


def score_with_edges(
    recency, frequency, monetary, tiebreak: Sequence[str], edges: dict[str, list[tuple[float, float, float, str]]]
) -> dict[str, np.ndarray]:
    """Scores ``{"r", "f", "m"}`` (int64 arrays, 1..bins) of customers against fitted edges."""
    tie = np.asarray([str(t) for t in tiebreak], dtype=object)
    keys = score_keys(recency, frequency, monetary)
    out = {}
    for score, key in keys.items():
        count = np.ones(len(tie), dtype=np.int64)
        for edge in edges[score]:
            count += _at_or_above(key, tie, tuple(edge)).astype(np.int64)
        out[score] = count
    return out
