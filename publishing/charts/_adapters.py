"""Thin adapters from the report's view to :class:`Chart`: the segments, the choice of k, projection, RFM.

Each reads what its chart needs from a :class:`publishing.view.ReportView`,
draws it in the one theme for one medium (``"screen"``, ``"phone"`` or
``"print"``) and wraps it with its alt text. The view is only annotated here:
importing it at run time would import this package back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.errors import PublishError
from publishing.charts import kselect, projection, rfm, segments
from publishing.charts._common import feature_label
from publishing.charts._svg import Chart, to_chart
from publishing.charts._theme import WIDTH, Medium, new_figure, themed

if TYPE_CHECKING:
    from publishing.view import ReportView, SegmentView

__all__ = [
    "size_revenue_chart",
    "profile_chart",
    "box_chart",
    "elbow_chart",
    "k_metrics_chart",
    "projection_chart",
    "rfm_grid_chart",
    "rfm_crosstab_chart",
    "suffix",
]


def suffix(medium: Medium) -> str:
    """The key suffix of a chart drawn for ``medium`` (the phone drawing is ``<key>-phone``)."""
    return "-phone" if medium == "phone" else ""


def _rows_height(n: int, per_row: float, extra: float) -> float:
    return per_row * n + extra


def _segment(view: ReportView, segment_id: int) -> SegmentView:
    try:
        return view.segment(segment_id)
    except KeyError:
        ids = [s.id for s in view.segments]
        raise PublishError(
            f"The 'segment_id' must be one of the bundle's segment ids {ids}. Got {segment_id!r} instead."
        ) from None


def size_revenue_chart(
    view: ReportView, *, medium: Medium = "screen", height: float | None = None, top: int | None = None
) -> Chart:
    """Segment size against revenue share (the overview and the brief's first page); ``height`` in inches.

    ``top`` draws only the first ``top`` segments of the business-impact ranking (the brief, where
    many pairs of bars would not fit legibly), still in id order; the caption then says so.
    """
    segs, fmt = view.segments, view.fmt
    if top and len(segs) > top:
        keep = {r.segment.id for r in view.value.ranking[:top]}
        segs = tuple(s for s in segs if s.id in keep)
    names = [s.name for s in segs]
    shares = [s.segment.share_customers for s in segs], [s.segment.share_revenue for s in segs]
    per_row = 0.42 if medium == "print" else 0.62
    with themed(medium):
        fig = new_figure(WIDTH[medium], height or _rows_height(len(segs), per_row, 1.0))
        segments.size_revenue(names, *shares, [s.ref.color for s in segs], ax=fig.subplots(), fmt=fmt)
        alt = segments.size_revenue_alt(names, *shares, fmt)
        key = "size-revenue" + suffix(medium)
        caption = "Segment size against revenue share"
        if len(segs) < len(view.segments):
            caption += f": the first {len(segs)} segments by value an action could move"
        return to_chart(fig, key=key, alt=alt, caption=caption, medium=medium)


def profile_chart(view: ReportView, segment_id: int, *, medium: Medium = "screen") -> Chart:
    """One segment's z-scores against the whole base, in its colour."""
    seg = _segment(view, segment_id)
    labels = [row.label for row in seg.profile]
    z = [row.z for row in seg.profile]
    with themed(medium):
        fig = new_figure(WIDTH[medium], _rows_height(len(labels), 0.5, 1.1))
        segments.profile_bars(labels, z, seg.ref.color, ax=fig.subplots(), fmt=view.fmt)
        return to_chart(
            fig,
            key=f"segment-{seg.id}-profile{suffix(medium)}",
            alt=segments.profile_alt(seg.name, labels, z, view.fmt),
            caption=f"Profile of {seg.name} against the whole base",
            medium=medium,
        )


_BOX_FEATURES = ("monetary", "recency")


def box_chart(view: ReportView, segment_id: int, *, medium: Medium = "screen") -> Chart:
    """Spend and recency box plots of every segment, this one highlighted (from the bundle's quantiles)."""
    seg = _segment(view, segment_id)
    segs = view.segments
    feats = [f for f in _BOX_FEATURES if all(f in s.segment.profile for s in segs)]
    if not feats:
        raise PublishError(
            f"box_chart needs a profile of {list(_BOX_FEATURES)} in every segment. "
            f"Got features {sorted(seg.segment.profile)!r}."
        )
    names, mine = [s.name for s in segs], [s.id for s in segs].index(seg.id)
    kinds = {row.feature: row.kind for row in seg.profile}
    with themed(medium):
        # Panels stacked, each the full width: on a phone the names and ticks stay legible.
        fig = new_figure(WIDTH[medium], len(feats) * _rows_height(len(segs), 0.5, 0.9))
        for ax, feat in zip(fig.subplots(len(feats), 1, squeeze=False)[:, 0], feats, strict=True):
            segments.segment_boxes(
                names,
                [s.segment.profile[feat].box.model_dump() for s in segs],
                [s.ref.color for s in segs],
                highlight=mine,
                money=feat == "monetary",
                title=feature_label(feat),
                ax=ax,
                fmt=view.fmt,
            )
        fig.subplots_adjust(hspace=0.45)
        alt = segments.box_alt(
            seg.name,
            [feature_label(f) for f in feats],
            [seg.segment.profile[f].box.model_dump() for f in feats],
            [kinds.get(f, "number") for f in feats],
            view.fmt,
        )
        caption = f"Spend and recency of {seg.name} among all segments"
        return to_chart(fig, key=f"segment-{seg.id}-box{suffix(medium)}", alt=alt, caption=caption, medium=medium)


def elbow_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Inertia by k with the knee and the chosen k."""
    ks, cands = view.method.k, view.method.candidates
    k, inertia = [c.k for c in cands], [c.inertia for c in cands]
    with themed(medium):
        fig = new_figure(WIDTH[medium], 3.3)
        kselect.elbow(k, inertia, chosen_k=ks.chosen_k, elbow_k=ks.vote("elbow"), ax=fig.subplots(), fmt=view.fmt)
        alt = kselect.elbow_alt(k, inertia, ks.chosen_k, ks.vote("elbow"), view.fmt)
        caption = "Elbow curve: inertia by number of segments"
        return to_chart(fig, key="elbow" + suffix(medium), alt=alt, caption=caption, medium=medium)


def k_metrics_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Silhouette and stability by k, with the stability floor the vote used."""
    ks, cands = view.method.k, view.method.candidates
    k, sil, stab = [c.k for c in cands], [c.silhouette for c in cands], [c.stability for c in cands]
    with themed(medium):
        fig = new_figure(WIDTH[medium], 3.5)
        kselect.k_metrics(
            k, sil, stab, chosen_k=ks.chosen_k, min_stability=ks.min_stability, ax=fig.subplots(), fmt=view.fmt
        )
        alt = kselect.k_metrics_alt(k, sil, stab, ks.chosen_k, ks.min_stability, view.fmt)
        caption = "Silhouette and stability by number of segments"
        return to_chart(fig, key="k-metrics" + suffix(medium), alt=alt, caption=caption, medium=medium)


def projection_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """The customers on the first two components, coloured by segment."""
    proj = view.bundle.projection
    colors, names = view.refs.colors, {s.id: s.name for s in view.segments}
    pts = proj.points
    with themed(medium):
        fig = new_figure(WIDTH[medium], 4.6 if medium != "phone" else 4.2)
        projection.projection_scatter(
            [p.x for p in pts],
            [p.y for p in pts],
            [p.segment for p in pts],
            colors,
            names,
            centroids=[(c.segment, c.x, c.y) for c in proj.centroids],
            method=proj.method,
            explained_variance=proj.explained_variance,
            ax=fig.subplots(),
            fmt=view.fmt,
        )
        counts = {names[sid]: sum(1 for p in pts if p.segment == sid) for sid in sorted(colors)}
        alt = projection.projection_alt(len(pts), counts, proj.method, proj.explained_variance, view.fmt)
        caption = f"Customers on the first two {proj.method.upper()} components"
        return to_chart(fig, key="projection" + suffix(medium), alt=alt, caption=caption, medium=medium)


def rfm_grid_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Customers by recency and frequency score, each cell named after its most common RFM segment."""
    grid = view.bundle.rfm.grid
    if not grid:
        raise PublishError("rfm_grid_chart needs at least one RFM cell. Got an empty rfm.grid.")
    cols = [c.r for c in grid], [c.f for c in grid], [c.customers for c in grid], [c.segment for c in grid]
    with themed(medium):
        fig = new_figure(WIDTH[medium], 4.6 if medium != "phone" else 4.0)
        rfm.rfm_grid(*cols, ax=fig.subplots(), fmt=view.fmt)
        alt = rfm.rfm_grid_alt(*cols, view.fmt)
        caption = "Customers by recency and frequency score"
        return to_chart(fig, key="rfm-grid" + suffix(medium), alt=alt, caption=caption, medium=medium)


def rfm_crosstab_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Customers by classic RFM segment (rows) and segment (columns)."""
    cross = view.rfm.crosstab
    names = [c.name for c in view.rfm.columns]
    rfm_names = [f"RFM: {row.name}" for row in cross]
    counts = [list(row.counts) for row in cross]
    with themed(medium):
        fig = new_figure(WIDTH[medium] + (0.6 if medium == "screen" else 0.0), _rows_height(len(cross), 0.36, 1.5))
        ax = fig.subplots()
        rfm.rfm_crosstab(rfm_names, names, counts, ax=ax, fmt=view.fmt)
        if medium == "phone":  # column names side by side would collide on a narrow drawing
            ax.tick_params(axis="x", labelrotation=90)
        alt = rfm.rfm_crosstab_alt(rfm_names, names, counts, view.fmt)
        caption = "Classic RFM segments against the segments"
        return to_chart(fig, key="rfm-crosstab" + suffix(medium), alt=alt, caption=caption, medium=medium)
