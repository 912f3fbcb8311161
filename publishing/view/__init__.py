"""One typed view of the bundle, built once, read by every site page, the brief and the charts.

Compute once, render many: :func:`build_view` turns a validated bundle and the
report's formats into frozen dataclasses that hold every number a page shows
(shares, rankings, totals, the transition matrix, which segments a test would
pool with), with names and colours attached. Templates only place and word
them: no arithmetic, no sorting, no picking happens in Jinja.

Parts
-----
``_common``    :class:`SegmentRef` (id, name, colour, page) and the segment colours
``_segments``  :class:`SegmentView`: a segment's card, page and brief line
``_value``     :class:`ValueView`: the business-impact ranking and the lifetime-value model
``_tests``     :class:`TestsView`: test designs, sizing options, control-share costs, results
``_changes``   :class:`ChangesView`: refit decision, continuity, trend, migration matrix, moves
``_method``    data quality, the choice of k, features, classic RFM, configuration, software
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis.bundle import Bundle
from publishing._format import Formats, formats_for
from publishing.view._changes import ArchiveLink, ChangesView, Move, changes_view
from publishing.view._common import Refs, SegmentRef, refs_of
from publishing.view._method import (
    AboutView,
    MethodView,
    QualityView,
    RfmView,
    about_view,
    method_view,
    quality_view,
    rfm_view,
)
from publishing.view._segments import FEATURE_KINDS, SegmentView, segment_views
from publishing.view._tests import TestsView, tests_view
from publishing.view._value import ImpactRow, ValueView, value_view

__all__ = [
    "FEATURE_KINDS",
    "ArchiveLink",
    "Leader",
    "Move",
    "ReportView",
    "SegmentRef",
    "SegmentView",
    "ImpactRow",
    "ValueView",
    "TestsView",
    "ChangesView",
    "QualityView",
    "MethodView",
    "RfmView",
    "AboutView",
    "build_view",
]


@dataclass(frozen=True)
class Leader:
    """The segment whose share of revenue most exceeds its share of customers."""

    segment: SegmentRef
    share_customers: float
    share_revenue: float


@dataclass(frozen=True)
class ReportView:
    """Everything the site and the brief show, computed once.

    Attributes
    ----------
    bundle
        The validated bundle (for fields shown as they are).
    fmt
        The report's formats (locale and currency), the same the Jinja filters and the charts use.
    refs
        Every segment a page may name, this refresh's and retired ones.
    segments
        One :class:`SegmentView` per segment, in id order.
    value
        The business-impact ranking (same order on the overview and the brief) and the CLV model.
    tests
        The test plan, or None without an ``experiments`` section.
    changes
        The comparison with the previous refresh, or None on a first refresh.
    archive
        Earlier refreshes' briefs in the site, oldest first.
    site_url
        Where the site lives (printed in the brief), or None when not configured.
    brief_href
        The brief's link from the site's pages, or None.
    """

    bundle: Bundle
    fmt: Formats
    refs: Refs
    segments: tuple[SegmentView, ...]
    leader: Leader | None
    value: ValueView
    tests: TestsView | None
    changes: ChangesView | None
    quality: QualityView
    method: MethodView
    rfm: RfmView
    about: AboutView
    archive: tuple[ArchiveLink, ...]
    site_url: str | None
    brief_href: str | None

    def segment(self, segment_id: int) -> SegmentView:
        """The view of one segment; an unknown id is a ``KeyError`` naming the ids there are."""
        for view in self.segments:
            if view.id == segment_id:
                return view
        raise KeyError(f"no segment {segment_id!r}; the bundle has {[v.id for v in self.segments]}")

    @property
    def has_changes_page(self) -> bool:
        """A Changes page has something to show: a comparison, or earlier briefs."""
        return self.changes is not None or bool(self.archive)


def _leader(bundle: Bundle, refs: Refs) -> Leader | None:
    ahead = [s for s in bundle.segments if s.share_revenue > s.share_customers]
    if not ahead:
        return None
    best = max(ahead, key=lambda s: (s.share_revenue - s.share_customers, -s.id))
    return Leader(refs.get(best.id), best.share_customers, best.share_revenue)


def build_view(
    bundle: Bundle,
    *,
    fmt: Formats | None = None,
    archive: Sequence[tuple[str, str]] = (),
    site_url: str | None = None,
    brief_href: str | None = None,
) -> ReportView:
    """Build the view of ``bundle``.

    Parameters
    ----------
    bundle
        A validated bundle.
    fmt
        The report's formats; default :func:`publishing._format.formats_for` of the bundle.
    archive
        ``(snapshot, href)`` of earlier briefs the site carries, oldest first.
    site_url
        The site's public address, when one is configured (``--site-url`` or ``[report] site_url``).
    brief_href
        The brief's relative link from the site's pages.
    """
    fmt = fmt or formats_for(bundle)
    refs = refs_of(bundle)
    value = value_view(bundle, refs)
    tests = tests_view(bundle, refs)
    changes = changes_view(bundle, refs)
    return ReportView(
        bundle=bundle,
        fmt=fmt,
        refs=refs,
        segments=segment_views(bundle, refs, value=value, tests=tests, changes=changes),
        leader=_leader(bundle, refs),
        value=value,
        tests=tests,
        changes=changes,
        quality=quality_view(bundle),
        method=method_view(bundle),
        rfm=rfm_view(bundle, refs),
        about=about_view(bundle),
        archive=tuple(ArchiveLink(snapshot, href) for snapshot, href in archive),
        site_url=site_url or None,
        brief_href=brief_href,
    )
