"""What the segments are worth: the business impact ranking and the lifetime-value model, as pages show them.

The ranking is the bundle's ``impact`` section (the analysis defines it once,
so the overview and the brief agree); this module only attaches names,
colours and each segment's first action, and words nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analysis.bundle import Bundle, Recommendation
from analysis.clv._schema import ClvSection, ClvSegmentValue, HoldoutRow, Withheld
from publishing.view._common import Refs, SegmentRef, share

__all__ = ["ImpactRow", "Pick", "ValueView", "ClvView", "ClvRow", "HoldoutLine", "value_view"]

#: A holdout error beyond this share of the actual purchases is worth a sentence.
ERROR_WORTH_SAYING = 0.2


@dataclass(frozen=True)
class ImpactRow:
    """One segment's business impact, in ranking order.

    ``stake`` is what the movable value is a share of: predicted value plus
    value at risk (``basis == "clv"``) or the period's revenue (``"revenue"``).
    """

    rank: int
    segment: SegmentRef
    customers: int
    share_customers: float
    revenue: float
    predicted_value: float | None
    at_risk_value: float | None
    at_risk_customers: int | None
    stake: float
    movable_value: float
    share_of_movable: float
    action: Recommendation | None
    values: dict[str, float]
    recommendations: tuple[Recommendation, ...] = ()


@dataclass(frozen=True)
class ClvRow:
    """A segment's (or all customers') row of the lifetime-value table."""

    segment: SegmentRef | None
    value: ClvSegmentValue


@dataclass(frozen=True)
class HoldoutLine:
    """One group of the holdout check, with what its error means (``kind``: over, under, none_bought, or None)."""

    resembles: SegmentRef | None
    calibration_name: str | None
    row: HoldoutRow
    kind: Literal["over", "under", "none_bought"] | None
    size: float | None


@dataclass(frozen=True)
class ClvView:
    """The lifetime-value section with names attached; model numbers only when ``reliable``."""

    section: ClvSection
    reliable: bool
    rows: tuple[ClvRow, ...]
    total: ClvRow | None
    top: ClvRow | None
    withheld: tuple[Withheld, ...]
    holdout: tuple[HoldoutLine, ...]
    correlation_too_high: bool
    params: tuple[tuple[str, float, float | None], ...]

    def row(self, segment_id: int) -> ClvRow | None:
        """The row of one segment, or None."""
        return next((r for r in self.rows if r.segment is not None and r.segment.id == segment_id), None)


@dataclass(frozen=True)
class Pick:
    """One action the brief puts first: a ranked segment and one of its playbook actions."""

    row: ImpactRow
    action: Recommendation


@dataclass(frozen=True)
class ValueView:
    """The ranking the overview and the brief share, and the lifetime-value model behind it.

    ``basis`` is ``"clv"`` (predicted value over the horizon) or ``"revenue"``
    (no reliable model: the period's revenue is the value at stake, nothing is at risk).
    """

    basis: Literal["clv", "revenue"]
    mde: float
    horizon: float | None
    time_unit: str | None
    horizon_days: float | None
    ranking: tuple[ImpactRow, ...]
    total_predicted: float | None
    total_at_risk: float | None
    total_movable: float
    clv: ClvView | None

    @property
    def top(self) -> ImpactRow | None:
        """The segment an action could move most value in."""
        return self.ranking[0] if self.ranking else None

    def of(self, segment_id: int) -> ImpactRow | None:
        """The impact row of one segment, or None."""
        return next((r for r in self.ranking if r.segment.id == segment_id), None)

    def picks(self, n: int) -> tuple[Pick, ...]:
        """The first ``n`` actions in ranking order: every segment's first action, then every second one, and so on."""
        depth = max((len(r.recommendations) for r in self.ranking), default=0)
        pairs = [
            Pick(r, r.recommendations[i]) for i in range(depth) for r in self.ranking if i < len(r.recommendations)
        ]
        return tuple(pairs[:n])


def _holdout(clv: ClvSection, refs: Refs) -> tuple[HoldoutLine, ...]:
    if clv.validation is None:
        return ()
    lines = []
    for row in clv.validation.segments:
        err = row.relative_error
        if err is not None and err > ERROR_WORTH_SAYING:
            kind, size = "over", err
        elif err is not None and err < -ERROR_WORTH_SAYING:
            kind, size = "under", -err
        elif err is None and row.predicted > 0:
            kind, size = "none_bought", None
        else:
            kind, size = None, None
        lines.append(HoldoutLine(refs.get(row.segment) if row.segment is not None else None, row.name, row, kind, size))
    return tuple(lines)


def _clv_view(clv: ClvSection, refs: Refs) -> ClvView:
    reliable = bool(clv.reliable and clv.total is not None and clv.segments)
    rows = tuple(ClvRow(refs.get(r.segment), r) for r in (clv.segments or ()) if reliable)
    top = max(rows, key=lambda r: (r.value.share_of_value, -r.segment.id), default=None)
    corr = clv.spend_frequency_correlation
    params = tuple((k, v, (clv.standard_errors or {}).get(k)) for k, v in (clv.params or {}).items())
    return ClvView(
        section=clv,
        reliable=reliable,
        rows=rows,
        total=ClvRow(None, clv.total) if reliable else None,
        top=top,
        withheld=tuple(clv.withheld),
        holdout=_holdout(clv, refs) if reliable else (),
        correlation_too_high=corr is not None and abs(corr) > clv.max_spend_frequency_correlation,
        params=params,
    )


def _fallback_mde(bundle: Bundle) -> float:
    if bundle.experiments is not None:
        return bundle.experiments.mde
    mde = (bundle.config.get("experiments") or {}).get("mde") if isinstance(bundle.config, dict) else None
    return float(mde) if isinstance(mde, (int, float)) else 0.1


def value_view(bundle: Bundle, refs: Refs) -> ValueView:
    """The ranking of ``bundle.impact`` (or, for a bundle without it, the revenue ranking it would hold)."""
    segs = {s.id: s for s in bundle.segments}
    impact = bundle.impact
    if impact is not None:
        basis, mde, rows = impact.basis, impact.mde, {r.segment: r for r in impact.segments}
        order = [sid for sid in impact.ranking if sid in segs]
    else:  # no impact section: what business_impact gives without a model (value at stake = revenue)
        basis, mde, rows = "revenue", _fallback_mde(bundle), {}
        order = [s.id for s in sorted(bundle.segments, key=lambda s: (-s.revenue, s.id))]
    movable_of = {sid: rows[sid].movable_value if sid in rows else round(mde * segs[sid].revenue, 2) for sid in order}
    all_movable = sum(movable_of.values())
    ranking = []
    for rank, sid in enumerate(order, start=1):
        seg, row = segs[sid], rows.get(sid)
        predicted = row.predicted_value if row is not None else None
        at_risk = row.at_risk_value if row is not None else None
        stake = (predicted or 0.0) + (at_risk or 0.0) if basis == "clv" else (row.revenue if row else seg.revenue)
        ranking.append(
            ImpactRow(
                rank=rank,
                segment=refs.get(sid),
                customers=row.customers if row is not None else seg.size,
                share_customers=seg.share_customers,
                revenue=row.revenue if row is not None else seg.revenue,
                predicted_value=predicted,
                at_risk_value=at_risk,
                at_risk_customers=row.at_risk_customers if row is not None else None,
                stake=stake,
                movable_value=movable_of[sid],
                share_of_movable=share(movable_of[sid], all_movable),
                action=seg.recommendations[0] if seg.recommendations else None,
                values=dict(seg.values),
                recommendations=tuple(seg.recommendations),
            )
        )
    clv = None if bundle.clv is None else _clv_view(bundle.clv, refs)
    model = clv is not None and clv.reliable
    return ValueView(
        basis="clv" if basis == "clv" else "revenue",
        mde=mde,
        horizon=bundle.clv.horizon if model else None,
        time_unit=bundle.clv.time_unit if model else None,
        horizon_days=impact.horizon_days if impact is not None else None,
        ranking=tuple(ranking),
        total_predicted=impact.total_predicted_value if impact is not None else None,
        total_at_risk=impact.total_at_risk_value if impact is not None else None,
        total_movable=all_movable,
        clv=clv,
    )
