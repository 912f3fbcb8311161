"""Adapters from the view for value, tests and history charts, and the chart sets of the site and the brief."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from analysis.errors import PublishError
from publishing.charts import clv as clv_charts
from publishing.charts import experiments, history, segments, transitions
from publishing.charts._adapters import (
    box_chart,
    elbow_chart,
    k_metrics_chart,
    profile_chart,
    projection_chart,
    rfm_crosstab_chart,
    rfm_grid_chart,
    size_revenue_chart,
    suffix,
)
from publishing.charts._svg import Chart, to_chart
from publishing.charts._theme import FALLBACK_COLOR, WIDTH, Medium, new_figure, themed

if TYPE_CHECKING:
    from publishing.view import ReportView

__all__ = [
    "clv_chart",
    "holdout_chart",
    "lift_chart",
    "impact_chart",
    "transition_chart",
    "trend_chart",
    "site_charts",
    "site_chart_jobs",
    "brief_charts",
]


def _rows_height(n: int, per_row: float, extra: float) -> float:
    return per_row * n + extra


def _reliable_clv(view: ReportView, what: str):
    clv = view.value.clv
    if clv is None or not clv.reliable:
        raise PublishError(
            f"{what} needs a reliable clv section with segment values. Got "
            f"{'no clv section' if clv is None else 'an unreliable or empty one'}."
        )
    return clv


def clv_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Predicted value over the horizon per segment, with its interval."""
    clv = _reliable_clv(view, "clv_chart")
    rows = clv.rows
    data = (
        [r.segment.name for r in rows],
        [r.value.clv for r in rows],
        [r.value.clv_low for r in rows],
        [r.value.clv_high for r in rows],
        [r.value.share_of_value for r in rows],
    )
    c = clv.section
    xlabel = f"predicted value over the next {view.fmt.number(c.horizon)} {c.time_unit}s, discounted"
    with themed(medium):
        fig = new_figure(WIDTH[medium], _rows_height(len(rows), 0.55, 1.2))
        clv_charts.clv_bars(*data, [r.segment.color for r in rows], xlabel=xlabel, ax=fig.subplots(), fmt=view.fmt)
        alt = clv_charts.clv_alt(*data, c.interval_level, view.fmt)
        caption = "Predicted lifetime value by segment"
        return to_chart(fig, key="clv-segments" + suffix(medium), alt=alt, caption=caption, medium=medium)


def holdout_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Predicted against actual repeat purchases in the holdout period."""
    clv = _reliable_clv(view, "holdout_chart")
    validation = clv.section.validation
    if validation is None or not validation.by_frequency:
        raise PublishError("holdout_chart needs clv.validation.by_frequency. Got none.")
    rows = validation.by_frequency
    labels = [f"{r.frequency_min}+" if r.frequency_max is None else str(r.frequency_min) for r in rows]
    data = labels, [r.actual_per_customer for r in rows], [r.predicted_per_customer for r in rows]
    with themed(medium):
        fig = new_figure(WIDTH[medium], 3.3)
        clv_charts.holdout_bars(*data, ax=fig.subplots(), fmt=view.fmt)
        alt = clv_charts.holdout_alt(*data, view.fmt)
        caption = "Holdout check: predicted against actual repeat purchases"
        return to_chart(fig, key="clv-holdout" + suffix(medium), alt=alt, caption=caption, medium=medium)


def lift_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Measured lift per segment (and over all segments), with confidence intervals."""
    tests = view.tests
    if tests is None or tests.results is None:
        raise PublishError("lift_chart needs an experiment_results section. Got none.")
    lines = [line for line in tests.primary if line.row.lift is not None]
    if not lines:
        raise PublishError("lift_chart needs at least one row with a lift. Got none.")
    labels = ["All segments" if ln.segment is None else ln.segment.name for ln in lines]
    data = labels, [ln.row.lift for ln in lines], [ln.row.lift_low for ln in lines], [ln.row.lift_high for ln in lines]
    exp, results = tests.section, tests.results
    what = "repurchase" if results.primary.metric == "conversion" else "revenue per customer"
    metric = f"{what} within {exp.window_days} days"
    with themed(medium):
        fig = new_figure(WIDTH[medium], _rows_height(len(lines), 0.5, 1.2))
        experiments.lift_intervals(
            *data,
            [FALLBACK_COLOR if ln.segment is None else ln.segment.color for ln in lines],
            totals=[ln.segment is None for ln in lines],
            metric_label=metric,
            ax=fig.subplots(),
            fmt=view.fmt,
        )
        alt = experiments.lift_alt(*data, results.confidence_level, metric, view.fmt)
        caption = "Measured lift, treatment against control"
        return to_chart(fig, key="experiment-lift" + suffix(medium), alt=alt, caption=caption, medium=medium)


def impact_chart(
    view: ReportView, *, medium: Medium = "screen", height: float | None = None, top: int | None = None
) -> Chart:
    """The value an action could move in each segment, in ranking order (the overview and the brief).

    ``top`` draws the first ``top`` segments of the ranking only (the brief, where a long ranking
    would shrink the bars past reading); the caption then says so.
    """
    rows = view.value.ranking[:top] if top else view.value.ranking
    names, values = [r.segment.name for r in rows], [r.movable_value for r in rows]
    width = WIDTH[medium] if medium != "print" else 3.6
    with themed(medium):
        fig = new_figure(width, height or _rows_height(len(rows), 0.34 if medium == "print" else 0.5, 0.5))
        segments.value_bars(names, values, [r.segment.color for r in rows], ax=fig.subplots(), fmt=view.fmt)
        alt = segments.value_alt("Value an action could move", names, values, view.fmt)
        caption = "Value an action could move, by segment"
        if len(rows) < len(view.value.ranking):
            caption = f"Value an action could move: the first {len(rows)} segments"
        return to_chart(fig, key="impact" + suffix(medium), alt=alt, caption=caption, medium=medium)


def transition_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Customers by segment at the previous refresh (rows, "new" last) and now (columns, "gone" last)."""
    changes = view.changes
    if changes is None or not changes.counts:
        raise PublishError("transition_chart needs a migration section. Got none.")
    rows = ["new customers" if a.kind == "new" else a.segment.name for a in changes.rows]
    cols = ["gone" if a.kind == "gone" else a.segment.name for a in changes.columns]
    counts = [list(r) for r in changes.counts]
    with themed(medium):
        fig = new_figure(WIDTH[medium] + (0.4 if medium == "screen" else 0.0), _rows_height(len(rows), 0.62, 1.6))
        ax = fig.subplots()
        transitions.transition_heatmap(rows, cols, counts, ax=ax, fmt=view.fmt, from_title="segment at the last report")
        if medium == "phone":  # column names side by side would collide on a narrow drawing
            ax.tick_params(axis="x", labelrotation=90)
        alt = transitions.transition_alt(rows, cols, counts, view.fmt)
        caption = "Where the customers of the last report are now"
        return to_chart(fig, key="transitions" + suffix(medium), alt=alt, caption=caption, medium=medium)


def trend_chart(view: ReportView, *, medium: Medium = "screen") -> Chart:
    """Customers per segment at each refresh."""
    changes = view.changes
    if changes is None or len(changes.snapshots) < 2:
        raise PublishError("trend_chart needs a history with at least two refreshes. Got fewer.")
    rows = changes.trend
    data = changes.snapshots, [r.segment.name for r in rows], [list(r.customers) for r in rows]
    with themed(medium):
        fig = new_figure(WIDTH[medium], 3.4)
        history.trend_lines(*data, [r.segment.color for r in rows], ax=fig.subplots(), fmt=view.fmt)
        alt = history.trend_alt(*data, view.fmt)
        caption = "Customers per segment at each refresh"
        return to_chart(fig, key="trend" + suffix(medium), alt=alt, caption=caption, medium=medium)


def _jobs_for(view: ReportView, medium: Medium) -> list[Callable[[], Chart]]:
    def job(draw: Callable[..., Chart], *args: object) -> Callable[[], Chart]:
        return partial(draw, view, *args, medium=medium)

    jobs = [
        job(draw)
        for draw in (
            size_revenue_chart,
            impact_chart,
            elbow_chart,
            k_metrics_chart,
            projection_chart,
            rfm_grid_chart,
            rfm_crosstab_chart,
        )
    ]
    for seg in view.segments:
        jobs += [job(profile_chart, seg.id), job(box_chart, seg.id)]
    clv = view.value.clv
    if clv is not None and clv.reliable:
        jobs.append(job(clv_chart))
        if clv.section.validation is not None and clv.section.validation.by_frequency:
            jobs.append(job(holdout_chart))
    tests = view.tests
    if tests is not None and any(ln.row.lift is not None for ln in tests.primary):
        jobs.append(job(lift_chart))
    if view.changes is not None and view.changes.counts:
        jobs.append(job(transition_chart))
    if view.changes is not None and len(view.changes.snapshots) >= 2:
        jobs.append(job(trend_chart))
    return jobs


def site_chart_jobs(view: ReportView) -> list[Callable[[], Chart]]:
    """Every chart the website shows, not yet drawn: each call draws one, the same for the same view.

    The screen drawings first, then the same charts for phones (key ``<key>-phone``). The list
    depends on the view alone, so another process that builds the same view from the same bundle
    can draw any of them by its place in the list (:mod:`publishing._brief_worker`).
    """
    return _jobs_for(view, "screen") + _jobs_for(view, "phone")


def site_charts(view: ReportView) -> list[Chart]:
    """Every chart the website shows, each drawn for the screen and (key ``<key>-phone``) for phones."""
    return [draw() for draw in site_chart_jobs(view)]


#: The most segments the brief's charts draw (the page-1 table lists more).
BRIEF_BARS = 8


def brief_charts(
    view: ReportView, *, share_height: float | None = None, impact_height: float | None = None
) -> dict[str, Chart]:
    """The brief's two charts, drawn for print (heights in inches; None: sized to their rows).

    ``"share"``: size against revenue (page 1); ``"impact"``: the value an action could move (page 2).
    """
    return {
        "share": size_revenue_chart(view, medium="print", height=share_height, top=BRIEF_BARS),
        "impact": impact_chart(view, medium="print", height=impact_height, top=BRIEF_BARS),
    }
