"""What every part of the view shares: a segment as pages refer to it, and the segment colours."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from analysis.bundle import Bundle
from publishing.charts import FALLBACK_COLOR, segment_colors

__all__ = ["SegmentRef", "Refs", "refs_of", "share"]


@dataclass(frozen=True)
class SegmentRef:
    """A segment as a page names it: id, name, colour and its page (``None`` when it has none now).

    A segment of an earlier refresh that was retired keeps its name and gets the fallback
    colour; it has no page in this site.
    """

    id: int
    name: str
    color: str
    href: str | None


@dataclass(frozen=True)
class Refs:
    """Every segment a page may mention: this refresh's, and earlier ones' by id (from the trend)."""

    current: tuple[SegmentRef, ...]
    earlier: tuple[SegmentRef, ...] = ()

    def get(self, segment_id: int | None) -> SegmentRef | None:
        """The segment of ``segment_id`` (this refresh's first, then earlier ones), or None."""
        if segment_id is None:
            return None
        for ref in (*self.current, *self.earlier):
            if ref.id == segment_id:
                return ref
        return SegmentRef(segment_id, f"Segment {segment_id}", FALLBACK_COLOR, None)

    @property
    def colors(self) -> dict[int, str]:
        """``{segment id: colour}`` of this refresh's segments."""
        return {r.id: r.color for r in self.current}


def refs_of(bundle: Bundle) -> Refs:
    """The segments of ``bundle`` (in id order) and the earlier segments its history names."""
    colors = segment_colors(s.id for s in bundle.segments)
    current = tuple(
        SegmentRef(s.id, s.name, colors[s.id], f"segment-{s.id}.html")
        for s in sorted(bundle.segments, key=lambda s: s.id)
    )
    known = {r.id for r in current}
    earlier: dict[int, SegmentRef] = {}
    if bundle.history is not None:
        for point in reversed(bundle.history.trend):  # the newest name of a retired segment wins
            for seg in point.segments:
                if seg.segment not in known and seg.segment not in earlier:
                    earlier[seg.segment] = SegmentRef(seg.segment, seg.name, FALLBACK_COLOR, None)
    return Refs(current, tuple(earlier[k] for k in sorted(earlier)))


def share(part: float, whole: float) -> float:
    """``part / whole``, 0 when ``whole`` is 0 (an empty group has no share)."""
    return part / whole if whole else 0.0


def total(values: Iterable[float | None]) -> float:
    """The sum of the values that exist."""
    return float(sum(v for v in values if v is not None))
