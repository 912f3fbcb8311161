"""Each segment as its card, its page and the brief show it: the bundle's segment plus what other sections say of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analysis.bundle import Bundle, Segment
from analysis.profiles import FEATURE_LABELS as FEATURE_WORDS
from publishing.charts import feature_label
from publishing.view._changes import ChangesView, SegmentHistory, segment_history
from publishing.view._common import Refs, SegmentRef, share
from publishing.view._tests import DesignView, TestsView
from publishing.view._value import ClvRow, ImpactRow, ValueView

__all__ = ["FEATURE_KINDS", "ProfileRow", "MixRow", "SegmentView", "segment_views"]

#: How each feature's values read: an amount of money, a number of days, or a plain number.
FEATURE_KINDS: dict[str, Literal["money", "days", "number"]] = {
    "monetary": "money",
    "avg_unit_cost": "money",
    "avg_order_value": "money",
    "recency": "days",
    "tenure": "days",
}


@dataclass(frozen=True)
class ProfileRow:
    """One feature of a segment's profile (``kind``: money, days or number)."""

    feature: str
    label: str
    kind: Literal["money", "days", "number"]
    mean: float
    median: float
    z: float


@dataclass(frozen=True)
class MixRow:
    """One classic RFM segment among a segment's members."""

    name: str
    customers: int
    share: float


@dataclass(frozen=True)
class SegmentView:
    """A segment with everything its card, page and brief line need.

    ``recency_median`` and ``recency_mean`` are days since the last order
    (the segments' recency); ``top_rfm`` is the classic RFM segment most of its
    members fall in.
    """

    ref: SegmentRef
    segment: Segment
    position: int
    count: int
    revenue_per_customer: float
    recency_median: float | None
    recency_mean: float | None
    outlier_words: str | None
    profile: tuple[ProfileRow, ...]
    rfm_mix: tuple[MixRow, ...]
    top_rfm: MixRow | None
    impact: ImpactRow | None
    clv: ClvRow | None
    test: DesignView | None
    history: SegmentHistory | None
    prev: SegmentRef | None
    next: SegmentRef | None

    @property
    def id(self) -> int:
        return self.ref.id

    @property
    def name(self) -> str:
        return self.ref.name


def _mix(seg: Segment) -> tuple[MixRow, ...]:
    members = sum(seg.rfm_mix.values())
    ordered = sorted(seg.rfm_mix.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(MixRow(name, n, share(n, members)) for name, n in ordered if n > 0)


def _profile(seg: Segment) -> tuple[ProfileRow, ...]:
    return tuple(
        ProfileRow(f, feature_label(f), FEATURE_KINDS.get(f, "number"), p.mean, p.median, p.z)
        for f, p in seg.profile.items()
    )


def segment_views(
    bundle: Bundle, refs: Refs, *, value: ValueView, tests: TestsView | None, changes: ChangesView | None
) -> tuple[SegmentView, ...]:
    """Every segment of ``bundle`` in id order, each with its value, test and history."""
    ordered = sorted(bundle.segments, key=lambda s: s.id)
    out = []
    for i, seg in enumerate(ordered):
        mix = _mix(seg)
        recency = seg.profile.get("recency")
        feature = seg.outlier_feature
        out.append(
            SegmentView(
                ref=refs.get(seg.id),
                segment=seg,
                position=i + 1,
                count=len(ordered),
                revenue_per_customer=share(seg.revenue, seg.size),
                recency_median=None if recency is None else recency.median,
                recency_mean=None if recency is None else recency.mean,
                outlier_words=None if feature is None else FEATURE_WORDS.get(feature, feature),
                profile=_profile(seg),
                rfm_mix=mix,
                top_rfm=mix[0] if mix else None,
                impact=value.of(seg.id),
                clv=None if value.clv is None else value.clv.row(seg.id),
                test=None if tests is None else tests.of(seg.id),
                history=segment_history(changes, seg.id, refs),
                prev=refs.get(ordered[i - 1].id) if i > 0 else None,
                next=refs.get(ordered[i + 1].id) if i + 1 < len(ordered) else None,
            )
        )
    return tuple(out)
