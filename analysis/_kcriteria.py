"""The five criteria that vote for k, and the tally (Charrad et al., 2014, NbClust's majority rule).

Every function here reads the candidate table as it is stored in the bundle
(rounded), so anyone holding a bundle can recompute the votes from its numbers.

A criterion votes among the *voters*: the admissible k of ``[k_min, k_max]``
(stability at least ``min_stability``, smallest segment at least ``min_share``),
or every k of the range when none is admissible (the ``"no_admissible_k"``
fallback). Equal scores go to the smaller k.

* **silhouette** (Rousseeuw, 1987): the voter with the highest mean silhouette.
* **calinski_harabasz** (Calinski & Harabasz, 1974): the highest ratio of
  between- to within-segment dispersion (NbClust's criterion for this index).
* **davies_bouldin** (Davies & Bouldin, 1979): the lowest index.
* **gap** (Tibshirani, Walther & Hastie, 2001): the smallest voter k below
  ``k_max`` with ``Gap(k) >= Gap(k+1) - s(k+1)``, where a k + 1 that is not a
  voter counts as meeting the rule: one more segment is no reason to go on when
  that segmentation was already refused (a noise group of a few customers
  splitting off raises the gap, but is no segment to act on). It abstains
  (``"gap_rule_not_met"``) when no voter meets the rule. The reference sets are
  drawn by :func:`gap_references`.
* **elbow**: the voter with the highest *elbow score*
  ``log(W[k-1] / W[k]) / log(W[k] / W[k+1])``, the relative drop in inertia ``W``
  that the k-th segment brought divided by the one the next segment would
  bring. It abstains (``"no_elbow"``) when no voter scores above 1, i.e. the
  curve does not bend. The score is the elbow of Thorndike (1953) made local:
  the kneedle distance to the chord used before (Satopaa et al., 2011)
  rescales the curve by its end points, so every k's score changed with
  ``k_max``; this one uses three neighbouring inertias only, and on the log
  scale of the gap statistic, so a segment that removes a fixed share of the
  remaining dispersion counts the same at any k.

The k with the most votes is chosen; a tie between several goes to the smallest
(``"tie_smaller_k"``), the simpler segmentation.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from analysis.bundle import CRITERIA, Candidate, TallyRow, Vote

__all__ = ["cast_votes", "elbow_scores", "gap_references", "inertia", "tally"]

_FLOOR = 1e-12
"""Relative floor on inertia and on its log drop, so a perfect fit (W = 0) stays finite."""


def inertia(X: np.ndarray, labels: np.ndarray) -> float:
    """Within-segment sum of squared distances to the segment means."""
    k = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, X)
    centres = sums / np.maximum(counts, 1)[:, None]
    return float(((X - centres[labels]) ** 2).sum())


def gap_references(X: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` reference sets, uniform over the principal-component-aligned bounding box of ``X``.

    Tibshirani, Walther & Hastie (2001), section 3, option (b): rotate the
    centred data onto its principal axes, draw uniformly over the box spanned
    there, and rotate back. Unlike the box of the raw features it follows the
    shape of correlated features (frequency and spend move together), so the
    reference is not padded with empty corners the data could never reach.
    """
    centre = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - centre, full_matrices=False)
    rotated = (X - centre) @ vt.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    return [rng.uniform(low, high, size=rotated.shape) @ vt + centre for _ in range(count)]


def elbow_scores(inertias: list[float], base: float) -> list[float | None]:
    """Elbow score of consecutive k; ``inertias[i]`` is W at ``k_min + i``, ``base`` is W at ``k_min - 1``.

    The last k has no score (it needs W at k + 1). A k whose segment removed
    nothing scores 0; one after which the next segment removes nothing gets the
    largest finite score, since the curve stops falling there.
    """
    floor = _FLOOR * max(base, 1.0)
    logs = [math.log(max(w, floor)) for w in [base, *inertias]]
    drops = [a - b for a, b in zip(logs, logs[1:], strict=False)]
    scores: list[float | None] = []
    for i in range(len(inertias)):
        if i + 1 >= len(drops):
            scores.append(None)
        elif drops[i] <= 0:
            scores.append(0.0)
        else:
            scores.append(drops[i] / max(drops[i + 1], _FLOOR))
    return scores


def _best(voters: list[Candidate], key) -> int:
    return min(voters, key=lambda c: (key(c), c.k)).k


def _gap_vote(voters: list[Candidate], by_k: dict[int, Candidate]) -> Vote:
    allowed = {c.k for c in voters}
    for c in voters:
        nxt = by_k.get(c.k + 1)
        if nxt is None:
            continue  # k_max: the rule needs Gap(k + 1)
        if nxt.k not in allowed or c.gap >= nxt.gap - nxt.gap_sd:
            return Vote(criterion="gap", k=c.k)
    return Vote(criterion="gap", k=None, abstained="gap_rule_not_met")


def _elbow_vote(voters: list[Candidate]) -> Vote:
    scored = [c for c in voters if c.elbow is not None and c.elbow > 1.0]
    if not scored:
        return Vote(criterion="elbow", k=None, abstained="no_elbow")
    return Vote(criterion="elbow", k=_best(scored, lambda c: -c.elbow))


def cast_votes(in_range: list[Candidate], voters: list[Candidate]) -> list[Vote]:
    """One vote per criterion of :data:`analysis.bundle.CRITERIA`, in that order.

    Parameters
    ----------
    in_range
        Candidates of ``[k_min, k_max]``, sorted by k (the gap rule reads k + 1
        from here, admissible or not).
    voters
        The k allowed to receive votes, sorted by k.
    """
    by_k = {c.k: c for c in in_range}
    votes = {
        "silhouette": Vote(criterion="silhouette", k=_best(voters, lambda c: -c.silhouette)),
        "calinski_harabasz": Vote(criterion="calinski_harabasz", k=_best(voters, lambda c: -c.calinski_harabasz)),
        "davies_bouldin": Vote(criterion="davies_bouldin", k=_best(voters, lambda c: c.davies_bouldin)),
        "gap": _gap_vote(voters, by_k),
        "elbow": _elbow_vote(voters),
    }
    return [votes[name] for name in CRITERIA]


def tally(votes: list[Vote]) -> tuple[int, str, list[TallyRow]]:
    """Return the chosen k, the decision code and the tally (most votes first, then smaller k)."""
    counts = Counter(v.k for v in votes if v.k is not None)
    rows = [
        TallyRow(k=k, votes=n, criteria=[v.criterion for v in votes if v.k == k])
        for k, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    top = [r for r in rows if r.votes == rows[0].votes]
    return top[0].k, ("tie_smaller_k" if len(top) > 1 else "most_votes"), rows
