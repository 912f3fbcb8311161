"""A second refresh of a hand-made bundle: its ``history`` and ``migration`` sections, invented but consistent."""

from __future__ import annotations

from analysis.bundle import Bundle
from analysis.history_schema import (
    HistorySection,
    MigrationSection,
    RefitDecision,
    SegmentMatch,
    Transition,
    TrendPoint,
    TrendSegment,
)

__all__ = ["with_history"]


def with_history(bundle: Bundle, *, previous_snapshot: str = "2011-09-10", migration: bool = True) -> Bundle:
    """``bundle`` as a second refresh: a history (the previous refresh had 10% more customers
    in each segment) and, with ``migration``, the customers who moved between segments.

    In every segment four fifths of its previous customers stayed, a tenth moved to the next
    segment, the rest left the data; the new customers fill each segment up to its size now.
    """
    segs = sorted(bundle.segments, key=lambda s: s.id)
    ids = [s.id for s in segs]
    before = {s.id: round(s.size * 1.1) for s in segs}
    stay = {i: before[i] * 8 // 10 for i in ids}
    move = {i: before[i] // 10 for i in ids}
    target = {i: ids[(k + 1) % len(ids)] for k, i in enumerate(ids)}
    arrived = {i: sum(move[j] for j in ids if target[j] == i) for i in ids}
    transitions = []
    for i in ids:
        transitions.append(
            Transition(
                **{
                    "from": i,
                    "to": i,
                    "customers": stay[i],
                    "revenue": 10.0 * stay[i],
                    "predicted_value": 20.0 * stay[i],
                }
            )
        )
        transitions.append(
            Transition(
                **{
                    "from": i,
                    "to": target[i],
                    "customers": move[i],
                    "revenue": 5.0 * move[i],
                    "predicted_value": 9.0 * move[i],
                }
            )
        )
        transitions.append(
            Transition(
                **{
                    "from": i,
                    "to": None,
                    "customers": before[i] - stay[i] - move[i],
                    "revenue": 0.0,
                    "predicted_value": None,
                }
            )
        )
    new = {s.id: max(0, s.size - stay[s.id] - arrived[s.id]) for s in segs}
    transitions += [
        Transition(**{"from": None, "to": i, "customers": n, "revenue": 7.0 * n, "predicted_value": 11.0 * n})
        for i, n in new.items()
        if n
    ]
    transitions.sort(key=lambda t: (t.from_ is None, t.from_ or 0, t.to is None, t.to or 0))

    def point(snapshot: str, sizes: dict[int, int]) -> TrendPoint:
        total = sum(sizes.values())
        return TrendPoint(
            snapshot=snapshot,
            data_sha256="cd" * 32,
            customers=total,
            revenue=float(sum(s.revenue for s in segs)),
            segments=[
                TrendSegment(
                    segment=s.id,
                    name=s.name,
                    customers=sizes[s.id],
                    share_customers=sizes[s.id] / total,
                    revenue=s.revenue,
                    predicted_value=None,
                )
                for s in segs
            ],
        )

    history = HistorySection(
        previous_snapshot=previous_snapshot,
        decision=RefitDecision(
            policy="auto",
            refitted=False,
            reason="previous_fits",
            previous_k=len(segs),
            chosen_k=len(segs),
            agreement=0.91,
            min_agreement=0.7,
            smallest_previous_share=0.08,
        ),
        matches=[SegmentMatch(segment=i, previous=i, distance=0.1) for i in ids],
        retired=[],
        max_match_distance=1.0,
        trend=[point(previous_snapshot, before), point(bundle.data.snapshot_date, {s.id: s.size for s in segs})],
    )
    in_both = sum(stay.values()) + sum(move.values())
    section = MigrationSection(
        previous_snapshot=previous_snapshot,
        current_snapshot=bundle.data.snapshot_date,
        previous_customers=sum(before.values()),
        current_customers=bundle.data.customers,
        in_both=in_both,
        new=sum(new.values()),
        gone=sum(before.values()) - in_both,
        moved=sum(move.values()),
        transitions=transitions,
    )
    return bundle.model_copy(update={"history": history, "migration": section if migration else None})
