"""Everything the site pages show that is derived from the bundle, computed once in Python.

Templates do no arithmetic: shares, sorted lists, the biggest opportunity and
the per-page navigation are computed here, and the templates only format and
place them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.bundle import Bundle, Recommendation, Segment
from publishing.charts import FALLBACK_COLOR, bundle_colors

__all__ = [
    "SegmentView",
    "Opportunity",
    "DropRow",
    "MixRow",
    "biggest_opportunity",
    "site_context",
]

#: Share of a segment's members assumed to reach the base's average spend in the opportunity sentence.
OPPORTUNITY_LIFT = 0.10


@dataclass(frozen=True)
class MixRow:
    """One classic RFM segment among a cluster segment's members."""

    name: str
    customers: int
    share: float


@dataclass(frozen=True)
class SegmentView:
    """A segment with what its card and page need beyond the bundle's fields."""

    segment: Segment
    color: str
    href: str
    mean_spend: float
    top_recommendation: Recommendation | None
    rfm_mix: tuple[MixRow, ...]
    features: tuple[str, ...]


@dataclass(frozen=True)
class Opportunity:
    """The segment whose revenue lags its head-count most, and what a modest lift is worth.

    ``uplift`` is the revenue added if ``lift`` (a share) of the segment's
    members spent as much as the average customer of the whole base.
    """

    segment: SegmentView
    gap: float
    base_mean_spend: float
    lift: float
    one_in: int
    uplift: float
    first_move: Recommendation | None


@dataclass(frozen=True)
class DropRow:
    """One line of the row-accounting table."""

    reason: str
    rows: int
    share: float


def _view(bundle: Bundle, seg: Segment, color: str) -> SegmentView:
    spend = seg.profile["monetary"].mean if "monetary" in seg.profile else seg.revenue / max(seg.size, 1)
    members = sum(seg.rfm_mix.values())
    mix = tuple(
        MixRow(name=name, customers=n, share=n / members if members else 0.0)
        for name, n in sorted(seg.rfm_mix.items(), key=lambda kv: (-kv[1], kv[0]))
        if n > 0
    )
    return SegmentView(
        segment=seg,
        color=color,
        href=f"segment-{seg.id}.html",
        mean_spend=spend,
        top_recommendation=seg.recommendations[0] if seg.recommendations else None,
        rfm_mix=mix,
        features=tuple(seg.profile),
    )


def biggest_opportunity(bundle: Bundle, views: list[SegmentView]) -> Opportunity | None:
    """Pick the non-outlier segment with the largest share of customers minus share of revenue.

    Returns ``None`` when no segment brings less revenue than its head-count
    (e.g. a single segment).
    """
    base_mean = bundle.data.revenue / bundle.data.customers if bundle.data.customers else 0.0
    candidates = [
        v
        for v in views
        if not v.segment.outlier and v.segment.share_customers > v.segment.share_revenue and v.mean_spend < base_mean
    ]
    if not candidates:
        return None
    best = max(candidates, key=lambda v: (v.segment.share_customers - v.segment.share_revenue, -v.segment.id))
    uplift = OPPORTUNITY_LIFT * best.segment.size * (base_mean - best.mean_spend)
    return Opportunity(
        segment=best,
        gap=best.segment.share_customers - best.segment.share_revenue,
        base_mean_spend=base_mean,
        lift=OPPORTUNITY_LIFT,
        one_in=round(1 / OPPORTUNITY_LIFT),
        uplift=uplift,
        first_move=best.top_recommendation,
    )


def _drops(bundle: Bundle) -> list[DropRow]:
    data = bundle.data
    return [
        DropRow(reason=reason, rows=n, share=n / data.rows_in if data.rows_in else 0.0)
        for reason, n in data.dropped.items()
    ]


def _crosstab(bundle: Bundle, views: list[SegmentView]) -> list[dict[str, Any]]:
    rows = []
    for rfm_name, by_cluster in bundle.rfm.crosstab.items():
        counts = [by_cluster.get(str(v.segment.id), 0) for v in views]
        rows.append({"name": rfm_name, "counts": counts, "total": sum(counts)})
    return rows


def site_context(bundle: Bundle) -> dict[str, Any]:
    """The context every site template receives (the bundle plus derived values).

    Keys: ``bundle``, ``segments`` (list of :class:`SegmentView`
    in id order), ``colors`` (``{segment id: colour}``), ``fallback_color`` (for
    anything of no known segment), ``opportunity`` (:class:`Opportunity` or None), ``drops``
    (list of :class:`DropRow`), ``kept_share``, ``crosstab`` (rows of
    ``{"name", "counts", "total"}`` in segment order), ``candidates`` (by k),
    ``config_items`` (sorted ``(section, settings)`` pairs), ``config_open``
    (sections shown unfolded), ``generator``
    (sorted ``(name, version)`` pairs), ``licence`` (a dict or None).
    """
    colors = bundle_colors(bundle)
    views = [_view(bundle, s, colors[s.id]) for s in sorted(bundle.segments, key=lambda s: s.id)]
    data = bundle.data
    return {
        "bundle": bundle,
        "segments": views,
        "colors": colors,
        "names": {s.id: s.name for s in bundle.segments},
        "segment_values": {s.id: s.values for s in bundle.segments},
        "fallback_color": FALLBACK_COLOR,
        "opportunity": biggest_opportunity(bundle, views),
        "drops": _drops(bundle),
        "kept_share": data.rows_kept / data.rows_in if data.rows_in else 0.0,
        "dropped_total": sum(data.dropped.values()),
        "crosstab": _crosstab(bundle, views),
        "candidates": sorted(bundle.k_selection.candidates, key=lambda c: c.k),
        "config_items": sorted(bundle.config.items()),
        "config_open": ("features", "k_selection", "cluster"),
        "generator": sorted(bundle.generator.items()),
        "licence": _licence(bundle),
    }


def _licence(bundle: Bundle) -> dict[str, str] | None:
    # Only claim a licence for the inputs we know: the UCI Online Retail files.
    shape = bundle.data.source.shape
    if shape == "online_retail_ii":
        return {
            "dataset": "Online Retail II",
            "licence": "CC BY 4.0",
            "licence_url": "https://creativecommons.org/licenses/by/4.0/",
            "citation": "Chen, D. (2012). Online Retail II [Dataset]. UCI Machine Learning Repository.",
            "doi": "10.24432/C5CG6D",
        }
    if shape == "online_retail":
        return {
            "dataset": "Online Retail",
            "licence": "CC BY 4.0",
            "licence_url": "https://creativecommons.org/licenses/by/4.0/",
            "citation": "Chen, D. (2015). Online Retail [Dataset]. UCI Machine Learning Repository.",
            "doi": "10.24432/C5BW33",
        }
    return None
