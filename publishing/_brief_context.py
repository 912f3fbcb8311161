"""Everything the brief template shows, computed once from the bundle.

The template does no arithmetic and picks nothing: this module chooses the
three actions, orders the rows and words the sentences that carry numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.bundle import Bundle, Segment

__all__ = ["Action", "BriefContext", "SegmentRow", "brief_context"]

N_ACTIONS = 3


@dataclass(frozen=True)
class SegmentRow:
    """One line of the segment table."""

    id: int
    name: str
    color: str
    size: int
    share_customers: float
    revenue: float
    share_revenue: float
    revenue_per_customer: float
    outlier: bool


@dataclass(frozen=True)
class Action:
    """One of the highest-value actions, with the numbers that justify it."""

    rank: int
    segment_id: int
    segment: str
    color: str
    action: str
    why: str
    kpi: str
    size: int
    share_customers: float
    revenue: float
    share_revenue: float
    value: float
    value_label: str


@dataclass(frozen=True)
class BriefContext:
    """The brief's whole input: the template sees this and nothing else."""

    title: str
    source: str
    snapshot_date: str | None
    date_first: str | None
    date_last: str | None
    customers: int
    revenue: float
    orders: int | None
    n_segments: int
    rows: tuple[SegmentRow, ...]
    actions: tuple[Action, ...]
    action_rule: str
    k_rationale: str
    site_url: str
    currency: str
    compact: bool
    extra_lines: tuple[str, ...]


def _first_action(segment: Segment) -> tuple[str, str, str] | None:
    if not segment.recommendations:
        return None
    rec = segment.recommendations[0]
    return rec.action, rec.why, rec.kpi


def _clv_values(bundle: Bundle) -> dict[int, float]:
    """Predicted future value per segment id when a reliable CLV section is present."""
    clv = getattr(bundle, "clv", None)
    if clv is None or not getattr(clv, "reliable", True):
        return {}
    values: dict[int, float] = {}
    for row in getattr(clv, "segments", None) or []:
        seg_id = getattr(row, "segment", getattr(row, "id", None))
        total = getattr(row, "total_clv", getattr(row, "clv", None))
        if isinstance(seg_id, int) and isinstance(total, int | float):
            values[seg_id] = float(total)
    return values


def _choose_actions(bundle: Bundle, colors: dict[int, str]) -> tuple[tuple[Action, ...], str]:
    clv = _clv_values(bundle)
    if clv:
        rule = (
            "Ranked by each segment's predicted future value (CLV); one action per segment, "
            "the first of its playbook."
        )
        label = "predicted value"
        value_of = {s.id: clv.get(s.id, 0.0) for s in bundle.segments}
    else:
        rule = (
            "Ranked by the revenue each segment brought in the period; one action per segment, "
            "the first of its playbook."
        )
        label = "revenue"
        value_of = {s.id: s.revenue for s in bundle.segments}
    # Ties are broken by segment id so the choice is stable across runs.
    ranked = sorted(
        (s for s in bundle.segments if _first_action(s) is not None),
        key=lambda s: (-value_of[s.id], s.id),
    )
    actions = []
    for rank, seg in enumerate(ranked[:N_ACTIONS], start=1):
        action, why, kpi = _first_action(seg)  # type: ignore[misc]
        actions.append(
            Action(
                rank=rank,
                segment_id=seg.id,
                segment=seg.name,
                color=colors.get(seg.id, "#555555"),
                action=action,
                why=why,
                kpi=kpi,
                size=seg.size,
                share_customers=seg.share_customers,
                revenue=seg.revenue,
                share_revenue=seg.share_revenue,
                value=value_of[seg.id],
                value_label=label,
            )
        )
    return tuple(actions), rule


def _extra_lines(bundle: Bundle) -> tuple[str, ...]:
    """Short sentences about the optional CLV and experiments sections, when present."""
    lines: list[str] = []
    for name in ("clv", "experiments"):
        section: Any = getattr(bundle, name, None)
        if section is None:
            continue
        for attr in ("headline", "summary", "brief_lines"):
            value = getattr(section, attr, None)
            if isinstance(value, str) and value:
                lines.append(value)
                break
            if isinstance(value, list | tuple) and value:
                lines.extend(str(v) for v in value)
                break
    return tuple(lines)


def brief_context(
    bundle: Bundle, *, colors: dict[int, str], site_url: str, currency: str = ""
) -> BriefContext:
    """Compute what the brief shows.

    Parameters
    ----------
    bundle
        The validated bundle.
    colors
        ``{segment id: CSS colour}``, the same as the site's.
    site_url
        Where the full site lives, printed on the second page.
    currency
        Symbol printed before amounts (``""`` when the data's currency is unknown).

    Returns
    -------
    BriefContext
        Rows in segment-id order (descending mean spend); the three actions of the
        highest-value segments (see :attr:`BriefContext.action_rule`).
    """
    data = bundle.data
    rows = tuple(
        SegmentRow(
            id=s.id,
            name=s.name,
            color=colors.get(s.id, "#555555"),
            size=s.size,
            share_customers=s.share_customers,
            revenue=s.revenue,
            share_revenue=s.share_revenue,
            revenue_per_customer=s.revenue / s.size if s.size else 0.0,
            outlier=s.outlier,
        )
        for s in sorted(bundle.segments, key=lambda s: s.id)
    )
    actions, rule = _choose_actions(bundle, colors)
    return BriefContext(
        title="Customer segments: executive brief",
        source=data.source.name,
        snapshot_date=data.snapshot_date,
        date_first=data.date_range.first,
        date_last=data.date_range.last,
        customers=data.customers,
        revenue=data.revenue,
        orders=data.orders,
        n_segments=len(bundle.segments),
        rows=rows,
        actions=actions,
        action_rule=rule,
        k_rationale=bundle.k_selection.rationale,
        site_url=site_url,
        currency=currency,
        compact=len(rows) > 8,
        extra_lines=_extra_lines(bundle),
    )
