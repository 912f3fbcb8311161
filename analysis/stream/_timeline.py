"""When would a customer's segment or RFM cell change if they bought nothing more? And an index of those days.

While a customer does nothing, only recency moves (one day a day), so only
one coordinate of their point in the scaled feature space moves, and it moves
monotonically (clip, log1p and scaling are all non-decreasing).

- **Nearest centroid.** Between the current segment ``w`` and another ``k``
  the difference of squared distances is linear in that coordinate ``x``:
  ``d_w - d_k = 2 (c_k - c_w) x + (c_w² - c_k² + S_w - S_k)`` (``S`` the
  squared distance over the other coordinates). ``k`` can overtake ``w`` only
  where ``c_k > c_w`` on that axis, at ``x* = -b / a``; the first such ``x*``
  over ``k`` is the next change.
- **Gaussian mixture.** Each log-posterior is quadratic in ``x``; the first
  positive root of the difference with the current segment is a candidate.
- ``x*`` is mapped back to recency through the inverse transform
  (``scale``, ``center``, ``expm1``); beyond an upper clip bound nothing moves.
- **RFM.** A score is 1 + the edges a customer's key reaches; as recency
  grows a reached edge is lost at an exact whole recency (R always; F and M
  only for customers tied with the edge on frequency and spend).

The change happens at the first whole recency at or past the crossing; the
crossing is lowered by a margin far above the rounding error (and far below
a day) first, so a change is never scheduled late (a customer re-scored
early only gets the next day computed). The day is at least the day after
the as-of date. A model with ``tenure`` as a feature (two coordinates
moving) is re-scored every day.

:class:`Calendar` indexes customers by that day, so a tick re-scores only the
customers whose day has come.
"""

from __future__ import annotations

import heapq

import numpy as np

from analysis.assign import transform_of
from analysis.model import SegmentModel
from analysis.rfm_edges import score_keys
from analysis.stream._aggregates import NEVER

__all__ = ["next_change", "Calendar"]


def _scores(X: np.ndarray, model: SegmentModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment: the score at ``X``, its slope and half its curvature along the recency axis ``j``.

    Scores are what :func:`analysis.segmentation.assign_to_clusters` maximises
    (minus squared distance; or the log-posterior up to a shared constant).
    """
    j = transform_of(model).columns.index("recency")
    C = np.asarray(model.clusters.centroids, dtype="float64")
    n, k = len(X), len(C)
    score, slope, curve = np.empty((n, k)), np.empty((n, k)), np.empty((n, k))
    if model.clusters.rule == "nearest_centroid":
        for m, c in enumerate(C):
            v = X - c
            score[:, m] = -np.einsum("ij,ij->i", v, v)
            slope[:, m] = -2.0 * v[:, j]
            curve[:, m] = -1.0
        return score, slope, curve
    for m, (c, cov, w) in enumerate(zip(C, model.clusters.covariances, model.clusters.weights, strict=True)):
        P = np.linalg.inv(np.asarray(cov, dtype="float64"))
        v = X - c
        Pv = v @ P
        log_det = np.linalg.slogdet(np.asarray(cov, dtype="float64"))[1]
        score[:, m] = np.log(w) - 0.5 * (np.einsum("ij,ij->i", v, Pv) + log_det)
        slope[:, m] = -Pv[:, j]
        curve[:, m] = -0.5 * P[j, j]
    return score, slope, curve


def _first_crossing(c: np.ndarray, b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Smallest ``t >= 0`` with ``a t² + b t + c >= 0`` given ``c <= 0`` (elementwise); inf when none."""
    out = np.full(c.shape, np.inf)
    now = c >= 0
    out[now] = 0.0
    flat = ~now & (np.abs(a) <= 1e-12 * (1.0 + np.abs(b)))
    lin = flat & (b > 0)
    out[lin] = -c[lin] / b[lin]
    quad = ~now & ~flat
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = b * b - 4.0 * a * c
        ok = quad & (disc >= 0)
        root = np.sqrt(np.where(ok, disc, 0.0))
        r1 = (-b - root) / (2.0 * a)
        r2 = (-b + root) / (2.0 * a)
    lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
    first = np.where(lo >= 0, lo, np.where(hi >= 0, hi, np.inf))
    out[ok] = first[ok]
    return out


def _segment_recency(model: SegmentModel, raw: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Recency (days, float) at which the segment may change; inf when it never does by time alone."""
    transform = transform_of(model)
    j = transform.columns.index("recency")
    X = transform.apply(raw)
    score, slope, curve = _scores(X, model)
    rows = np.arange(len(X))
    gap = score - score[rows, winner][:, None]  # <= 0: nobody beats the winner now
    dslope = slope - slope[rows, winner][:, None]
    dcurve = curve - curve[rows, winner][:, None]
    gap[rows, winner] = -np.inf  # the winner never overtakes itself
    step = _first_crossing(np.minimum(gap, 0.0), dslope, dcurve).min(axis=1)
    x = X[:, j] + step
    u = x * transform.scale[j] + transform.center[j]
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.expm1(u) if transform.log1p[j] else u
    if transform.bounds is not None and np.isfinite(transform.bounds[j][1]):
        # Past the upper clip bound the coordinate stops moving: a crossing beyond it is never reached.
        x_cap = transform.apply(np.where(np.arange(raw.shape[1]) == j, transform.bounds[j][1], raw))[:, j]
        r = np.where(x > x_cap, np.inf, r)
    return np.where(np.isfinite(step), r, np.inf)


def _at_or_above(key, tie: np.ndarray, edge) -> np.ndarray:
    """The comparison of :mod:`analysis.rfm_edges`: lexicographic on (key..., tiebreak text).

    The text comparison (slow, on Python strings) is made only where every
    numeric part ties with the edge.
    """
    a, b, c = key
    ea, eb, ec, et = edge
    out = (a > ea) | ((a == ea) & ((b > eb) | ((b == eb) & (c > ec))))
    ties = np.flatnonzero((a == ea) & (b == eb) & (c == ec))
    if len(ties):
        out[ties] = tie[ties] >= et
    return out


def _rfm_recency(recency, frequency, monetary, tie: np.ndarray, edges) -> np.ndarray:
    """Recency (whole days) at which a reached RFM edge is first lost; inf when none is."""
    keys = score_keys(recency, frequency, monetary)
    out = np.full(len(tie), np.inf)
    zeros = np.zeros(len(tie))
    for edge in edges["r"]:
        ea, eb, ec, et = edge
        reached = _at_or_above(keys["r"], tie, edge)
        rest = _at_or_above((keys["r"][1], keys["r"][2], zeros), tie, (eb, ec, 0.0, et))
        lost = np.where(rest, -ea + 1.0, -ea)
        out = np.where(reached, np.minimum(out, lost), out)
    for score in ("f", "m"):
        for edge in edges[score]:
            e1, e2, e3, et = edge
            key = keys[score]
            tied = np.flatnonzero((key[0] == e1) & (key[1] == e2))
            if not len(tied):
                continue
            reached = _at_or_above(tuple(k[tied] for k in key), tie[tied], edge)
            lost = np.where(tie[tied] >= et, -e3 + 1.0, -e3)
            out[tied] = np.where(reached, np.minimum(out[tied], lost), out[tied])
    return out


def next_change(
    model: SegmentModel,
    frame,
    *,
    segments: np.ndarray,
    pseudonyms: list[str],
    last_day: np.ndarray,
    as_of: int,
) -> np.ndarray:
    """The day (days since 1970-01-01) at which each customer must be re-scored if they buy nothing.

    Parameters
    ----------
    model
        The model that assigned ``segments``.
    frame
        Their customer table as of ``as_of`` (:meth:`Customers.frame`).
    segments
        Their current segment ids.
    pseudonyms
        Their pseudonyms (the RFM tie-break).
    last_day
        Day of their last purchase.
    as_of
        The as-of day the table was computed for.

    Returns
    -------
    numpy.ndarray
        int64 days, each at least ``as_of + 1``; :data:`NEVER` when nothing changes by time alone.
    """
    n = len(segments)
    if n == 0:
        return np.zeros(0, np.int64)
    columns = transform_of(model).columns
    if "tenure" in columns:
        seg = np.zeros(n)  # two coordinates move: re-score daily
    elif "recency" in columns:
        ids = np.asarray(model.clusters.segment_ids)
        winner = np.searchsorted(ids, segments) if np.all(np.diff(ids) > 0) else _index_of(ids, segments)
        seg = _segment_recency(model, frame[list(columns)].to_numpy(dtype="float64"), winner)
    else:
        seg = np.full(n, np.inf)
    tie = np.asarray(pseudonyms, dtype=object)
    rfm = _rfm_recency(frame["recency"], frame["frequency"], frame["monetary"], tie, model.rfm.edges)
    with np.errstate(invalid="ignore"):
        # The first whole recency at or past the crossing; the margin (far above the rounding error, far
        # below a day) makes a crossing computed a hair past a whole day land on that day, never the next.
        first = np.minimum(seg, rfm)
        recency = np.ceil(first - 1e-6 * np.maximum(1.0, np.abs(first)))
    day = np.where(np.isfinite(recency), last_day + np.nan_to_num(recency, posinf=0.0), NEVER)
    return np.where(np.isfinite(recency), np.maximum(day, as_of + 1), NEVER).astype(np.int64)


def _index_of(ids: np.ndarray, segments: np.ndarray) -> np.ndarray:
    where = {int(s): i for i, s in enumerate(ids)}
    return np.fromiter((where[int(s)] for s in segments), np.int64, len(segments))


class Calendar:
    """Customers by the day they must be re-scored; stale entries are dropped when their day comes."""

    def __init__(self) -> None:
        self._days: list[int] = []
        self._slots: dict[int, list[np.ndarray]] = {}
        self._filed = 0

    def rebuild(self, next_day: np.ndarray) -> None:
        """Index every customer afresh from their next-change days (at start-up, and to drop stale entries)."""
        self._days, self._slots, self._filed = [], {}, 0
        self.schedule(np.arange(len(next_day), dtype=np.int64), next_day)

    def schedule(self, slots: np.ndarray, days: np.ndarray, *, next_day: np.ndarray | None = None) -> None:
        """File ``slots`` under ``days`` (the customers' new next-change days; NEVER is not filed).

        With ``next_day`` (every customer's current day), an index holding many
        stale entries (customers re-filed since) is rebuilt from it.
        """
        if next_day is not None and self._filed > 2 * len(next_day) + 100_000:
            self.rebuild(next_day)
            return
        keep = days < NEVER
        slots, days = slots[keep], days[keep]
        if not len(slots):
            return
        order = np.argsort(days, kind="stable")
        slots, days = slots[order], days[order]
        uniq, start = np.unique(days, return_index=True)
        for day, group in zip(uniq.tolist(), np.split(slots, start[1:]), strict=True):
            if day not in self._slots:
                self._slots[day] = []
                heapq.heappush(self._days, day)
            self._slots[day].append(group)
        self._filed += len(slots)

    def due(self, as_of: int, next_day: np.ndarray) -> np.ndarray:
        """Slots whose next-change day is at or before ``as_of`` (each once), removed from the index."""
        found = []
        while self._days and self._days[0] <= as_of:
            day = heapq.heappop(self._days)
            group = np.concatenate(self._slots.pop(day))
            self._filed -= len(group)
            found.append(group[next_day[group] == day])  # a customer re-filed since then is stale here
        if not found:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate(found))
