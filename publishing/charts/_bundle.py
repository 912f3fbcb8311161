"""Thin adapters: read what each chart needs from the bundle, draw it, wrap it as a :class:`Chart`.

They exist so today's pages and brief keep building; a typed view of the
bundle can replace them by calling the chart functions directly. Every
adapter formats with ``fmt`` (default: :func:`publishing._format.formats_for`
of the bundle) and draws in the one theme (:mod:`publishing.charts._theme`).
"""

from __future__ import annotations

from typing import Any

from analysis.bundle import Bundle, Segment
from analysis.errors import PublishError
from publishing._format import Formats, formats_for
from publishing.charts import clv as clv_charts
from publishing.charts import experiments, kselect, projection, rfm, segments
from publishing.charts._common import feature_label
from publishing.charts._svg import Chart, to_chart
from publishing.charts._theme import FALLBACK_COLOR, WIDTH, Medium, new_figure, segment_colors, themed

__all__ = [
    "bundle_colors",
    "size_revenue_chart",
    "profile_chart",
    "box_chart",
    "elbow_chart",
    "k_metrics_chart",
    "projection_chart",
    "rfm_grid_chart",
    "rfm_crosstab_chart",
    "clv_chart",
    "holdout_chart",
    "lift_chart",
    "value_chart",
    "site_charts",
    "brief_charts",
]


def bundle_colors(bundle: Bundle) -> dict[int, str]:
    """``{segment id: colour}`` of the bundle's segments (see :func:`segment_colors`)."""
    return segment_colors(s.id for s in bundle.segments)


def _ordered(bundle: Bundle) -> list[Segment]:
    return sorted(bundle.segments, key=lambda s: s.id)


def _segment(bundle: Bundle, segment_id: int) -> Segment:
    for seg in bundle.segments:
        if seg.id == segment_id:
            return seg
    ids = sorted(s.id for s in bundle.segments)
    raise PublishError(f"The 'segment_id' must be one of the bundle's segment ids {ids}. Got {segment_id!r} instead.")


def _rows_height(n: int, per_row: float, extra: float) -> float:
    return per_row * n + extra


def size_revenue_chart(bundle: Bundle, *, fmt: Formats | None = None, medium: Medium = "screen") -> Chart:
    """Segment size against revenue share (the site's overview and the brief's first page)."""
    fmt = fmt or formats_for(bundle)
    segs, colors = _ordered(bundle), bundle_colors(bundle)
    names = [s.name for s in segs]
    shares = [s.share_customers for s in segs], [s.share_revenue for s in segs]
    with themed(medium):
        fig = new_figure(WIDTH[medium], _rows_height(len(segs), 0.62 if medium == "screen" else 0.42, 1.0))
        segments.size_revenue(names, *shares, [colors[s.id] for s in segs], ax=fig.subplots(), fmt=fmt)
        alt = segments.size_revenue_alt(names, *shares, fmt)
        return to_chart(fig, key="size-revenue", alt=alt, caption="Segment size against revenue share", medium=medium)


def profile_chart(bundle: Bundle, segment_id: int, *, fmt: Formats | None = None) -> Chart:
    """One segment's z-scores against the whole base, in its colour."""
    fmt = fmt or formats_for(bundle)
    seg = _segment(bundle, segment_id)
    labels = [feature_label(f) for f in seg.profile]
    z = [p.z for p in seg.profile.values()]
    with themed():
        fig = new_figure(WIDTH["screen"], _rows_height(len(labels), 0.5, 1.1))
        segments.profile_bars(labels, z, bundle_colors(bundle)[seg.id], ax=fig.subplots(), fmt=fmt)
        return to_chart(
            fig,
            key=f"segment-{seg.id}-profile",
            alt=segments.profile_alt(seg.name, labels, z, fmt),
            caption=f"Profile of {seg.name} against the whole base",
        )


_BOX_FEATURES = ("monetary", "recency")
_KINDS = {
    "monetary": "money",
    "avg_unit_cost": "money",
    "avg_order_value": "money",
    "recency": "days",
    "tenure": "days",
}


def box_chart(bundle: Bundle, segment_id: int, *, fmt: Formats | None = None) -> Chart:
    """Spend and recency box plots of every segment, this one highlighted (from the bundle's quantiles)."""
    fmt = fmt or formats_for(bundle)
    seg = _segment(bundle, segment_id)
    segs, colors = _ordered(bundle), bundle_colors(bundle)
    feats = [f for f in _BOX_FEATURES if all(f in s.profile for s in segs)]
    if not feats:
        raise PublishError(
            f"box_chart needs a profile of {list(_BOX_FEATURES)} in every segment. "
            f"Got features {sorted(seg.profile)!r}."
        )
    names, mine = [s.name for s in segs], [s.id for s in segs].index(seg.id)
    with themed():
        # Panels stacked, each the full width: on a phone the names and ticks stay legible.
        fig = new_figure(WIDTH["screen"], len(feats) * _rows_height(len(segs), 0.5, 0.9))
        for ax, feat in zip(fig.subplots(len(feats), 1, squeeze=False)[:, 0], feats, strict=True):
            segments.segment_boxes(
                names,
                [s.profile[feat].box.model_dump() for s in segs],
                [colors[s.id] for s in segs],
                highlight=mine,
                money=feat == "monetary",
                title=feature_label(feat),
                ax=ax,
                fmt=fmt,
            )
        fig.subplots_adjust(hspace=0.45)
        alt = segments.box_alt(
            seg.name,
            [feature_label(f) for f in feats],
            [seg.profile[f].box.model_dump() for f in feats],
            [_KINDS.get(f, "number") for f in feats],
            fmt,
        )
        return to_chart(
            fig, key=f"segment-{seg.id}-box", alt=alt, caption=f"Spend and recency of {seg.name} among all segments"
        )


def elbow_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """Inertia by k with the knee and the chosen k."""
    fmt = fmt or formats_for(bundle)
    ks = bundle.k_selection
    cands = sorted(ks.candidates, key=lambda c: c.k)
    k, inertia = [c.k for c in cands], [c.inertia for c in cands]
    with themed():
        fig = new_figure(WIDTH["screen"], 3.3)
        kselect.elbow(k, inertia, chosen_k=ks.chosen_k, elbow_k=ks.vote("elbow"), ax=fig.subplots(), fmt=fmt)
        alt = kselect.elbow_alt(k, inertia, ks.chosen_k, ks.vote("elbow"), fmt)
        return to_chart(fig, key="elbow", alt=alt, caption="Elbow curve: inertia by number of segments")


def k_metrics_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """Silhouette and stability by k, with the stability floor from the run's configuration."""
    fmt = fmt or formats_for(bundle)
    ks = bundle.k_selection
    cands = sorted(ks.candidates, key=lambda c: c.k)
    floor = bundle.config.get("k_selection", {}).get("min_stability")
    floor = float(floor) if isinstance(floor, (int, float)) else None
    k, sil, stab = [c.k for c in cands], [c.silhouette for c in cands], [c.stability for c in cands]
    with themed():
        fig = new_figure(WIDTH["screen"], 3.5)
        kselect.k_metrics(k, sil, stab, chosen_k=ks.chosen_k, min_stability=floor, ax=fig.subplots(), fmt=fmt)
        alt = kselect.k_metrics_alt(k, sil, stab, ks.chosen_k, floor, fmt)
        return to_chart(fig, key="k-metrics", alt=alt, caption="Silhouette and stability by number of segments")


def projection_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """The customers on the first two components, coloured by segment."""
    fmt = fmt or formats_for(bundle)
    proj, colors = bundle.projection, bundle_colors(bundle)
    names = {s.id: s.name for s in bundle.segments}
    pts = proj.points
    with themed():
        fig = new_figure(WIDTH["screen"], 4.6)
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
            fmt=fmt,
        )
        counts = {names[sid]: sum(1 for p in pts if p.segment == sid) for sid in sorted(colors)}
        alt = projection.projection_alt(len(pts), counts, proj.method, proj.explained_variance, fmt)
        caption = f"Customers on the first two {proj.method.upper()} components"
        return to_chart(fig, key="projection", alt=alt, caption=caption)


def rfm_grid_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """Customers by recency and frequency score."""
    fmt = fmt or formats_for(bundle)
    grid = bundle.rfm.grid
    if not grid:
        raise PublishError("rfm_grid_chart needs at least one RFM cell. Got an empty rfm.grid.")
    cols = [c.r for c in grid], [c.f for c in grid], [c.customers for c in grid], [c.segment for c in grid]
    with themed():
        fig = new_figure(WIDTH["screen"], 4.6)
        rfm.rfm_grid(*cols, ax=fig.subplots(), fmt=fmt)
        alt = rfm.rfm_grid_alt(*cols, fmt)
        return to_chart(fig, key="rfm-grid", alt=alt, caption="Customers by recency and frequency score")


def rfm_crosstab_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """Customers by classic RFM segment and cluster segment (for the RFM page; not yet on it)."""
    fmt = fmt or formats_for(bundle)
    segs = _ordered(bundle)
    rfm_names = list(bundle.rfm.crosstab)
    counts = [[bundle.rfm.crosstab[r].get(str(s.id), 0) for s in segs] for r in rfm_names]
    names = [s.name for s in segs]
    with themed():
        fig = new_figure(WIDTH["screen"] + 0.6, _rows_height(len(rfm_names), 0.36, 1.5))
        rfm.rfm_crosstab(rfm_names, names, counts, ax=fig.subplots(), fmt=fmt)
        alt = rfm.rfm_crosstab_alt(rfm_names, names, counts, fmt)
        return to_chart(fig, key="rfm-crosstab", alt=alt, caption="RFM segments against the cluster segments")


def _reliable_clv(bundle: Bundle, what: str) -> Any:
    clv = getattr(bundle, "clv", None)
    if clv is None or not clv.reliable or not clv.segments:
        raise PublishError(
            f"{what} needs a reliable clv section with segment values. Got "
            f"{'no clv section' if clv is None else 'an unreliable or empty one'}."
        )
    return clv


def clv_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """Expected value over the horizon per segment, with its interval."""
    fmt = fmt or formats_for(bundle)
    clv, colors = _reliable_clv(bundle, "clv_chart"), bundle_colors(bundle)
    rows = [r for r in clv.segments if r.segment in colors]
    names = {s.id: s.name for s in bundle.segments}
    data = (
        [names[r.segment] for r in rows],
        [r.clv for r in rows],
        [r.clv_low for r in rows],
        [r.clv_high for r in rows],
        [r.share_of_value for r in rows],
    )
    xlabel = f"expected value over the next {fmt.number(clv.horizon)} {clv.time_unit}s, discounted"
    with themed():
        fig = new_figure(WIDTH["screen"], _rows_height(len(rows), 0.55, 1.2))
        clv_charts.clv_bars(*data, [colors[r.segment] for r in rows], xlabel=xlabel, ax=fig.subplots(), fmt=fmt)
        alt = clv_charts.clv_alt(*data, clv.interval_level, fmt)
        return to_chart(fig, key="clv-segments", alt=alt, caption="Expected lifetime value by segment")


def holdout_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """Predicted against actual repeat purchases in the holdout."""
    fmt = fmt or formats_for(bundle)
    clv = _reliable_clv(bundle, "holdout_chart")
    if clv.validation is None or not clv.validation.by_frequency:
        raise PublishError("holdout_chart needs clv.validation.by_frequency. Got none.")
    rows = clv.validation.by_frequency
    labels = [f"{r.frequency_min}+" if r.frequency_max is None else str(r.frequency_min) for r in rows]
    data = labels, [r.actual_per_customer for r in rows], [r.predicted_per_customer for r in rows]
    with themed():
        fig = new_figure(WIDTH["screen"], 3.3)
        clv_charts.holdout_bars(*data, ax=fig.subplots(), fmt=fmt)
        alt = clv_charts.holdout_alt(*data, fmt)
        caption = "Holdout check: predicted against actual repeat purchases"
        return to_chart(fig, key="clv-holdout", alt=alt, caption=caption)


def lift_chart(bundle: Bundle, *, fmt: Formats | None = None) -> Chart:
    """Measured lift per segment (and over all segments), with confidence intervals."""
    fmt = fmt or formats_for(bundle)
    results = getattr(bundle, "experiment_results", None)
    if results is None:
        raise PublishError("lift_chart needs an experiment_results section. Got none.")
    colors = bundle_colors(bundle)
    rows = [r for r in [*results.primary.segments, results.primary.overall] if r.lift is not None]
    if not rows:
        raise PublishError("lift_chart needs at least one row with a lift. Got none.")
    names = {s.id: s.name for s in bundle.segments}
    labels = ["All segments" if r.segment is None else names.get(r.segment, f"Segment {r.segment}") for r in rows]
    data = labels, [r.lift for r in rows], [r.lift_low for r in rows], [r.lift_high for r in rows]
    window = bundle.experiments.window_days if bundle.experiments is not None else 90
    what = "repurchase" if results.primary.metric == "conversion" else "revenue per customer"
    metric = f"{what} within {window} days"
    with themed():
        fig = new_figure(WIDTH["screen"], _rows_height(len(rows), 0.5, 1.2))
        experiments.lift_intervals(
            *data,
            [colors.get(r.segment, FALLBACK_COLOR) for r in rows],
            totals=[r.segment is None for r in rows],
            metric_label=metric,
            ax=fig.subplots(),
            fmt=fmt,
        )
        alt = experiments.lift_alt(*data, results.confidence_level, metric, fmt)
        return to_chart(fig, key="experiment-lift", alt=alt, caption="Measured lift, treatment against control")


def value_chart(bundle: Bundle, *, fmt: Formats | None = None, medium: Medium = "print") -> Chart:
    """Revenue per customer by segment (the brief's second page)."""
    fmt = fmt or formats_for(bundle)
    segs, colors = _ordered(bundle), bundle_colors(bundle)
    names = [s.name for s in segs]
    values = [s.revenue / s.size if s.size else 0.0 for s in segs]
    with themed(medium):
        fig = new_figure(3.4 if medium == "print" else WIDTH[medium], _rows_height(len(segs), 0.32, 0.5))
        segments.value_bars(names, values, [colors[s.id] for s in segs], ax=fig.subplots(), fmt=fmt)
        alt = segments.value_alt("Revenue per customer", names, values, fmt)
        return to_chart(fig, key="brief-value", alt=alt, caption="Revenue per customer", medium=medium)


def site_charts(bundle: Bundle, *, fmt: Formats | None = None) -> list[Chart]:
    """Every chart the website shows, in page order (optional sections' charts only when they apply)."""
    fmt = fmt or formats_for(bundle)
    charts = [
        size_revenue_chart(bundle, fmt=fmt),
        elbow_chart(bundle, fmt=fmt),
        k_metrics_chart(bundle, fmt=fmt),
        projection_chart(bundle, fmt=fmt),
        rfm_grid_chart(bundle, fmt=fmt),
    ]
    for seg in _ordered(bundle):
        charts += [profile_chart(bundle, seg.id, fmt=fmt), box_chart(bundle, seg.id, fmt=fmt)]
    clv = getattr(bundle, "clv", None)
    if clv is not None and clv.reliable and clv.segments:
        charts.append(clv_chart(bundle, fmt=fmt))
        if clv.validation is not None and clv.validation.by_frequency:
            charts.append(holdout_chart(bundle, fmt=fmt))
    results = getattr(bundle, "experiment_results", None)
    if results is not None and any(r.lift is not None for r in [*results.primary.segments, results.primary.overall]):
        charts.append(lift_chart(bundle, fmt=fmt))
    return charts


def brief_charts(bundle: Bundle, *, fmt: Formats | None = None) -> dict[str, Chart]:
    """The brief's two charts, drawn for print: ``{"share": size vs revenue, "value": revenue per customer}``."""
    fmt = fmt or formats_for(bundle)
    share = size_revenue_chart(bundle, fmt=fmt, medium="print")
    return {"share": share, "value": value_chart(bundle, fmt=fmt, medium="print")}
