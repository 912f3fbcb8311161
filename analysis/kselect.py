"""Choice of the number of segments k: five criteria vote, stability and size filter.

One public verb, :func:`choose_k` (plus :func:`choose_k_steps`, the number of
progress steps it reports).

The rule (in the spirit of NbClust, Charrad et al., 2014: many indices, majority rule)
-----------------------------------------------------------------------------------------
1. **Sample.** Rows are put in canonical order, then at most ``sample_size``
   customers are drawn, stratified over a quantile grid of the features (see
   :mod:`analysis._ksample`); with fewer customers, all of them are used.
2. **Score.** For each k in ``[k_min, k_max]`` the clustering is fitted once on
   the sample, and the table records inertia, silhouette (on a fixed-seed
   subsample of ``silhouette_sample`` rows when the sample is larger),
   Calinski-Harabasz, Davies-Bouldin, the gap statistic with its ``s_k`` over
   ``gap_references`` uniform reference sets, the elbow score, stability (mean
   adjusted Rand index between the fit and ``stability_resamples`` refits on
   subsamples of ``stability_sample`` of the sample, or bootstrap samples when
   that is 1; the same subsamples for every k, each refit with its own seed) and
   the smallest segment's share.
3. **Filter.** A k is admissible when its stability is at least
   ``min_stability`` and its smallest segment holds at least
   ``cluster.min_share`` of the sample.
4. **Vote.** Silhouette (max), Calinski-Harabasz (max), Davies-Bouldin (min),
   the gap statistic (Tibshirani et al., 2001: smallest k with
   ``Gap(k) >= Gap(k+1) - s(k+1)``) and the elbow (highest local elbow score)
   each vote for one admissible k (details in :mod:`analysis._kcriteria`). When
   no k is admissible, every k of the range takes part instead and the
   selection records ``fallback = "no_admissible_k"``.
5. **Tally.** The k with the most votes wins; a tie goes to the smaller k.

Every score of a k depends on that k's fits alone (and the elbow score on its
neighbours): the sample, the subsamples, the reference sets and every fit's seed
are drawn independently of the range, so raising ``k_max`` adds rows to the
table without changing the existing ones (except on samples so small that a
subsample would hold fewer than ``k_max + 1`` rows, where its size is raised to
that). Each vote then looks at the admissible k only, which is what keeps the
choice from following ``k_max``: tiny or unstable segmentations at large k never
enter the count. Fits run single-threaded (see :func:`choose_k`).
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

from analysis._kcriteria import cast_votes, elbow_scores, gap_references, inertia, tally
from analysis._ksample import stratified_sample
from analysis.bundle import Candidate, KSample, KSelection
from analysis.cluster import _fit_labels, _validate, canonical_order
from analysis.config import ClusterConfig, KSelectionConfig
from analysis.errors import DataError

__all__ = ["choose_k", "choose_k_steps"]

# Seed offsets from cluster.random_state: stability refit r uses +1+r (as before this rule), gap
# reference fit b uses +_REFERENCE_SEED+b; the streams that draw the sample, the subsamples and
# the reference sets are separate, so changing one count does not reshuffle the others.
_REFERENCE_SEED = 1000


def _k_values(config: KSelectionConfig, cluster: ClusterConfig | None) -> list[int]:
    ks = set(range(config.k_min, config.k_max + 1))
    if cluster is not None and cluster.k is not None:
        ks.add(cluster.k)
    return sorted(ks)


def choose_k_steps(config: KSelectionConfig, *, cluster: ClusterConfig | None = None) -> int:
    """Return how many times :func:`choose_k` calls ``on_step`` (for a progress bar).

    One step per fit: for each candidate k, one fit on the sample, one per
    stability resample and one per gap reference set; plus one fit at
    ``k_min - 1`` for the elbow score when ``k_min > 2``. Pass ``cluster`` when
    it may fix a k outside the configured range (that k is added to the table).
    """
    per_k = 1 + config.stability_resamples + config.gap_references
    return len(_k_values(config, cluster)) * per_k + (1 if config.k_min > 2 else 0)


class _Scorer:
    """Fits and scores one k at a time on the sample, with shared subsamples and reference sets."""

    def __init__(self, S: np.ndarray, config: KSelectionConfig, cluster: ClusterConfig, step: Callable[[], None]):
        self.S, self.cluster, self.step = S, cluster, step
        self.fit = dict(n_init=cluster.n_init, method=cluster.method, subsample_above=cluster.subsample_above)
        n = S.shape[0]
        seed = cluster.random_state
        sub_rng = np.random.default_rng([seed, 1])
        m = max(config.k_max + 1, int(round(config.stability_sample * n)))
        bootstrap = config.stability_sample >= 1.0 or m >= n
        self.subsets = [
            np.sort(sub_rng.choice(n, n, replace=True) if bootstrap else sub_rng.choice(n, m, replace=False))
            for _ in range(config.stability_resamples)
        ]
        self.references = gap_references(S, config.gap_references, np.random.default_rng([seed, 2]))
        sil_rng = np.random.default_rng([seed, 3])
        big = n > config.silhouette_sample
        self.sil_rows = np.sort(sil_rng.choice(n, config.silhouette_sample, replace=False)) if big else None

    def labels(self, X: np.ndarray, k: int, seed: int) -> np.ndarray:
        out = _fit_labels(X, k, random_state=seed, **self.fit)
        self.step()
        return out

    def _separation(self, labels: np.ndarray) -> tuple[float, float, float]:
        S, rows = self.S, self.sil_rows
        if len(np.unique(labels)) < 2:
            return -1.0, 0.0, 1e9
        sub = labels if rows is None else labels[rows]
        if 2 <= len(np.unique(sub)) < len(sub):
            silhouette = float(silhouette_score(S if rows is None else S[rows], sub))
        else:
            silhouette = -1.0
        return silhouette, float(calinski_harabasz_score(S, labels)), float(davies_bouldin_score(S, labels))

    def candidate(self, k: int) -> Candidate:
        S, seed = self.S, self.cluster.random_state
        labels = self.labels(S, k, seed)
        silhouette, ch, db = self._separation(labels)
        stability = [
            adjusted_rand_score(labels[rows], self.labels(S[rows], k, seed + 1 + r))
            for r, rows in enumerate(self.subsets)
        ]
        w = inertia(S, labels)
        ref_logs = np.log(
            [
                max(inertia(Z, self.labels(Z, k, seed + _REFERENCE_SEED + b)), 1e-300)
                for b, Z in enumerate(self.references)
            ]
        )
        # Tibshirani et al. (2001), step 3: sd over the B sets (1/B), inflated by sqrt(1 + 1/B).
        gap_sd = float(ref_logs.std()) * np.sqrt(1.0 + 1.0 / len(ref_logs))
        return Candidate(
            k=k,
            inertia=round(w, 6),
            silhouette=round(silhouette, 6),
            calinski_harabasz=round(ch, 6),
            davies_bouldin=round(db if np.isfinite(db) else 1e9, 6),
            gap=round(float(ref_logs.mean()) - float(np.log(max(w, 1e-300))), 6),
            gap_sd=round(gap_sd, 6),
            elbow=None,
            stability=round(float(np.mean(stability)), 6),
            min_share=round(float(np.bincount(labels, minlength=k).min()) / S.shape[0], 6),
            admissible=False,
        )

    def base_inertia(self, k_min: int) -> float:
        """Inertia at ``k_min - 1``: the total sum of squares for k = 1, else one fit."""
        if k_min == 2:
            return round(float(((self.S - self.S.mean(axis=0)) ** 2).sum()), 6)
        return round(inertia(self.S, self.labels(self.S, k_min - 1, self.cluster.random_state)), 6)


def _finish(scored: list[Candidate], base: float, config: KSelectionConfig, cluster: ClusterConfig):
    """Fill in elbow scores and admissibility; return (candidates, in-range candidates, admissible ks)."""
    in_range_ks = [c.k for c in scored if config.k_min <= c.k <= config.k_max]
    elbows = dict(zip(in_range_ks, elbow_scores([c.inertia for c in scored if c.k in in_range_ks], base), strict=True))
    out = []
    for c in scored:
        score = elbows.get(c.k)
        ok = c.stability >= config.min_stability and c.min_share >= cluster.min_share
        out.append(c.model_copy(update={"elbow": None if score is None else round(score, 6), "admissible": ok}))
    in_range = [c for c in out if c.k in in_range_ks]
    return out, in_range, [c.k for c in in_range if c.admissible]


def choose_k(
    X: np.ndarray,
    *,
    config: KSelectionConfig,
    cluster: ClusterConfig,
    on_step: Callable[[], None] | None = None,
    order: np.ndarray | None = None,
) -> KSelection:
    """Score every candidate k on a stratified sample and choose one by the documented vote.

    Parameters
    ----------
    X
        ``n x p`` scaled feature matrix.
    config
        Range of k, sample size, silhouette subsample, stability resamples and
        threshold, number of gap reference sets.
    cluster
        Algorithm and seed (the same as the final fit); ``cluster.min_share``
        is the smallest admissible segment share. When ``cluster.k`` is set
        the table is still computed (with that k added if outside the range)
        and the rule still votes; ``chosen_k`` is ``cluster.k``, ``rule_k`` what
        the rule chose, and ``overridden`` is true.
    on_step
        Called with no argument once per fit; :func:`choose_k_steps` gives the
        total.
    order
        :func:`analysis.cluster.canonical_order` of ``X`` when the caller has it.

    Returns
    -------
    KSelection
        Candidates sorted by k, the sample, the admissible set, every
        criterion's vote, the tally, the decision code and the chosen k.

    Raises
    ------
    DataError
        ``X`` is not a finite 2-D matrix or has too few rows for ``k_min``.
    """
    X = _validate(X, config.k_min)
    X = X[canonical_order(X) if order is None else order]
    sample = stratified_sample(X, config.sample_size, rng=np.random.default_rng([cluster.random_state, 0]))
    S = X[sample.rows]
    n = S.shape[0]
    ks = [k for k in _k_values(config, cluster) if k < n]
    if cluster.k is not None and cluster.k not in ks:
        raise DataError(f"cannot form k = {cluster.k} segments from {n} customers; need more than k.")
    if not any(config.k_min <= k <= config.k_max for k in ks):
        raise DataError(f"choosing k needs more than k_min = {config.k_min} customers; got {n}.")
    scorer = _Scorer(S, config, cluster, on_step if on_step is not None else (lambda: None))
    # One BLAS/OpenMP thread: on these small matrices the threading overhead costs more than it
    # saves (measured 7 s vs 77 s on CDNOW on a busy 2-core machine), and results do not depend
    # on the machine's core count.
    with threadpool_limits(limits=1):
        base = scorer.base_inertia(config.k_min)
        candidates, in_range, admissible = _finish([scorer.candidate(k) for k in ks], base, config, cluster)
    voters = [c for c in in_range if c.admissible] or in_range
    votes = cast_votes(in_range, voters)
    rule_k, decision, rows = tally(votes)
    return KSelection(
        candidates=candidates,
        k_min=config.k_min,
        k_max=config.k_max,
        sample=KSample(customers=X.shape[0], size=n, method=sample.method, bins=sample.bins, cells=sample.cells),
        gap_references=config.gap_references,
        base_inertia=base,
        min_stability=config.min_stability,
        min_share=cluster.min_share,
        admissible=admissible,
        fallback=None if admissible else "no_admissible_k",
        votes=votes,
        tally=rows,
        decision=decision,
        rule_k=rule_k,
        chosen_k=cluster.k if cluster.k is not None else rule_k,
        overridden=cluster.k is not None,
    )
