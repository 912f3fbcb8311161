"""Segments that keep their identity across refreshes: refit or keep, then match to the previous ones.

One public verb, :func:`continue_segments`, run right after this refresh's
own fit (:func:`analysis.segmentation.segment_customers`).

The rule
--------
1. The previous model is applied to this refresh's customers (its transforms
   and centroids, no refit).
2. ``[history] refit`` decides which segmentation this refresh publishes:
   ``never`` keeps the previous model; ``always`` takes the refit; ``auto``
   refits only when the evidence says the previous segmentation no longer fits
   the new data: the consensus chose another k (``k_changed``), the refit and
   the previous model agree less than ``min_agreement`` (adjusted Rand index,
   ``segments_moved``), a previous segment now holds under ``cluster.min_share``
   of the customers (``segment_collapsed``), or the clustering features changed
   (``features_changed``). Otherwise it keeps the previous model
   (``previous_fits``).
3. After a refit, each new segment's centre is computed in the *previous*
   model's scaled feature space and the new segments are paired with the
   previous ones by optimal assignment on centre distance (Hungarian method)
   over the allowed pairs: centres at most ``max_match_distance`` apart, or
   the same persona (the playbook's reading of the segment's behaviour
   relative to the whole base, which drifts less than raw centres when the
   base itself changes, e.g. when every customer's recency grows with a
   longer log). A matched segment keeps its id, and with it its colour, page URL,
   persona and name; a new segment gets an id above every id used before; a
   previous segment left unmatched is reported as retired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from analysis.assign import transform_of
from analysis.config import ClusterConfig, HistoryConfig
from analysis.features import FeatureMatrix
from analysis.history_schema import RefitDecision, SegmentMatch
from analysis.model import ClusterModel
from analysis.previous import PreviousRun
from analysis.segmentation import Segmentation, assign_to_clusters

__all__ = ["Continuity", "continue_segments", "match_segments"]


@dataclass(frozen=True)
class Continuity:
    """What this refresh publishes, and how it relates to the previous one.

    ``kept`` maps segment ids that continue a previous segment to the previous
    ``(persona, name)``; ``retired`` lists previous ids with no continuation.
    """

    segmentation: Segmentation
    features: FeatureMatrix
    decision: RefitDecision
    matches: list[SegmentMatch]
    retired: list[int]
    kept: dict[int, tuple[str, str]]
    id_high_water: int


def _fmean(values: np.ndarray) -> float:
    return math.fsum(values.tolist()) / len(values)


def _decide(policy: str, *, same_features: bool, k_prev: int, k_new: int, agreement, smallest, config, cluster):
    if policy == "always":
        return True, "policy_always"
    if policy == "never":
        return False, "policy_never"
    if not same_features:
        return True, "features_changed"
    if k_new != k_prev:
        return True, "k_changed"
    if agreement < config.min_agreement:
        return True, "segments_moved"
    if smallest < cluster.min_share:
        return True, "segment_collapsed"
    return False, "previous_fits"


_FORBIDDEN = 1e9  # cost of a pair that may not match, so the assignment prefers every allowed pair


def match_segments(
    X_ref: np.ndarray,
    labels: np.ndarray,
    ids: list[int],
    reference: ClusterModel,
    *,
    reference_personas: dict[int, str],
    personas: dict[int, str],
    limit: float,
) -> tuple[dict[int, tuple[int, float]], dict[int, float]]:
    """Pair segments with a reference model's segments by optimal assignment over the allowed pairs.

    Parameters
    ----------
    X_ref
        The customers in the reference model's scaled feature space.
    labels, ids
        Each customer's segment, and the segment ids to pair.
    reference, reference_personas
        The segments they are paired with: their centroids, and their persona keys by id.
    personas
        ``{segment id: persona key}`` of the segments being paired.
    limit
        A pair is allowed when the centres are at most this far apart, or when
        both segments have the same persona.

    Returns
    -------
    tuple
        ``({id: (reference id, distance)}, {id: distance to the nearest reference centre})``.
    """
    centres = np.array([[_fmean(col) for col in X_ref[labels == sid].T] for sid in ids])
    ref_ids = list(reference.segment_ids)
    ref_persona = reference_personas
    ref_centres = np.asarray(reference.centroids, dtype="float64")
    cost = np.sqrt(((centres[:, None, :] - ref_centres[None, :, :]) ** 2).sum(axis=2))
    same = np.array([[personas.get(n) == ref_persona.get(p) for p in ref_ids] for n in ids], dtype=bool)
    allowed = (cost <= limit) | same
    pairs = {}
    for r, c in zip(*linear_sum_assignment(np.where(allowed, cost, _FORBIDDEN)), strict=True):
        if allowed[r, c]:
            pairs[ids[r]] = (ref_ids[c], float(cost[r, c]))
    return pairs, {ids[r]: float(cost[r].min()) for r in range(len(ids))}


def _relabel(refit: Segmentation, mapping: dict[int, int]) -> Segmentation:
    clusters = refit.clusters
    order = sorted(range(len(clusters.segment_ids)), key=lambda i: mapping[clusters.segment_ids[i]])
    pick = [mapping[clusters.segment_ids[i]] for i in order]
    relabelled = clusters.model_copy(
        update={
            "segment_ids": pick,
            "centroids": [clusters.centroids[i] for i in order],
            "weights": None if clusters.weights is None else [clusters.weights[i] for i in order],
            "covariances": None if clusters.covariances is None else [clusters.covariances[i] for i in order],
        }
    )
    labels = pd.Series(refit.labels).map(mapping).to_numpy(dtype=np.int64)
    return Segmentation(labels=labels, clusters=relabelled)


def _kept_matrix(customers: pd.DataFrame, previous: PreviousRun, current: FeatureMatrix) -> FeatureMatrix:
    transform = transform_of(previous.model)
    raw = customers[list(transform.columns)].to_numpy(dtype="float64")
    return FeatureMatrix(
        values=transform.apply(raw),
        columns=transform.columns,
        log1p=tuple(c for c, flag in zip(transform.columns, transform.log1p, strict=True) if flag),
        skewness={c: current.skewness.get(c, 0.0) for c in transform.columns},
        scaler=transform.scaler,
        winsorize=current.winsorize,
        transform=transform,
    )


def continue_segments(
    customers: pd.DataFrame,
    features: FeatureMatrix,
    refit: Segmentation,
    previous: PreviousRun,
    *,
    chosen_k: int,
    personas: dict[int, str],
    config: HistoryConfig,
    cluster: ClusterConfig,
) -> Continuity:
    """Decide between the refit and the previous model, and carry segment identities over.

    Parameters
    ----------
    customers
        This refresh's customer table (raw feature columns).
    features
        This refresh's feature matrix (what ``refit`` was fitted on).
    refit
        This refresh's own segmentation (ids 1..k by spend).
    previous
        The previous refresh (:func:`analysis.previous.read_previous`).
    chosen_k
        The k the consensus chose on this refresh.
    personas
        ``{refit segment id: persona key}`` from naming the refit's segments.
    config, cluster
        The ``[history]`` and ``[cluster]`` sections.

    Returns
    -------
    Continuity
    """
    prev_model = previous.model
    transform = transform_of(prev_model)
    same = transform.columns == features.columns and transform.scaler == features.scaler
    have = all(c in customers.columns for c in transform.columns)
    X_prev = transform.apply(customers[list(transform.columns)].to_numpy(dtype="float64")) if have else None
    prev_ids = list(prev_model.clusters.segment_ids)
    high = max([*prev_ids, *(s.id for s in prev_model.retired)])
    agreement = smallest = None
    if X_prev is not None:
        prev_labels = assign_to_clusters(X_prev, prev_model.clusters)
        agreement = float(adjusted_rand_score(prev_labels, refit.labels))
        counts = pd.Series(prev_labels).value_counts()
        smallest = float(min(counts.get(i, 0) for i in prev_ids) / len(prev_labels))
    refitted, reason = _decide(
        config.refit,
        same_features=same and have,
        k_prev=len(prev_ids),
        k_new=chosen_k,
        agreement=agreement,
        smallest=smallest,
        config=config,
        cluster=cluster,
    )
    if not have and not refitted:
        refitted, reason = True, "features_changed"  # the previous model cannot be applied at all
    decision = RefitDecision(
        policy=config.refit,
        refitted=refitted,
        reason=reason,
        previous_k=len(prev_ids),
        chosen_k=chosen_k,
        agreement=None if agreement is None else round(agreement, 6),
        min_agreement=config.min_agreement,
        smallest_previous_share=None if smallest is None else round(smallest, 6),
    )
    names = {s.id: (s.persona, s.name) for s in prev_model.segments}
    if not refitted:
        present = sorted(set(prev_labels.tolist()))
        return Continuity(
            segmentation=Segmentation(labels=prev_labels, clusters=prev_model.clusters),
            features=_kept_matrix(customers, previous, features),
            decision=decision,
            matches=[SegmentMatch(segment=i, previous=i, distance=0.0) for i in present],
            retired=[i for i in prev_ids if i not in present],
            kept={i: names[i] for i in present},
            id_high_water=high,
        )
    limit = config.max_match_distance
    pairs, nearest = ({}, {})
    if X_prev is not None:
        pairs, nearest = match_segments(
            X_prev,
            refit.labels,
            list(refit.ids),
            previous.model.clusters,
            reference_personas={s.id: s.persona for s in previous.model.segments},
            personas=personas,
            limit=limit,
        )
    mapping, next_id = {}, high + 1
    for sid in refit.ids:  # ids by descending spend: new segments are numbered in that order too
        if sid in pairs:
            mapping[sid] = pairs[sid][0]
        else:
            mapping[sid], next_id = next_id, next_id + 1
    matches = [_match_row(mapping[s], pairs.get(s), nearest.get(s)) for s in refit.ids]
    matched_prev = {p for p, _ in pairs.values()}
    return Continuity(
        segmentation=_relabel(refit, mapping),
        features=features,
        decision=decision,
        matches=sorted(matches, key=lambda m: m.segment),
        retired=[i for i in prev_ids if i not in matched_prev],
        kept={mapping[s]: names[p] for s, (p, _) in pairs.items()},
        id_high_water=next_id - 1,
    )


def _match_row(segment: int, pair: tuple[int, float] | None, nearest: float | None) -> SegmentMatch:
    """A new segment's row: the previous id it continues, or none, with the (nearest) centre distance."""
    if pair is not None:
        return SegmentMatch(segment=segment, previous=pair[0], distance=round(pair[1], 6))
    return SegmentMatch(segment=segment, previous=None, distance=None if nearest is None else round(nearest, 6))
