"""Feature matrix -> segment labels 1..k, numbered by descending mean spend.

One public verb, :func:`fit_segments`. Two properties matter downstream:

* **Stable numbering.** Segment 1 is always the highest-spending one; ties are
  broken by size (larger first), then by centroid coordinates, so the same data
  gives the same numbers on every run.
* **Row-order independence.** The rows are put in a canonical order (sorted by
  their feature values) before fitting, so permuting the customers gives every
  customer the same label. Estimators seed their initialisation from positions,
  which is why this matters.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from analysis.config import ClusterConfig
from analysis.errors import DataError

__all__ = ["canonical_order", "fit_segments"]


def canonical_order(X: np.ndarray) -> np.ndarray:
    """Row indices sorting ``X`` by its values (first column first).

    About a second on 1.6M customers; :attr:`analysis.features.FeatureMatrix.canonical_order`
    makes it once for every stage that fits on the same matrix.
    """
    return np.lexsort(X.T[::-1])


def _validate(X: np.ndarray, k: int) -> np.ndarray:
    X = np.asarray(X, dtype="float64")
    if X.ndim != 2 or X.shape[1] < 1:
        raise DataError(f"the feature matrix must be 2-D with at least one column; got shape {X.shape!r}.")
    if not np.isfinite(X).all():
        raise DataError("the feature matrix must be finite; it holds NaN or infinite values.")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise DataError(f"The 'k' parameter must be an int >= 2. Got {k!r} instead.")
    if X.shape[0] < k:
        raise DataError(f"cannot form {k} segments from {X.shape[0]} customers; need at least k customers.")
    return X


def _kmeans(X: np.ndarray, k: int, *, random_state: int, n_init: int, subsample_above: int) -> np.ndarray:
    """K-means labels; on more than ``subsample_above`` rows the restarts run on an evenly spaced subsample.

    The ``n_init`` restarts (k-means++ and Lloyd iterations each) are what
    costs on a large table. Above the threshold they run on every m-th row (m
    the smallest step leaving at most ``subsample_above`` rows; the rows come
    in canonical order, so the subsample spans the range of the first feature
    and does not depend on the input order), and Lloyd's algorithm then runs on
    every row from the best of them. On 1.57M customers of a 100M-line
    synthetic log that is 0.8 s against 5.7 s for MiniBatchKMeans, with a lower
    inertia (the sum every k-means fit minimises).
    """
    if X.shape[0] <= subsample_above:
        return KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit_predict(X)
    step = -(-X.shape[0] // subsample_above)
    start = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(X[::step])
    return KMeans(n_clusters=k, init=start.cluster_centers_, n_init=1, random_state=random_state).fit_predict(X)


def _fit_labels(
    X: np.ndarray,
    k: int,
    *,
    method: str,
    random_state: int,
    n_init: int,
    subsample_above: int,
) -> np.ndarray:
    """Raw labels 0..k-1 for rows of ``X`` as given (no canonical ordering here)."""
    if method == "gmm":
        model = GaussianMixture(
            n_components=k, covariance_type="full", n_init=n_init, random_state=random_state, reg_covar=1e-6
        )
        return model.fit(X).predict(X)
    return _kmeans(X, k, random_state=random_state, n_init=n_init, subsample_above=subsample_above)


def _fit_canonical(X: np.ndarray, k: int, config: ClusterConfig, order: np.ndarray | None) -> np.ndarray:
    """Raw labels 0..k-1 in the input row order, fitted in canonical row order."""
    order = canonical_order(X) if order is None else order
    # Single-threaded like analysis.kselect, so the final fit matches the one k was chosen on.
    with threadpool_limits(limits=1):
        raw = _fit_labels(
            X[order],
            k,
            method=config.method,
            random_state=config.random_state,
            n_init=config.n_init,
            subsample_above=config.subsample_above,
        )
    labels = np.empty(X.shape[0], dtype=np.int64)
    labels[order] = raw
    return labels


def _relabel(X: np.ndarray, raw: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Map raw cluster ids onto 1..m by descending mean spend, size, centroid."""
    keys = []
    values = np.unique(raw)
    for c in values:
        members = raw == c
        size = int(members.sum())
        # Sums of sorted values: they do not depend on the order of the rows.
        mean_spend = float(np.sum(np.sort(spend[members]))) / size
        centroid = tuple(float(np.sum(col)) / size for col in np.sort(X[members], axis=0).T)
        keys.append(((-mean_spend, -size, centroid), c))
    keys.sort(key=lambda item: item[0])
    mapping = {c: i + 1 for i, (_, c) in enumerate(keys)}
    return np.asarray([mapping[c] for c in values], dtype=np.int64)[np.searchsorted(values, raw)]


def fit_segments(X: np.ndarray, k: int, *, config: ClusterConfig, spend, order: np.ndarray | None = None) -> np.ndarray:
    """Cluster customers and number the segments by descending mean spend.

    Parameters
    ----------
    X
        ``n x p`` scaled feature matrix (see :func:`analysis.features.build_features`).
    k
        Number of segments.
    config
        Algorithm (``kmeans``, or ``gmm``), ``random_state``, ``n_init``; above
        ``subsample_above`` rows the k-means restarts run on a subsample (see :func:`_kmeans`).
    spend
        Raw monetary value per row (same order as ``X``), used only to number
        the segments.
    order
        :func:`canonical_order` of ``X`` when the caller has it; made here otherwise.

    Returns
    -------
    numpy.ndarray
        ``n`` int64 labels in ``1..k``; 1 is the segment with the highest mean
        spend. A Gaussian mixture can leave a component empty, in which case
        the labels run ``1..m`` with ``m < k``.

    Raises
    ------
    DataError
        ``X`` is not a finite 2-D matrix, ``spend`` has the wrong length or is
        not finite, ``k < 2``, or there are fewer rows than ``k``.
    """
    X = _validate(X, k)
    spend = np.asarray(spend, dtype="float64")
    if spend.shape != (X.shape[0],) or not np.isfinite(spend).all():
        raise DataError(f"'spend' must hold one finite value per row ({X.shape[0]}); got shape {spend.shape!r}.")
    raw = _fit_canonical(X, int(k), config, order)
    return _relabel(X, raw, spend)
