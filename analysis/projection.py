"""Feature matrix -> a 2-D picture of the segments (PCA), safe to publish.

One public verb, :func:`project_customers`. The bundle gets at most
``max_points`` points, chosen by a hash of each row's feature values rather
than by position, so permuting the customers picks the same points. Points
carry no identifier, only coordinates and a segment number.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from sklearn.decomposition import PCA

from analysis.bundle import Projection, ProjectionPoint
from analysis.cluster import canonical_order
from analysis.errors import DataError

__all__ = ["project_customers"]

_DECIMALS = 4  # plenty for a scatter plot; keeps the bundle small and byte-stable


def _row_hashes(X: np.ndarray) -> list[bytes]:
    # Rounded first, so last-bit noise from upstream float sums does not change the sample;
    # "+ 0.0" folds -0.0 into 0.0 so equal values hash equally.
    rows = np.ascontiguousarray(np.round(X, 6) + 0.0, dtype="<f8")
    return [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in rows]


def project_customers(
    X: np.ndarray, labels, *, max_points: int = 2000, random_state: int = 0, order: np.ndarray | None = None
) -> Projection:
    """Project customers onto the first two principal components.

    Parameters
    ----------
    X
        ``n x p`` scaled feature matrix (``p >= 2``).
    labels
        Segment label per row.
    max_points
        Most points to keep; the sample is the rows with the smallest hashes of
        their feature values rounded to 6 decimals (stable under row permutation).
    random_state
        Passed to PCA (the full SVD used here does not depend on it).

    Returns
    -------
    Projection
        ``method="pca"``, the explained-variance ratio of both axes, the
        sampled points (in hash order) and every segment's centroid computed
        on all rows, coordinates rounded to 4 decimals.

    Raises
    ------
    DataError
        ``X`` is not a finite 2-D matrix with at least two rows and columns,
        ``labels`` has the wrong length, or ``max_points < 1``.
    """
    X = np.asarray(X, dtype="float64")
    labels = np.asarray(labels)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 2 or not np.isfinite(X).all():
        raise DataError(
            f"the projection needs a finite matrix with at least 2 rows and 2 columns; got shape {X.shape!r}."
        )
    if labels.shape != (X.shape[0],):
        raise DataError(f"'labels' must hold one label per row ({X.shape[0]}); got shape {labels.shape!r}.")
    if max_points < 1:
        raise DataError(f"The 'max_points' parameter must be an int >= 1. Got {max_points!r} instead.")

    order = canonical_order(X) if order is None else order
    pca = PCA(n_components=2, svd_solver="full", random_state=random_state).fit(X[order])
    coords = pca.transform(X)

    # Ordered by (hash, label, row): 8-byte digests compare as big-endian integers.
    hashes = np.frombuffer(b"".join(_row_hashes(X)), dtype=">u8")
    keep = np.lexsort((labels, hashes))[:max_points].tolist()
    points = [
        ProjectionPoint(
            x=round(float(coords[i, 0]), _DECIMALS) + 0.0,
            y=round(float(coords[i, 1]), _DECIMALS) + 0.0,
            segment=int(labels[i]),
        )
        for i in keep
    ]
    centroids = []
    for seg in np.unique(labels):
        members = coords[labels == seg]
        centroids.append(
            ProjectionPoint(
                x=round(math.fsum(np.sort(members[:, 0])) / len(members), _DECIMALS) + 0.0,
                y=round(math.fsum(np.sort(members[:, 1])) / len(members), _DECIMALS) + 0.0,
                segment=int(seg),
            )
        )
    return Projection(
        method="pca",
        explained_variance=[round(float(v), 6) for v in pca.explained_variance_ratio_],
        points=points,
        centroids=centroids,
    )
