"""Choice of the number of segments k, with the evidence for every candidate.

One public verb, :func:`choose_k` (plus :func:`choose_k_steps`, the number of
progress steps it reports). For each k in ``[k_min, k_max]`` it fits the
clustering once on all customers and ``stability_resamples`` times on random
subsets, and records

* inertia (within-segment sum of squares, on the scaled features),
* silhouette (on a fixed-seed sample of ``silhouette_sample`` rows when larger),
* Calinski-Harabasz and Davies-Bouldin indices,
* stability: mean adjusted Rand index between the full-data labels and the
  labels of a refit on a subset, compared on the subset's rows (subsets of
  ``stability_sample`` of the rows drawn without replacement, or bootstrap
  samples when ``stability_sample`` is 1; the same subsets for every k, each
  refit with its own seed),
* the share of customers in the smallest segment.

The elbow of the inertia curve is the k farthest from the chord joining the
first and last points once both axes are scaled to [0, 1] (the "kneedle" idea
of Satopaa et al., 2011, without smoothing).

Rows are put in canonical order first, so the result does not depend on the
order of the customers. Fits run single-threaded (see :func:`choose_k`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from threadpoolctl import threadpool_limits

from analysis.bundle import Candidate, KSelection
from analysis.cluster import _canonical_order, _fit_labels, _validate
from analysis.config import ClusterConfig, KSelectionConfig
from analysis.errors import DataError

__all__ = ["choose_k", "choose_k_steps", "SILHOUETTE_TOLERANCE"]

SILHOUETTE_TOLERANCE = 0.10
"""Silhouettes within this fraction of the best admissible one count as a tie.

Silhouette nearly always peaks at k = 2 on customer data (one "engaged" and one
"lapsed" half), often by a hair; a relative tolerance lets the inertia elbow
decide between such near-equals instead of the third decimal.
"""


def _k_values(config: KSelectionConfig, cluster: ClusterConfig | None) -> list[int]:
    ks = set(range(config.k_min, config.k_max + 1))
    if cluster is not None and cluster.k is not None:
        ks.add(cluster.k)
    return sorted(ks)


def choose_k_steps(config: KSelectionConfig, *, cluster: ClusterConfig | None = None) -> int:
    """Return how many times :func:`choose_k` calls ``on_step`` (for a progress bar).

    One step per fit: for each candidate k, one fit on all customers and one
    per stability resample. Pass ``cluster`` when it may fix a k outside the
    configured range (that k is added to the table).
    """
    return len(_k_values(config, cluster)) * (1 + config.stability_resamples)


def _inertia(X: np.ndarray, labels: np.ndarray) -> float:
    total = 0.0
    for c in np.unique(labels):
        members = X[labels == c]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def _elbow(ks: list[int], inertia: list[float]) -> int | None:
    """k of maximum distance below the chord of the normalised inertia curve."""
    if len(ks) < 3:
        return None
    x = np.asarray(ks, dtype="float64")
    y = np.asarray(inertia, dtype="float64")
    if y.max() == y.min():
        return None
    x = (x - x.min()) / (x.max() - x.min())
    y = (y - y.min()) / (y.max() - y.min())
    # Chord from (0, y0) to (1, y1); inertia falls, so the knee lies below it.
    chord = y[0] + (y[-1] - y[0]) * x
    gap = chord - y
    best = int(np.argmax(gap))
    if gap[best] <= 0:
        return None
    return ks[best]


def _candidate(
    X: np.ndarray,
    k: int,
    *,
    config: KSelectionConfig,
    cluster: ClusterConfig,
    subsets: list[np.ndarray],
    sil_rows: np.ndarray | None,
    step: Callable[[], None],
) -> Candidate:
    fit = dict(n_init=cluster.n_init, method=cluster.method, minibatch_above=cluster.minibatch_above)
    labels = _fit_labels(X, k, random_state=cluster.random_state, **fit)
    step()
    n = X.shape[0]
    sizes = np.bincount(labels, minlength=k)
    present = int((sizes > 0).sum())
    if present >= 2:
        if sil_rows is not None and len(np.unique(labels[sil_rows])) >= 2:
            silhouette = float(silhouette_score(X[sil_rows], labels[sil_rows]))
        elif sil_rows is None and present < n:
            silhouette = float(silhouette_score(X, labels))
        else:
            silhouette = -1.0
        ch = float(calinski_harabasz_score(X, labels))
        db = float(davies_bouldin_score(X, labels))
    else:
        silhouette, ch, db = -1.0, 0.0, float("inf")
    scores = []
    for r, rows in enumerate(subsets):
        sub = _fit_labels(X[rows], k, random_state=cluster.random_state + 1 + r, **fit)
        scores.append(adjusted_rand_score(labels[rows], sub))
        step()
    return Candidate(
        k=k,
        inertia=round(_inertia(X, labels), 6),
        silhouette=round(silhouette, 6),
        calinski_harabasz=round(ch, 6),
        davies_bouldin=round(db if np.isfinite(db) else 1e9, 6),
        stability=round(float(np.mean(scores)), 6),
        min_share=round(float(sizes.min()) / n, 6),
    )


def _rule_text(config: KSelectionConfig, cluster: ClusterConfig) -> str:
    return (
        f"A k is admissible when its stability (mean adjusted Rand index over "
        f"{config.stability_resamples} refits on {config.stability_sample:.0%} subsets) is at least "
        f"{config.min_stability:.2f} and its smallest segment holds at least {cluster.min_share:.1%} of "
        f"customers. The elbow of the inertia curve is taken when it is admissible and its silhouette "
        f"is at least {config.elbow_min_silhouette_ratio:.0%} of the best admissible silhouette. "
        f"Otherwise take the admissible k with the highest silhouette; k whose silhouette is within "
        f"{SILHOUETTE_TOLERANCE:.0%} of it count as tied, and the tie goes to the k closest to the "
        f"elbow, then to the smaller k. If no k is admissible, take the elbow (or, with no elbow, the "
        f"most stable k)."
    )


def _pick(
    candidates: list[Candidate], elbow: int | None, config: KSelectionConfig, cluster: ClusterConfig
) -> tuple[int, str]:
    admissible = [c for c in candidates if c.stability >= config.min_stability and c.min_share >= cluster.min_share]
    if admissible:
        top = max(admissible, key=lambda c: (c.silhouette, -c.k))
        at_elbow = next((c for c in admissible if c.k == elbow), None)
        floor = config.elbow_min_silhouette_ratio * top.silhouette
        summary = f"{len(admissible)} of {len(candidates)} candidates met the stability and size thresholds."
        if at_elbow is not None and at_elbow.silhouette >= floor:
            text = (
                f"The inertia curve bends at k = {at_elbow.k}, and that k is admissible: stability "
                f"{at_elbow.stability:.2f}, smallest segment {at_elbow.min_share:.1%} of customers, "
                f"silhouette {at_elbow.silhouette:.2f}; {summary}"
            )
            if top.k != at_elbow.k:
                text += (
                    f" k = {top.k} separates customers more cleanly (silhouette {top.silhouette:.2f}), but "
                    f"the elbow keeps {at_elbow.silhouette / top.silhouette:.0%} of that separation "
                    f"(at least {config.elbow_min_silhouette_ratio:.0%} is required) while giving "
                    f"{at_elbow.k} distinct groups to act on instead of {top.k}."
                )
            return at_elbow.k, text
        best = top.silhouette
        tied = [c for c in admissible if c.silhouette >= best - SILHOUETTE_TOLERANCE * abs(best)]
        anchor = elbow if elbow is not None else min(tied, key=lambda c: (-c.silhouette, c.k)).k
        chosen = min(tied, key=lambda c: (abs(c.k - anchor), c.k))
        text = (
            f"k = {chosen.k} gives a silhouette of {chosen.silhouette:.2f}, a stability of "
            f"{chosen.stability:.2f} and a smallest segment of {chosen.min_share:.1%} of customers; {summary}"
        )
        if elbow is not None and at_elbow is None:
            text += f" The inertia curve bends at k = {elbow}, but that k is not admissible."
        elif elbow is not None and at_elbow is not None:
            text += (
                f" The inertia curve bends at k = {elbow}, but its silhouette ({at_elbow.silhouette:.2f}) is "
                f"under {config.elbow_min_silhouette_ratio:.0%} of the best ({best:.2f})."
            )
        if chosen.k != top.k:
            text += (
                f" k = {top.k} scored a slightly higher silhouette ({top.silhouette:.2f}), but within "
                f"{SILHOUETTE_TOLERANCE:.0%}, so the tie went to the k nearer the elbow."
            )
        return chosen.k, text
    by_k = {c.k: c for c in candidates}
    if elbow is not None:
        chosen = by_k[elbow]
        how = f"so it falls back to the elbow of the inertia curve, k = {elbow}"
    else:
        chosen = max(candidates, key=lambda c: (c.stability, -c.k))
        how = f"and the inertia curve has no elbow, so it takes the most stable k, k = {chosen.k}"
    text = (
        f"No k met both thresholds (stability >= {config.min_stability:.2f} and smallest segment >= "
        f"{cluster.min_share:.1%}), {how}: silhouette {chosen.silhouette:.2f}, stability "
        f"{chosen.stability:.2f}, smallest segment {chosen.min_share:.1%} of customers. Treat the "
        f"segments as indicative."
    )
    return chosen.k, text


def choose_k(
    X: np.ndarray,
    *,
    config: KSelectionConfig,
    cluster: ClusterConfig,
    on_step: Callable[[], None] | None = None,
) -> KSelection:
    """Score every candidate k and choose one by the documented rule.

    Parameters
    ----------
    X
        ``n x p`` scaled feature matrix.
    config
        Range of k, silhouette sample size, stability resamples and threshold.
    cluster
        Algorithm and seed (the same as the final fit); ``cluster.min_share``
        is the smallest admissible segment share. When ``cluster.k`` is set
        the table is still computed (with that k added if outside the range)
        but ``chosen_k`` is ``cluster.k`` and ``overridden`` is true.
    on_step
        Called with no argument once per fit; :func:`choose_k_steps` gives the
        total.

    Returns
    -------
    KSelection
        Candidates sorted by k, the elbow, the chosen k, the rule and a
        rationale citing the numbers.

    Raises
    ------
    DataError
        ``X`` is not a finite 2-D matrix or has too few rows for ``k_min``.
    """
    X = _validate(X, config.k_min)
    X = X[_canonical_order(X)]
    n = X.shape[0]
    ks = [k for k in _k_values(config, cluster) if k < n]
    if cluster.k is not None and cluster.k not in ks:
        raise DataError(f"cannot form k = {cluster.k} segments from {n} customers; need more than k.")
    if not ks:
        raise DataError(f"choosing k needs more than k_min = {config.k_min} customers; got {n}.")
    step = on_step if on_step is not None else (lambda: None)

    rng = np.random.default_rng(cluster.random_state)
    sil_rows = np.sort(rng.choice(n, config.silhouette_sample, replace=False)) if n > config.silhouette_sample else None
    m = max(config.k_max + 1, int(round(config.stability_sample * n)))
    subsets = []
    for _ in range(config.stability_resamples):
        if config.stability_sample >= 1.0 or m >= n:
            subsets.append(np.sort(rng.choice(n, n, replace=True)))
        else:
            subsets.append(np.sort(rng.choice(n, m, replace=False)))

    # One BLAS/OpenMP thread: on these small matrices the threading overhead costs more than it
    # saves (measured 7 s vs 77 s on CDNOW on a busy 2-core machine), and results do not depend
    # on the machine's core count.
    with threadpool_limits(limits=1):
        candidates = [
            _candidate(X, k, config=config, cluster=cluster, subsets=subsets, sil_rows=sil_rows, step=step) for k in ks
        ]
    in_range = [c for c in candidates if config.k_min <= c.k <= config.k_max]
    elbow = _elbow([c.k for c in in_range], [c.inertia for c in in_range])
    rule = _rule_text(config, cluster)
    if cluster.k is not None:
        fixed = next(c for c in candidates if c.k == cluster.k)
        auto_k, _ = _pick(in_range, elbow, config, cluster)
        rationale = (
            f"k = {cluster.k} was fixed by the configuration (--k or [cluster] k), overriding the rule, "
            f"which would have chosen k = {auto_k}. At k = {cluster.k} the silhouette is "
            f"{fixed.silhouette:.2f}, the stability {fixed.stability:.2f} and the smallest segment holds "
            f"{fixed.min_share:.1%} of customers."
        )
        return KSelection(
            candidates=candidates, elbow_k=elbow, chosen_k=cluster.k, overridden=True, rule=rule, rationale=rationale
        )
    chosen, rationale = _pick(in_range, elbow, config, cluster)
    return KSelection(
        candidates=candidates, elbow_k=elbow, chosen_k=chosen, overridden=False, rule=rule, rationale=rationale
    )
