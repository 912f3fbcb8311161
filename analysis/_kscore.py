"""Fitting and scoring each candidate k on the sample, in this process and in worker processes.

:class:`Scorer` holds what every k shares (the sample, the stability
subsamples, the gap reference sets, the silhouette rows) and scores one k at a
time; :func:`score_candidates` scores every k, handing some of them to other
processes when it is given more than one.

Processes
---------
Each candidate costs ``1 + stability_resamples + gap_references`` k-means fits
of ``n_init`` restarts (21 fits of 10 on the defaults), single-threaded: on
matrices of a few thousand rows a BLAS or OpenMP thread pool costs more than it
saves, and threads in one process gain nothing either, because most of a fit
of this size is Python (measured: 10.2 s in one thread against 13.0 s in two).
What does use a second core is a second process. Each candidate is split
into pieces (:data:`CORE`: the fit and its stability refits; then one piece
per gap reference fit), listed k by k. Worker processes
(:class:`analysis._kworker.Worker`, fed through a pipe) take pieces from the
end, heaviest k first, each kept :data:`QUEUED` pieces ahead, while this
process fits them from the front, so that the processes end within a piece
of each other. The pipeline starts the workers when the log is loaded
(:func:`scoring_workers`); on Linux each is a fork of this process, with the
scientific stack imported already. Every piece of a k depends on that k's
seeds and on the shared sets alone, a worker builds the same :class:`Scorer`
from the same sample, and floats cross the pipe as JSON, which keeps every
bit, so the candidates are the same numbers whichever processes fitted
them (a test checks this).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances_chunked,
    silhouette_score,
)

from analysis._kcriteria import gap_references, inertia
from analysis._kworker import Worker
from analysis.bundle import Candidate
from analysis.cluster import _fit_labels
from analysis.config import ClusterConfig, KSelectionConfig

__all__ = ["CORE", "Scorer", "Task", "process_count", "score_candidates", "scoring_workers"]

# Seed offsets from cluster.random_state: stability refit r uses +1+r (as before this rule), gap
# reference fit b uses +_REFERENCE_SEED+b; the streams that draw the sample, the subsamples and
# the reference sets are separate, so changing one count does not reshuffle the others.
_REFERENCE_SEED = 1000

PARALLEL_LINES = 100_000
"""Logs shorter than this start no worker before the customer table is known."""

PARALLEL_ROWS = 1000
"""Samples smaller than this are scored in one process: starting a worker (about a second to
import the scientific stack) would cost more than the fits it takes over."""


CORE = -1
"""The piece of a candidate that fits the sample itself and refits its stability subsamples (1 +
``stability_resamples`` fits); pieces ``0 .. gap_references - 1`` each fit one gap reference set.
Processes share out pieces, not whole candidates, so that none waits long for another's last one.
"""

PRECOMPUTED_ROWS = 4000
"""The silhouette's distances between the rows it is computed on are kept when there are at most
this many rows (128 MB at 4,000): they are the same for every k."""


def _distances(X: np.ndarray) -> np.ndarray | None:
    """The silhouette's distance matrix of ``X``, the very numbers :func:`silhouette_score` computes.

    ``silhouette_score(X, labels)`` computes the Euclidean distances between the rows of ``X`` with
    :func:`pairwise_distances_chunked` (the diagonal set to 0) each time it is called: on 3,000 rows
    0.23 s of each candidate's 0.25 s. Computed once here by that same function in this process,
    ``silhouette_score(D, labels, metric="precomputed")`` sums the same numbers, so the score is
    the same to the last bit (a test checks it); None for more rows than :data:`PRECOMPUTED_ROWS`.
    """
    if X.shape[0] > PRECOMPUTED_ROWS:
        return None
    return np.vstack(list(pairwise_distances_chunked(X, metric="euclidean")))


class Scorer:
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
        self.distances = _distances(S if self.sil_rows is None else S[self.sil_rows])

    def labels(self, X: np.ndarray, k: int, seed: int) -> np.ndarray:
        out = _fit_labels(X, k, random_state=seed, **self.fit)
        self.step()
        return out

    def _separation(self, labels: np.ndarray) -> tuple[float, float, float]:
        S, rows = self.S, self.sil_rows
        if len(np.unique(labels)) < 2:
            return -1.0, 0.0, 1e9
        sub = labels if rows is None else labels[rows]
        if not 2 <= len(np.unique(sub)) < len(sub):
            silhouette = -1.0
        elif self.distances is not None:
            silhouette = float(silhouette_score(self.distances, sub, metric="precomputed"))
        else:
            silhouette = float(silhouette_score(S if rows is None else S[rows], sub))
        return silhouette, float(calinski_harabasz_score(S, labels)), float(davies_bouldin_score(S, labels))

    @property
    def pieces(self) -> list[int]:
        """The pieces of every candidate: :data:`CORE`, then one per gap reference set."""
        return [CORE, *range(len(self.references))]

    def piece(self, k: int, piece: int) -> dict[str, float]:
        """The numbers of one piece of candidate ``k`` (see :data:`CORE`), as :meth:`assemble` takes them."""
        S, seed = self.S, self.cluster.random_state
        if piece != CORE:
            Z = self.references[piece]
            return {"inertia": float(inertia(Z, self.labels(Z, k, seed + _REFERENCE_SEED + piece)))}
        labels = self.labels(S, k, seed)
        silhouette, ch, db = self._separation(labels)
        stability = [
            adjusted_rand_score(labels[rows], self.labels(S[rows], k, seed + 1 + r))
            for r, rows in enumerate(self.subsets)
        ]
        return {
            "inertia": float(inertia(S, labels)),
            "silhouette": silhouette,
            "calinski_harabasz": ch,
            "davies_bouldin": db,
            "stability": float(np.mean(stability)),
            "min_share": float(np.bincount(labels, minlength=k).min()) / S.shape[0],
        }

    def assemble(self, k: int, core: dict[str, float], references: list[float]) -> Candidate:
        """Candidate ``k`` from its :data:`CORE` piece and the inertias of its reference fits, in order."""
        w, db = core["inertia"], core["davies_bouldin"]
        ref_logs = np.log([max(r, 1e-300) for r in references])
        # Tibshirani et al. (2001), step 3: sd over the B sets (1/B), inflated by sqrt(1 + 1/B).
        gap_sd = float(ref_logs.std()) * np.sqrt(1.0 + 1.0 / len(ref_logs))
        return Candidate(
            k=k,
            inertia=round(w, 6),
            silhouette=round(core["silhouette"], 6),
            calinski_harabasz=round(core["calinski_harabasz"], 6),
            davies_bouldin=round(db if np.isfinite(db) else 1e9, 6),
            gap=round(float(ref_logs.mean()) - float(np.log(max(w, 1e-300))), 6),
            gap_sd=round(gap_sd, 6),
            elbow=None,
            stability=round(core["stability"], 6),
            min_share=round(core["min_share"], 6),
            admissible=False,
        )

    def candidate(self, k: int) -> Candidate:
        """Every piece of candidate ``k``, fitted here in order."""
        pieces = {piece: self.piece(k, piece) for piece in self.pieces}
        return self.assemble(k, pieces[CORE], [pieces[b]["inertia"] for b in self.pieces[1:]])

    def base_inertia(self, k_min: int) -> float:
        """Inertia at ``k_min - 1``: the total sum of squares for k = 1, else one fit."""
        if k_min == 2:
            return round(float(((self.S - self.S.mean(axis=0)) ** 2).sum()), 6)
        return round(inertia(self.S, self.labels(self.S, k_min - 1, self.cluster.random_state)), 6)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def process_count(config: KSelectionConfig, rows: int, candidates: int) -> int:
    """How many processes score the candidates: ``config.processes``, or when 0 the CPUs this
    process may run on, at most one per candidate and 1 for a sample under :data:`PARALLEL_ROWS`."""
    if config.processes:
        return max(1, min(config.processes, candidates))
    return 1 if rows < PARALLEL_ROWS else max(1, min(_cpus(), candidates))


def _start(count: int) -> list[Worker]:
    """Up to ``count`` workers; one that cannot start is left out."""
    workers = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            workers.append(Worker())
    return workers


@contextlib.contextmanager
def scoring_workers(config: KSelectionConfig, *, lines: int) -> Iterator[list[Worker]]:
    """Workers started early (forks on Linux; elsewhere they import while the log is cleaned); closed on leaving.

    With ``processes = 0`` they start for a log of at least :data:`PARALLEL_LINES` lines (a smaller
    one seldom gives a sample worth a worker), as many as CPUs less one, at most one per k of the
    range less one; with ``processes = N``, N - 1 of them. A worker that cannot start is left out.
    """
    ks = config.k_max - config.k_min + 1
    count = config.processes or (min(_cpus(), ks) if lines >= PARALLEL_LINES else 1)
    workers: list[Worker] = []
    try:
        workers += _start(count - 1)
        yield workers
    finally:
        for worker in workers:
            worker.close()


QUEUED = 2
"""Pieces a worker is given ahead: it starts the next as soon as it ends one, while this process
notices only between its own fits (a piece may be a single fit)."""

Task = tuple[int, int]
"""(k, piece): one piece of one candidate (see :data:`CORE`)."""


class _Shared:
    """The pieces not yet handed out, the pieces done, and the workers that take them from the end."""

    def __init__(self, tasks: list[Task], workers: list[Worker], tick: Callable[[], None], core_fits: int) -> None:
        self.pending, self.done, self.workers = list(tasks), {}, workers
        self.tick, self.core_fits = tick, core_fits

    def service(self, wait: float | None) -> None:
        """Gather finished pieces and keep each worker :data:`QUEUED` pieces ahead, from the end of
        the pending list; a failed worker's pieces go back to it, and the worker is closed and dropped."""
        for worker in list(self.workers):
            try:
                while worker.tasks and (answer := worker.result(wait)) is not None:
                    task, numbers = answer
                    self.done[task] = numbers
                    for _ in range(self.core_fits if task[1] == CORE else 1):
                        self.tick()
                    wait = 0.0
                while len(worker.tasks) < QUEUED and self.pending:
                    worker.send(self.pending.pop())
            except OSError:
                self.pending = sorted([*self.pending, *worker.take_back()])
                worker.close()
                self.workers.remove(worker)

    @property
    def busy(self) -> bool:
        return any(w.tasks for w in self.workers)


def score_candidates(
    scorer: Scorer, ks: list[int], *, config: KSelectionConfig, workers: list[Worker] | None = None
) -> list[Candidate]:
    """Score every k of ``ks`` (ascending), pieces of the largest in worker processes when there are any.

    ``workers`` are used and closed; None: as many as :func:`process_count` says are started here.
    Call under ``threadpool_limits(1)``. The pieces (:data:`CORE`, then the reference fits) are
    listed k by k: this process fits them from the front, the workers take them from the end,
    heaviest k first, so the two meet within a piece. ``scorer.step`` is called once per fit: as
    each fit ends in this process, and per finished piece of a worker, as this process notices it
    (after each of its own fits, so an idle worker gets its next piece within one fit). A worker
    that cannot start or fails leaves its piece to this process.
    """
    if workers is None:
        workers = _start(process_count(config, scorer.S.shape[0], len(ks)) - 1)
    tick, workers = scorer.step, list(workers)
    try:
        if len(ks) < 2 or not workers:
            return [scorer.candidate(k) for k in ks]
        for worker in workers:
            worker.begin(scorer.S, config, scorer.cluster)
        shared = _Shared([(k, p) for k in ks for p in scorer.pieces], workers, tick, 1 + config.stability_resamples)
        scorer.step = lambda: (tick(), shared.service(0.0))
        shared.service(0.0)
        while shared.pending or shared.busy:
            if shared.pending:
                task = shared.pending.pop(0)
                shared.done[task] = scorer.piece(*task)
            shared.service(0.0 if shared.pending else None)
        done = shared.done
        return [scorer.assemble(k, done[k, CORE], [done[k, b]["inertia"] for b in scorer.pieces[1:]]) for k in ks]
    finally:
        scorer.step = tick
        for worker in workers:
            worker.close()
