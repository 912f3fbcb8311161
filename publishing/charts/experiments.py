"""The measured lift of each A/B test, with its confidence interval."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from publishing._format import Formats
from publishing.charts._common import axes_or_current, formats_or_default, percent_axis, value_grid, wrap_label
from publishing.charts._theme import MUTED

__all__ = ["lift_intervals", "lift_alt"]


def lift_intervals(
    names: Sequence[str],
    lift: Sequence[float],
    low: Sequence[float | None],
    high: Sequence[float | None],
    colors: Sequence[str],
    *,
    totals: Sequence[bool] | None = None,
    metric_label: str = "the metric",
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Relative lift of treatment over control per row, a line for its interval (when known).

    ``totals`` marks rows that are overall figures rather than one segment
    (drawn as a diamond instead of a dot).
    """
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    flags = list(totals) if totals is not None else [False] * len(names)
    ys = list(range(len(names)))[::-1]
    for y, v, lo, hi, color, total in zip(ys, lift, low, high, colors, flags, strict=True):
        ax.plot([v if lo is None else lo, v if hi is None else hi], [y, y], color=color, linewidth=2)
        ax.scatter([v], [y], color=color, s=45, zorder=3, marker="D" if total else "o")
    ax.axvline(0, color=MUTED, linewidth=0.8)
    ax.set_yticks(ys, [wrap_label(n) for n in names])
    percent_axis(ax.xaxis, fmt)
    ax.set_xlabel(f"relative lift in {metric_label}")
    value_grid(ax)
    return ax


def lift_alt(
    names: Sequence[str],
    lift: Sequence[float],
    low: Sequence[float | None],
    high: Sequence[float | None],
    confidence_level: float,
    metric_label: str,
    fmt: Formats,
) -> str:
    """Alt text of :func:`lift_intervals`."""
    level = fmt.percent(confidence_level, 0)
    parts = [
        f"{n}: {fmt.percent(v)}"
        + (f" ({level} interval {fmt.percent(lo)} to {fmt.percent(hi)})" if lo is not None and hi is not None else "")
        for n, v, lo, hi in zip(names, lift, low, high, strict=True)
    ]
    return f"Interval plot of the relative lift in {metric_label} by segment. " + "; ".join(parts) + "."
