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
enter the count. Fits run single-threaded, the candidates in ``[k_selection] processes``
processes (see :mod:`analysis._kscore`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from analysis._kcriteria import cast_votes, elbow_scores, tally
from analysis._ksample import stratified_sample
from analysis._kscore import Scorer, score_candidates
from analysis._kworker import Worker
from analysis.bundle import Candidate, KSample, KSelection
from analysis.cluster import _validate, canonical_order
from analysis.config import ClusterConfig, KSelectionConfig
from analysis.errors import DataError

__all__ = ["choose_k", "choose_k_steps"]


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
    workers: list[Worker] | None = None,
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
    workers
        Scoring processes started earlier (:func:`analysis._kscore.scoring_workers`), used and
        closed here; None: started here as ``[k_selection] processes`` says. The candidates are
        the same numbers either way.

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
    scorer = Scorer(S, config, cluster, on_step if on_step is not None else (lambda: None))
    # One BLAS/OpenMP thread: on these small matrices the threading overhead costs more than it
    # saves (measured 7 s vs 77 s on CDNOW on a busy 2-core machine), and results do not depend
    # on the machine's core count; the second core goes to a second process instead.
    with threadpool_limits(limits=1):
        base = scorer.base_inertia(config.k_min)
        scored = score_candidates(scorer, ks, config=config, workers=workers)
        candidates, in_range, admissible = _finish(scored, base, config, cluster)
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
