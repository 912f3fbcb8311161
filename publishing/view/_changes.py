"""What changed since the previous refresh: the refit decision, continuity, the trend and who moved where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analysis.bundle import Bundle
from analysis.history_schema import MigrationSection, RefitDecision, Transition
from publishing.view._common import Refs, SegmentRef, share

__all__ = [
    "ArchiveLink",
    "Axis",
    "Flow",
    "Move",
    "TrendRow",
    "SegmentHistory",
    "ChangesView",
    "changes_view",
    "segment_history",
]

#: The biggest moves the pages put in words.
MOVES_IN_WORDS = 3


@dataclass(frozen=True)
class ArchiveLink:
    """An earlier refresh's brief in this site."""

    snapshot: str
    href: str


@dataclass(frozen=True)
class Axis:
    """One row (previous segment, or ``"new"``) or column (current segment, or ``"gone"``) of the matrix."""

    kind: Literal["segment", "new", "gone"]
    segment: SegmentRef | None


@dataclass(frozen=True)
class Move:
    """Customers who were in ``source`` and are in ``target`` now (None: new, or gone)."""

    source: SegmentRef | None
    target: SegmentRef | None
    customers: int
    revenue: float
    predicted_value: float | None
    share_of_source: float


@dataclass(frozen=True)
class Flow:
    """Customers arriving in a segment from ``other`` (None: new) or leaving it for ``other`` (None: gone)."""

    other: SegmentRef | None
    customers: int
    predicted_value: float | None
    stayed: bool


@dataclass(frozen=True)
class TrendRow:
    """One segment across the refreshes (None where it did not exist)."""

    segment: SegmentRef
    customers: tuple[int | None, ...]
    shares: tuple[float | None, ...]
    values: tuple[float | None, ...]
    change: int | None


@dataclass(frozen=True)
class SegmentHistory:
    """One segment's trend and flows, for its page."""

    trend: TrendRow | None
    snapshots: tuple[str, ...]
    came_from: tuple[Flow, ...]
    went_to: tuple[Flow, ...]
    previous: SegmentRef | None
    new: bool


@dataclass(frozen=True)
class ChangesView:
    """Everything the Changes page and the brief's "since the last report" block show."""

    previous_snapshot: str
    current_snapshot: str
    decision: RefitDecision
    kept: tuple[SegmentRef, ...]
    new: tuple[SegmentRef, ...]
    retired: tuple[SegmentRef, ...]
    snapshots: tuple[str, ...]
    trend: tuple[TrendRow, ...]
    totals: tuple[int, ...]
    revenues: tuple[float, ...]
    has_values: bool
    migration: MigrationSection | None
    customer_change: int
    rows: tuple[Axis, ...]
    columns: tuple[Axis, ...]
    counts: tuple[tuple[int, ...], ...]
    moves: tuple[Move, ...]
    arrivals: tuple[Move, ...]
    departures: tuple[Move, ...]

    @property
    def biggest_moves(self) -> tuple[Move, ...]:
        return self.moves[:MOVES_IN_WORDS]


def _trend(bundle: Bundle, refs: Refs) -> tuple[tuple[str, ...], tuple[TrendRow, ...]]:
    points = bundle.history.trend
    snapshots = tuple(p.snapshot for p in points)
    ids = sorted({s.segment for p in points for s in p.segments}, key=lambda i: (refs.get(i).href is None, i))
    rows = []
    for sid in ids:
        by = [{s.segment: s for s in p.segments}.get(sid) for p in points]
        customers = tuple(None if s is None else s.customers for s in by)
        change = (
            None
            if customers[-1] is None or len(customers) < 2 or customers[-2] is None
            else customers[-1] - customers[-2]
        )
        rows.append(
            TrendRow(
                segment=refs.get(sid),
                customers=customers,
                shares=tuple(None if s is None else s.share_customers for s in by),
                values=tuple(None if s is None else s.predicted_value for s in by),
                change=change,
            )
        )
    return snapshots, tuple(rows)


def _move(t: Transition, refs: Refs, totals: dict[int | None, int]) -> Move:
    return Move(
        refs.get(t.from_),
        refs.get(t.to),
        t.customers,
        t.revenue,
        t.predicted_value,
        share(t.customers, totals[t.from_]),
    )


def _matrix(mig: MigrationSection, refs: Refs):
    sources = sorted({t.from_ for t in mig.transitions if t.from_ is not None})
    targets = sorted({t.to for t in mig.transitions if t.to is not None})
    has_new = any(t.from_ is None for t in mig.transitions)
    has_gone = any(t.to is None for t in mig.transitions)
    rows = [Axis("segment", refs.get(s)) for s in sources] + ([Axis("new", None)] if has_new else [])
    cols = [Axis("segment", refs.get(t)) for t in targets] + ([Axis("gone", None)] if has_gone else [])
    keys_r = [*sources, None] if has_new else sources
    keys_c = [*targets, None] if has_gone else targets
    cell = {(t.from_, t.to): t.customers for t in mig.transitions}
    counts = tuple(tuple(cell.get((r, c), 0) for c in keys_c) for r in keys_r)
    return tuple(rows), tuple(cols), counts


def changes_view(bundle: Bundle, refs: Refs) -> ChangesView | None:
    """The comparison with the previous refresh (None on a first refresh)."""
    hist, mig = bundle.history, bundle.migration
    if hist is None:
        return None
    snapshots, trend = _trend(bundle, refs)
    kept = tuple(refs.get(m.segment) for m in hist.matches if m.previous is not None)
    new = tuple(refs.get(m.segment) for m in hist.matches if m.previous is None)
    rows, cols, counts, moves, arrivals, departures = (), (), (), (), (), ()
    if mig is not None:
        rows, cols, counts = _matrix(mig, refs)
        totals: dict[int | None, int] = {}
        for t in mig.transitions:
            totals[t.from_] = totals.get(t.from_, 0) + t.customers
        ordered = sorted(mig.transitions, key=lambda t: (-t.customers, t.from_ or 0, t.to or 0))
        # A matched segment keeps its id, so a move is a change of id; new and gone customers are counted apart.
        moves = tuple(_move(t, refs, totals) for t in ordered if None not in (t.from_, t.to) and t.from_ != t.to)
        arrivals = tuple(_move(t, refs, totals) for t in ordered if t.from_ is None and t.to is not None)
        departures = tuple(_move(t, refs, totals) for t in ordered if t.to is None and t.from_ is not None)
    points = hist.trend
    return ChangesView(
        previous_snapshot=hist.previous_snapshot,
        current_snapshot=points[-1].snapshot if points else (bundle.data.snapshot_date or ""),
        decision=hist.decision,
        kept=kept,
        new=new,
        retired=tuple(refs.get(r) for r in hist.retired),
        snapshots=snapshots,
        trend=trend,
        totals=tuple(p.customers for p in points),
        revenues=tuple(p.revenue for p in points),
        has_values=any(v is not None for row in trend for v in row.values),
        migration=mig,
        customer_change=(points[-1].customers - points[-2].customers) if len(points) >= 2 else 0,
        rows=rows,
        columns=cols,
        counts=counts,
        moves=moves,
        arrivals=arrivals,
        departures=departures,
    )


def segment_history(changes: ChangesView | None, segment_id: int, refs: Refs) -> SegmentHistory | None:
    """One segment's part of ``changes`` (None on a first refresh)."""
    if changes is None:
        return None
    trend = next((r for r in changes.trend if r.segment.id == segment_id), None)
    came, went = [], []
    mig = changes.migration
    for t in () if mig is None else sorted(mig.transitions, key=lambda t: (-t.customers, t.from_ or 0, t.to or 0)):
        if t.to == segment_id:
            came.append(Flow(refs.get(t.from_), t.customers, t.predicted_value, t.from_ == segment_id))
        if t.from_ == segment_id:
            went.append(Flow(refs.get(t.to), t.customers, t.predicted_value, t.to == segment_id))
    previous = next((r for r in changes.kept if r.id == segment_id), None)
    return SegmentHistory(
        trend=trend,
        snapshots=changes.snapshots,
        came_from=tuple(came),
        went_to=tuple(went),
        previous=previous,
        new=any(r.id == segment_id for r in changes.new),
    )
