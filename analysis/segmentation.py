"""Cluster labels -> a segmentation that can be saved and applied: centroids, and labels they reproduce.

One public verb, :func:`segment_customers`. It fits the clustering
(:func:`analysis.cluster.fit_segments`, segment ids by descending mean spend),
summarises each segment in the scaled feature space (the mean of its members
for k-means; mean and covariance for a Gaussian mixture), and then gives every
customer the segment that summary assigns them (nearest centroid, or highest
posterior). That last step is one more assignment step of the algorithm; it
makes the labels exactly what ``model.json`` reproduces on the training data,
so the published segments and the saved model can never disagree.

Means use :func:`math.fsum` (exactly rounded, so independent of row order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.cluster import fit_segments
from analysis.config import ClusterConfig
from analysis.model import ClusterModel

__all__ = ["Segmentation", "segment_customers", "assign_to_clusters"]

_REG_COVAR = 1e-6  # as the mixture fit, so a one-customer segment still has a usable covariance


@dataclass(frozen=True)
class Segmentation:
    """Segment ids per customer and the model that assigns them.

    Attributes
    ----------
    labels
        Segment id of each customer (input order), ``int64``.
    clusters
        The saved form: method, centroids (and mixture parameters) in id order.
    """

    labels: np.ndarray
    clusters: ClusterModel

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(self.clusters.segment_ids)

    def neighbours(self) -> dict[int, list[int]]:
        """``{segment id: the other ids, nearest centre first}`` (ties by id)."""
        centres = np.asarray(self.clusters.centroids, dtype="float64")
        ids = list(self.clusters.segment_ids)
        out = {}
        for i, sid in enumerate(ids):
            dist = np.sqrt(((centres - centres[i]) ** 2).sum(axis=1))
            out[sid] = [ids[j] for j in sorted(range(len(ids)), key=lambda j: (dist[j], ids[j])) if j != i]
        return out


def _fmean(values: np.ndarray) -> float:
    return math.fsum(values.tolist()) / len(values)


def _summaries(X: np.ndarray, labels: np.ndarray, method: str) -> ClusterModel:
    ids = sorted(int(i) for i in np.unique(labels))
    centroids, covariances, weights = [], [], []
    for sid in ids:
        members = X[labels == sid]
        centre = [_fmean(col) for col in members.T]
        centroids.append(centre)
        if method == "gmm":
            dev = members - np.asarray(centre)
            cov = (dev.T @ dev) / len(members) + _REG_COVAR * np.eye(X.shape[1])
            covariances.append(cov.tolist())
            weights.append(len(members) / len(X))
    if method == "gmm":
        return ClusterModel(
            method="gmm",
            rule="max_posterior",
            segment_ids=ids,
            centroids=centroids,
            weights=weights,
            covariances=covariances,
        )
    return ClusterModel(method="kmeans", rule="nearest_centroid", segment_ids=ids, centroids=centroids)


def assign_to_clusters(X: np.ndarray, clusters: ClusterModel) -> np.ndarray:
    """Segment id of each row of the scaled matrix ``X`` under ``clusters``."""
    X = np.asarray(X, dtype="float64")
    centroids = np.asarray(clusters.centroids, dtype="float64")
    scores = np.empty((X.shape[0], len(centroids)))
    if clusters.rule == "nearest_centroid":
        for j, c in enumerate(centroids):
            scores[:, j] = -np.einsum("ij,ij->i", X - c, X - c)
    else:
        for j, (c, cov, w) in enumerate(zip(centroids, clusters.covariances, clusters.weights, strict=True)):
            chol = np.linalg.cholesky(np.asarray(cov))
            z = np.linalg.solve(chol, (X - c).T)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            scores[:, j] = math.log(w) - 0.5 * (np.einsum("ij,ij->j", z, z) + log_det)
    # argmax takes the first of exact ties: the lower segment id, as in the summaries' order.
    return np.asarray(clusters.segment_ids, dtype=np.int64)[np.argmax(scores, axis=1)]


def segment_customers(
    X: np.ndarray, k: int, *, config: ClusterConfig, spend, order: np.ndarray | None = None
) -> Segmentation:
    """Fit ``k`` segments on ``X`` and return labels that the saved model reproduces.

    Parameters
    ----------
    X
        ``n x p`` scaled feature matrix.
    k
        Number of segments.
    config
        The ``[cluster]`` section (method, seed, ``n_init``).
    spend
        Raw spend per row; orders the segment ids (1 = highest mean spend).
    order
        :func:`analysis.cluster.canonical_order` of ``X`` when the caller has it.

    Returns
    -------
    Segmentation
    """
    fitted = fit_segments(X, k, config=config, spend=spend, order=order)
    clusters = _summaries(np.asarray(X, dtype="float64"), fitted, config.method)
    labels = assign_to_clusters(X, clusters)
    present = set(np.unique(labels).tolist())
    if present != set(clusters.segment_ids):
        # A segment that the final assignment step emptied has no one to describe: drop it
        # (removing a centroid nobody is nearest to changes no one's segment).
        keep = [i for i, sid in enumerate(clusters.segment_ids) if sid in present]
        clusters = clusters.model_copy(
            update={
                "segment_ids": [clusters.segment_ids[i] for i in keep],
                "centroids": [clusters.centroids[i] for i in keep],
                "weights": None if clusters.weights is None else [clusters.weights[i] for i in keep],
                "covariances": None if clusters.covariances is None else [clusters.covariances[i] for i in keep],
            }
        )
    return Segmentation(labels=labels, clusters=clusters)
