"""A hand-made ``k_selection`` section for the bundle factories (site, figures, brief).

The candidate table is invented but shaped so that every criterion has a clear
answer: ``peak`` is best on silhouette, Calinski-Harabasz, Davies-Bouldin and the
gap rule, and the inertia curve bends there. The votes and the tally are then
counted by the real :mod:`analysis._kcriteria`, so the section is consistent
with its own numbers, as a bundle written by the pipeline is.
"""

from __future__ import annotations

from analysis._kcriteria import cast_votes, elbow_scores, tally
from analysis.bundle import Candidate, KSample, KSelection

__all__ = ["hand_made_selection"]


def hand_made_selection(
    peak: int,
    *,
    k_min: int = 2,
    k_max: int = 10,
    customers: int = 5_852,
    sample_size: int = 3_000,
    min_share: float = 0.02,
    fixed_k: int | None = None,
) -> KSelection:
    """Return a :class:`KSelection` whose criteria point at ``peak`` (``fixed_k`` overrides the choice)."""
    ks = list(range(k_min, k_max + 1))
    # Inertia halves with each segment up to the peak, then falls by 5% a segment: a sharp bend.
    inertia = [10_000.0 * 0.5 ** min(k, peak) * 0.95 ** max(0, k - peak) for k in ks]
    base = 10_000.0 * 0.5 ** (k_min - 1)
    elbows = elbow_scores(inertia, base)
    rows = [
        Candidate(
            k=k,
            inertia=round(w, 6),
            silhouette=round(0.42 - 0.03 * abs(k - peak), 6),
            calinski_harabasz=2100.0 - 150.0 * abs(k - peak),
            davies_bouldin=round(0.6 + 0.05 * abs(k - peak), 6),
            gap=round(0.5 + 0.3 * min(k, peak) - 0.01 * max(0, k - peak), 6),
            gap_sd=0.02,
            elbow=None if e is None else round(e, 6),
            stability=round(min(0.98, 0.99 - 0.03 * max(0, k - peak)), 6),
            min_share=round(0.5 / k, 6),
            admissible=min(0.98, 0.99 - 0.03 * max(0, k - peak)) >= 0.75 and 0.5 / k >= min_share,
        )
        for k, w, e in zip(ks, inertia, elbows, strict=True)
    ]
    voters = [c for c in rows if c.admissible] or rows
    votes = cast_votes(rows, voters)
    rule_k, decision, counted = tally(votes)
    return KSelection(
        candidates=rows,
        k_min=k_min,
        k_max=k_max,
        sample=KSample(
            customers=customers,
            size=min(customers, sample_size),
            method="stratified" if customers > sample_size else "all",
            bins=4 if customers > sample_size else None,
            cells=170 if customers > sample_size else None,
        ),
        gap_references=10,
        base_inertia=base,
        min_stability=0.75,
        min_share=min_share,
        admissible=[c.k for c in rows if c.admissible],
        fallback=None if any(c.admissible for c in rows) else "no_admissible_k",
        votes=votes,
        tally=counted,
        decision=decision,
        rule_k=rule_k,
        chosen_k=rule_k if fixed_k is None else fixed_k,
        overridden=fixed_k is not None,
    )
