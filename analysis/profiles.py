"""Segment labels -> per-segment profiles (sizes, revenue, feature summaries).

One public verb, :func:`profile_segments`. A profile carries, for every numeric
per-customer feature, the segment's mean and median, its z-score against the
whole customer base, and the five-number summary with 1.5 IQR whiskers, so a
renderer can draw boxplots without any customer-level data.

Means and standard deviations are sums over the values sorted ascending, so
the numbers do not depend on the order of the customers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.bundle import BoxStats, FeatureProfile
from analysis.config import FEATURES, ClusterConfig
from analysis.errors import DataError

__all__ = ["SegmentProfile", "profile_segments", "FEATURE_LABELS"]

FEATURE_LABELS = {
    "recency": "days since last purchase",
    "frequency": "number of orders",
    "monetary": "spend",
    "avg_unit_cost": "average unit price",
    "avg_order_value": "order value",
    "tenure": "days since first purchase",
    "distinct_products": "number of distinct products",
    "total_quantity": "units bought",
}
"""Plain words for each feature, used in generated sentences."""


@dataclass(frozen=True)
class SegmentProfile:
    """What one segment looks like.

    Attributes
    ----------
    id
        Segment label (1 = highest mean spend).
    size, share_customers
        Members, and their share of all customers.
    revenue, share_revenue
        Sum of the members' ``monetary``, and its share of the total.
    features
        ``{feature: FeatureProfile}`` (mean, median, z, box) for each profiled feature.
    outlier
        True when the segment holds less than ``min_share`` of customers.
    outlier_feature, outlier_ratio
        For an outlier, the clustering feature that sets it apart most (largest
        |z|) and the segment's mean of it divided by the base mean; else None.
    percentile
        ``{feature: mean percentile rank of the members}``, in (0, 1); 0.5 is
        the base average. Unlike ``z`` it is not squashed by a few extreme
        customers, which is why the naming playbook prefers it.
    """

    id: int
    size: int
    share_customers: float
    revenue: float
    share_revenue: float
    features: dict[str, FeatureProfile]
    outlier: bool
    outlier_feature: str | None
    outlier_ratio: float | None
    percentile: dict[str, float]

    def mean(self, feature: str) -> float:
        """Mean of ``feature`` in this segment."""
        return self.features[feature].mean

    def z(self, feature: str) -> float:
        """z-score of the segment's mean of ``feature`` against the base."""
        return self.features[feature].z

    def pct(self, feature: str) -> float:
        """Mean percentile rank (0..1) of the members' ``feature`` within the base."""
        return self.percentile[feature]


def _r(value: float) -> float:
    """Round to 6 decimals, folding -0.0 into 0.0.

    The per-customer table can differ in the last bit between runs (parallel float sums
    upstream); 6 decimals keeps published numbers byte-stable and is far below what any page
    shows.
    """
    return round(float(value), 6) + 0.0


def _mean(values: np.ndarray) -> float:
    """Mean of values sorted ascending: the sum of a sorted array does not depend on the rows' order.

    numpy's pairwise sum over the sorted values, rather than :func:`math.fsum`, which walks the
    values one Python float at a time (0.12 s per 1.6M values; profiles take dozens of means).
    """
    return float(np.sum(values)) / len(values)


def _std(values: np.ndarray) -> float:
    """Population standard deviation of values sorted ascending."""
    centre = _mean(values)
    return math.sqrt(float(np.sum(np.sort((values - centre) ** 2))) / len(values))


def _box(values: np.ndarray) -> BoxStats:
    q1, median, q3 = (float(q) for q in np.quantile(values, [0.25, 0.5, 0.75]))
    iqr = q3 - q1
    inside = values[(values >= q1 - 1.5 * iqr) & (values <= q3 + 1.5 * iqr)]
    return BoxStats(
        min=_r(values.min()),
        q1=_r(q1),
        median=_r(median),
        q3=_r(q3),
        max=_r(values.max()),
        # As matplotlib's boxplot_stats: a whisker never ends inside the box (interpolated
        # quartiles can lie beyond the last data point within the fence).
        whisker_low=_r(min(float(inside.min()), q1)),
        whisker_high=_r(max(float(inside.max()), q3)),
        mean=_r(_mean(values)),
    )


def _outlier_evidence(
    features: dict[str, FeatureProfile], base: dict[str, float], clustered: tuple[str, ...]
) -> tuple[str | None, float | None]:
    """The clustering feature that sets an outlier segment apart most, and its mean / the base mean."""
    pool = [f for f in clustered if f in features] or list(features)
    usable = [f for f in pool if base[f] > 0 and features[f].mean > 0]
    if not usable:
        return None, None
    top = max(usable, key=lambda f: (abs(features[f].z), -FEATURES.index(f)))
    return top, _r(features[top].mean / base[top])


def profile_segments(
    customers: pd.DataFrame,
    labels,
    *,
    features: tuple[str, ...],
    config: ClusterConfig | None = None,
) -> list[SegmentProfile]:
    """Summarise each segment.

    Parameters
    ----------
    customers
        The per-customer table. ``monetary`` is required; every numeric
        feature in :data:`analysis.config.FEATURES` is profiled when present
        and not missing for every customer (or for a whole segment).
    labels
        One segment label per row of ``customers``.
    features
        The features the clustering used; an outlier's reason cites the most
        extreme of them.
    config
        ``config.min_share``: segments holding a smaller share of customers are
        flagged as outliers (default ``ClusterConfig()``).

    Returns
    -------
    list[SegmentProfile]
        One per label, sorted by label.

    Raises
    ------
    DataError
        ``labels`` does not have one entry per customer, the table is empty, or
        ``monetary`` is missing or not finite.
    """
    labels = np.asarray(labels)
    n = len(customers)
    if n == 0:
        raise DataError("cannot profile segments of an empty customer table.")
    if labels.shape != (n,):
        raise DataError(f"'labels' must hold one label per customer ({n}); got shape {labels.shape!r}.")
    if "monetary" not in customers.columns:
        raise DataError("the customer table needs a 'monetary' column to profile revenue.")
    spend = pd.to_numeric(customers["monetary"]).to_numpy(dtype="float64")
    if not np.isfinite(spend).all():
        raise DataError("'monetary' must be finite for every customer.", column="monetary")

    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise DataError(f"unknown clustering feature(s) {unknown!r}; allowed: {list(FEATURES)!r}.")
    min_share = (config or ClusterConfig()).min_share
    columns: dict[str, np.ndarray] = {}
    for f in FEATURES:
        if f in customers.columns:
            values = pd.to_numeric(customers[f], errors="coerce").to_numpy(dtype="float64")
            if np.isfinite(values).any() and all(np.isfinite(values[labels == s]).any() for s in np.unique(labels)):
                columns[f] = values
    ordered = {f: np.sort(v[np.isfinite(v)]) for f, v in columns.items()}
    base_mean = {f: _mean(v) for f, v in ordered.items()}
    base_std = {f: _std(v) for f, v in ordered.items()}
    total_revenue = float(np.sum(np.sort(spend)))
    # Mid-rank percentiles: ties share their average rank, the base mean is exactly 0.5.
    ranks = {}
    for f, v in columns.items():
        finite = np.isfinite(v)
        r = np.full(n, np.nan)
        r[finite] = (stats.rankdata(v[finite], method="average") - 0.5) / int(finite.sum())
        ranks[f] = r

    profiles = []
    for seg in np.unique(labels):
        members = labels == seg
        size = int(members.sum())
        share = size / n
        feats: dict[str, FeatureProfile] = {}
        for f, values in columns.items():
            v = np.sort(values[members & np.isfinite(values)])
            mean = _mean(v)
            z = (mean - base_mean[f]) / base_std[f] if base_std[f] > 0 else 0.0
            feats[f] = FeatureProfile(mean=_r(mean), median=_r(np.median(v)), z=_r(z), box=_box(v))
        revenue = float(np.sum(np.sort(spend[members])))
        outlier = share < min_share
        evidence = _outlier_evidence(feats, base_mean, tuple(features)) if outlier else (None, None)
        profiles.append(
            SegmentProfile(
                id=int(seg),
                size=size,
                share_customers=_r(share),
                revenue=_r(revenue),
                share_revenue=_r(revenue / total_revenue) if total_revenue else 0.0,
                features=feats,
                outlier=outlier,
                outlier_feature=evidence[0],
                outlier_ratio=evidence[1],
                percentile={f: _mean(np.sort(r[members & np.isfinite(r)])) for f, r in ranks.items()},
            )
        )
    return profiles
