"""Everything the brief template shows, computed once from the bundle.

The template does no arithmetic and picks nothing: this module chooses the
three actions, orders the rows and words the sentences that carry numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.bundle import Bundle
from publishing.charts import FALLBACK_COLOR

__all__ = [
    "Action",
    "BriefContext",
    "ClvSummary",
    "Headline",
    "KChoice",
    "SegmentRow",
    "TestLine",
    "TestPlan",
    "brief_context",
]

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
    values: dict[str, float]
    size: int
    share_customers: float
    revenue: float
    share_revenue: float
    value: float
    value_label: str


@dataclass(frozen=True)
class ClvSummary:
    """The CLV line of the brief: the total predicted value, or why it is not shown."""

    reliable: bool
    reason: str | None
    total: float | None
    low: float | None
    high: float | None
    interval_level: float | None
    horizon: float
    time_unit: str
    annual_discount_rate: float
    top_segment: str | None
    top_share: float | None


@dataclass(frozen=True)
class TestLine:
    """One segment's planned A/B test of its recommended action."""

    segment: str
    color: str
    action: str | None
    values: dict[str, float]
    testable: bool
    required_total: int | None
    assigned_total: int
    min_detectable_effect: float | None
    reason: str | None
    on_revenue: bool = False
    """True when the segment is sized on revenue per customer instead of the plan's conversion metric."""
    min_detectable_points: float | None = None
    """Smallest detectable rise in rate points (5.0 = 5 points) when no relative lift can be given."""


@dataclass(frozen=True)
class TestPlan:
    """The experiments section in brief: the metric and one line per segment."""

    metric_label: str
    mde: float
    alpha: float
    power: float
    control_share: float
    testable_segments: int
    lines: tuple[TestLine, ...]
    baseline_source: str | None = None
    """'bgnbd' (model forecast), 'history' (back-test fallback) or None (older bundles)."""


@dataclass(frozen=True)
class KChoice:
    """How many groups, and how many of the independent checks agreed (the template words it)."""

    groups: int
    agreeing: int
    checks: int
    overridden: bool
    rule_groups: int
    indicative: bool


def _k_choice(bundle: Bundle) -> KChoice:
    ks = bundle.k_selection
    return KChoice(
        groups=ks.chosen_k,
        agreeing=sum(1 for v in ks.votes if v.k == ks.rule_k),
        checks=len(ks.votes),
        overridden=ks.overridden,
        rule_groups=ks.rule_k,
        indicative=ks.fallback is not None,
    )


@dataclass(frozen=True)
class Headline:
    """The one-sentence finding under the KPI tiles: the segment whose revenue share most exceeds its head-count."""

    segment: str
    color: str
    share_customers: float
    share_revenue: float


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
    actions_title: str
    action_rule: str
    k_choice: KChoice
    site_url: str
    compact: bool
    headline: Headline | None
    clv: ClvSummary | None
    tests: TestPlan | None


def _clv_values(bundle: Bundle) -> dict[int, float]:
    """Predicted future value per segment id, when a reliable CLV section is present."""
    clv: Any = getattr(bundle, "clv", None)  # optional section (analysis.clv ClvSection)
    if clv is None or not clv.reliable or not clv.segments:
        return {}
    return {row.segment: row.clv for row in clv.segments if row.segment is not None}


def _choose_actions(bundle: Bundle, colors: dict[int, str]) -> tuple[tuple[Action, ...], str]:
    clv = _clv_values(bundle)
    if clv:
        basis, label = "each segment's predicted future value (CLV)", "predicted value"
        value_of = {s.id: clv.get(s.id, 0.0) for s in bundle.segments}
    else:
        basis, label = "the revenue each segment brought in the period", "revenue"
        value_of = {s.id: s.revenue for s in bundle.segments}
    rule = (
        f"Ranked by {basis}: the first playbook action of the most valuable segments; "
        "with fewer segments than actions, their next actions follow."
    )
    # Round-robin over the playbook: every segment's first action (by value, ties by id),
    # then every segment's second action, and so on.
    ranked = sorted(bundle.segments, key=lambda s: (-value_of[s.id], s.id))
    depth = max((len(s.recommendations) for s in ranked), default=0)
    picks = [(seg, seg.recommendations[i]) for i in range(depth) for seg in ranked if i < len(seg.recommendations)][
        :N_ACTIONS
    ]
    actions = tuple(
        Action(
            rank=rank,
            segment_id=seg.id,
            segment=seg.name,
            color=colors.get(seg.id, FALLBACK_COLOR),
            action=rec.action,
            why=rec.why,
            kpi=rec.kpi,
            values=seg.values,
            size=seg.size,
            share_customers=seg.share_customers,
            revenue=seg.revenue,
            share_revenue=seg.share_revenue,
            value=value_of[seg.id],
            value_label=label,
        )
        for rank, (seg, rec) in enumerate(picks, start=1)
    )
    return actions, rule


_COUNT_WORDS = {1: "The highest-value action", 2: "Two highest-value actions", 3: "Three highest-value actions"}


def _first_clause(text: str | None) -> str | None:
    """The first clause of a long explanation (the site carries the whole text)."""
    if not text:
        return text
    return text.split("; ")[0].rstrip(".") + "."


def _clv_summary(bundle: Bundle) -> ClvSummary | None:
    clv: Any = getattr(bundle, "clv", None)
    if clv is None:
        return None
    total = clv.total if clv.reliable else None
    top = None
    if clv.reliable and clv.segments:
        top = max(clv.segments, key=lambda r: (r.share_of_value, -(r.segment or 0)))
    return ClvSummary(
        reliable=bool(clv.reliable and total is not None),
        reason=clv.headline,
        total=None if total is None else total.clv,
        low=None if total is None else total.clv_low,
        high=None if total is None else total.clv_high,
        interval_level=clv.interval_level if total is not None else None,
        horizon=clv.horizon,
        time_unit=clv.time_unit,
        annual_discount_rate=clv.annual_discount_rate,
        top_segment=None if top is None else {s.id: s.name for s in bundle.segments}.get(top.segment),
        top_share=None if top is None else top.share_of_value,
    )


def _points(design: Any, plan_metric: str) -> float | None:
    # A conversion design with no relative lift (baseline at 0 or near 100%) still has an absolute one.
    diff = getattr(design, "min_detectable_difference", None)
    if (getattr(design, "metric", None) or plan_metric) != "conversion" or design.min_detectable_effect is not None:
        return None
    return None if diff is None else 100.0 * diff


def _test_plan(bundle: Bundle, colors: dict[int, str]) -> TestPlan | None:
    exp = bundle.experiments
    if exp is None:
        return None
    names = {s.id: s.name for s in bundle.segments}
    lines = tuple(
        TestLine(
            segment=names.get(d.segment, f"Segment {d.segment}"),
            color=colors.get(d.segment, FALLBACK_COLOR),
            action=d.action,
            values=next((s.values for s in bundle.segments if s.id == d.segment), {}),
            testable=d.testable,
            required_total=d.required_total,
            assigned_total=d.assigned_treatment + d.assigned_control,
            min_detectable_effect=d.min_detectable_effect,
            reason=d.verdict,
            on_revenue=d.metric != exp.metric,
            min_detectable_points=_points(d, exp.metric),
        )
        for d in exp.designs
    )
    return TestPlan(
        metric_label=("repurchase" if exp.metric == "conversion" else "revenue per customer")
        + f" within {exp.window_days} days",
        mde=exp.mde,
        alpha=exp.alpha,
        power=exp.power,
        control_share=exp.control_share,
        testable_segments=exp.testable_segments,
        lines=lines,
        baseline_source=exp.baseline_source,
    )


def _headline(rows: tuple[SegmentRow, ...]) -> Headline | None:
    """The segment whose share of revenue most exceeds its share of customers (ties: lower id)."""
    ahead = [r for r in rows if r.share_revenue > r.share_customers]
    if not ahead:
        return None
    best = max(ahead, key=lambda r: (r.share_revenue - r.share_customers, -r.id))
    return Headline(
        segment=best.name, color=best.color, share_customers=best.share_customers, share_revenue=best.share_revenue
    )


def brief_context(bundle: Bundle, *, colors: dict[int, str], site_url: str) -> BriefContext:
    """Compute what the brief shows.

    Parameters
    ----------
    bundle
        The validated bundle.
    colors
        ``{segment id: CSS colour}``, the same as the site's.
    site_url
        Where the full site lives, printed on the second page.

    Returns
    -------
    BriefContext
        Rows in segment-id order (descending mean spend); up to three actions of the
        highest-value segments (see :attr:`BriefContext.action_rule`).
    """
    data = bundle.data
    rows = tuple(
        SegmentRow(
            id=s.id,
            name=s.name,
            color=colors.get(s.id, FALLBACK_COLOR),
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
        actions_title=_COUNT_WORDS.get(len(actions), "Recommended actions"),
        action_rule=rule,
        k_choice=_k_choice(bundle),
        site_url=site_url,
        compact=len(rows) > 8 or (len(rows) > 6 and getattr(bundle, "experiments", None) is not None),
        headline=_headline(rows),
        clv=_clv_summary(bundle),
        tests=_test_plan(bundle, colors),
    )
