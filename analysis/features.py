"""Per-customer table -> the numeric matrix the clustering sees.

One public verb, :func:`build_features`. Each configured column is optionally
clipped to quantiles (winsorized), log1p-transformed when skewed, then scaled.

Missing values
--------------
A feature that is missing for *every* customer (``avg_unit_cost`` and
``total_quantity`` when the file has no quantity column, ``distinct_products``
when it has no product column) is dropped, and the reason is kept in
:attr:`FeatureMatrix.dropped`, because the input simply does not carry it. A
feature missing for only *some* customers means the customer table is broken,
so that raises :class:`~analysis.errors.DataError`; so does keeping fewer than
two features.

Row order
---------
Every statistic (skewness, quantiles, scaler centre and scale) is computed on
column-wise sorted values, so permuting the customers permutes the rows of the
matrix and changes no value, not even in the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.preprocessing import RobustScaler, StandardScaler

from analysis.cluster import canonical_order
from analysis.config import FeaturesConfig
from analysis.errors import DataError

__all__ = ["FeatureMatrix", "FeatureTransform", "build_features"]


@dataclass(frozen=True)
class FeatureTransform:
    """Everything needed to turn raw per-customer features into the clustering's scaled space.

    Applied in this order to each column: clip to ``bounds`` (winsorising; ``None``
    when not configured), ``log1p`` where flagged, then ``(x - center) / scale``.
    Saved in ``model.json`` so new customers are transformed exactly as the
    training customers were.
    """

    columns: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...] | None
    log1p: tuple[bool, ...]
    scaler: str
    center: tuple[float, ...]
    scale: tuple[float, ...]

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Transform an ``n x p`` matrix of raw features (columns in :attr:`columns` order)."""
        values = np.array(raw, dtype="float64", copy=True)
        if values.ndim != 2 or values.shape[1] != len(self.columns):
            raise DataError(
                f"the feature matrix must have {len(self.columns)} columns {list(self.columns)!r}; "
                f"got shape {values.shape!r}."
            )
        if self.bounds is not None:
            lo, hi = np.asarray(self.bounds, dtype="float64").T
            values = np.clip(values, lo, hi)
        for j, flag in enumerate(self.log1p):
            if flag:
                values[:, j] = np.log1p(values[:, j])
        # The same two in-place operations as scikit-learn's scalers, so the result is bit-identical.
        values -= np.asarray(self.center, dtype="float64")
        values /= np.asarray(self.scale, dtype="float64")
        return np.ascontiguousarray(values)


@dataclass(frozen=True)
class FeatureMatrix:
    """The clustering input and how it was made.

    Attributes
    ----------
    values
        ``n x p`` float64 matrix, one row per customer in the input order.
    columns
        The ``p`` feature names, in column order.
    log1p
        The features that were log1p-transformed.
    skewness
        Sample skewness of each kept raw feature (before any transform).
    scaler
        ``"standard"`` or ``"robust"``.
    winsorize
        The ``(lower, upper)`` clipping quantiles, or ``None``.
    dropped
        ``{feature: reason}`` for configured features left out.
    transform
        The fitted transform (bounds, log1p flags, scaler centre and scale).
    """

    values: np.ndarray
    columns: tuple[str, ...]
    log1p: tuple[str, ...]
    skewness: dict[str, float]
    scaler: str
    winsorize: tuple[float, float] | None
    transform: FeatureTransform
    dropped: dict[str, str] = field(default_factory=dict)

    @cached_property
    def canonical_order(self) -> np.ndarray:
        """Row indices sorting ``values`` by value (:func:`analysis.cluster.canonical_order`), made once."""
        return canonical_order(self.values)


def _kept_columns(customers: pd.DataFrame, wanted: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    missing = [c for c in wanted if c not in customers.columns]
    if missing:
        raise DataError(f"the customer table lacks feature column(s) {missing!r}; it has {list(customers.columns)!r}.")
    kept: list[str] = []
    dropped: dict[str, str] = {}
    partial: list[str] = []
    for col in wanted:
        values = pd.to_numeric(customers[col], errors="coerce").to_numpy(dtype="float64")
        finite = np.isfinite(values)
        if not finite.any():
            dropped[col] = "missing for every customer (the input has no column to derive it from)"
        elif not finite.all():
            partial.append(f"{col} ({int((~finite).sum())} of {len(values)} rows)")
        else:
            kept.append(col)
    if partial:
        raise DataError(
            "features must be finite for every customer or missing for all of them; "
            f"partly missing or infinite: {', '.join(partial)}."
        )
    if len(kept) < 2:
        raise DataError(
            f"clustering needs at least two usable features; usable: {kept!r}, dropped: {sorted(dropped)!r}."
        )
    return kept, dropped


def _skewness(sorted_col: np.ndarray) -> float:
    if sorted_col[0] == sorted_col[-1]:
        return 0.0
    return float(stats.skew(sorted_col, bias=False))


def build_features(customers: pd.DataFrame, *, config: FeaturesConfig) -> FeatureMatrix:
    """Build the scaled feature matrix from the per-customer table.

    Parameters
    ----------
    customers
        One row per customer with at least the columns in ``config.columns``.
    config
        Which features, the log1p rule (``"auto"``: raw skewness above
        ``skew_threshold``; or an explicit list), optional winsorizing quantiles
        and the scaler.

    Returns
    -------
    FeatureMatrix
        ``values`` has one row per customer (input order) and one column per
        kept feature.

    Raises
    ------
    DataError
        A configured column is absent, partly missing, fewer than two features
        remain, the table is empty, or an explicitly listed log1p feature has
        values at or below -1.
    """
    if len(customers) == 0:
        raise DataError("the customer table is empty; clustering needs at least one customer.")
    kept, dropped = _kept_columns(customers, config.columns)
    if config.log1p != "auto":
        unknown = [c for c in config.log1p if c not in config.columns]
        if unknown:
            raise DataError(
                f"log1p lists feature(s) {unknown!r} that are not clustered; allowed: {list(config.columns)!r}."
            )
    raw = customers[kept].apply(pd.to_numeric).to_numpy(dtype="float64", copy=True)
    sorted_raw = np.sort(raw, axis=0)
    skewness = {c: _skewness(sorted_raw[:, j]) for j, c in enumerate(kept)}

    bounds = None
    clipped = raw
    if config.winsorize is not None:
        lo, hi = config.winsorize
        edges = np.quantile(sorted_raw, [lo, hi], axis=0)
        bounds = tuple((float(a), float(b)) for a, b in zip(edges[0], edges[1], strict=True))
        clipped = np.clip(raw, edges[0], edges[1])

    flags = tuple(_wants_log1p(col, j, sorted_raw, skewness, config) for j, col in enumerate(kept))
    logged = clipped.copy()
    for j, flag in enumerate(flags):
        if flag:
            logged[:, j] = np.log1p(logged[:, j])
    scaler = StandardScaler() if config.scaler == "standard" else RobustScaler()
    # Fitting on column-wise sorted values makes centre and scale independent of row order.
    scaler.fit(np.sort(logged, axis=0))
    center = scaler.mean_ if config.scaler == "standard" else scaler.center_
    transform = FeatureTransform(
        columns=tuple(kept),
        bounds=bounds,
        log1p=flags,
        scaler=config.scaler,
        center=tuple(float(v) for v in center),
        scale=tuple(float(v) for v in scaler.scale_),
    )
    return FeatureMatrix(
        values=transform.apply(raw),
        columns=tuple(kept),
        log1p=tuple(c for c, flag in zip(kept, flags, strict=True) if flag),
        skewness=skewness,
        scaler=config.scaler,
        winsorize=config.winsorize,
        transform=transform,
        dropped=dropped,
    )


def _wants_log1p(col: str, j: int, sorted_raw: np.ndarray, skewness: dict[str, float], config: FeaturesConfig) -> bool:
    if config.log1p == "auto":
        return bool(skewness[col] > config.skew_threshold and sorted_raw[0, j] > -1.0)
    wanted = col in config.log1p
    if wanted and sorted_raw[0, j] <= -1.0:
        raise DataError("log1p needs values above -1.", column=col, value=float(sorted_raw[0, j]))
    return wanted
