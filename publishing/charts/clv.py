"""Lifetime-value charts: expected value by segment with its interval, and the holdout check."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from publishing._format import Formats
from publishing.charts._common import axes_or_current, formats_or_default, money_axis, value_grid, wrap_label
from publishing.charts._theme import INK, MUTED, PALETTE

__all__ = ["clv_bars", "clv_alt", "holdout_bars", "holdout_alt"]


def clv_bars(
    names: Sequence[str],
    clv: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    share_of_value: Sequence[float],
    colors: Sequence[str],
    *,
    xlabel: str = "expected value, discounted",
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Expected value per segment, its interval as error bars, and "value · share" beyond each cap."""
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    ys = list(range(len(names)))[::-1]
    for y, v, lo, hi, share, color in zip(ys, clv, low, high, share_of_value, colors, strict=True):
        ax.barh(y, v, color=color, height=0.6)
        ax.errorbar(v, y, xerr=[[v - lo], [hi - v]], fmt="none", ecolor=INK, elinewidth=1, capsize=3)
        # Anchored at the upper end of the interval and pushed right in points: clear of the cap.
        ax.annotate(
            f"{fmt.money(v, compact=True)} · {fmt.percent(share, 0)}",
            (max(hi, v), y),
            xytext=(6, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize="small",
            color=MUTED,
        )
    ax.set_yticks(ys, [wrap_label(n) for n in names])
    money_axis(ax.xaxis, fmt)
    ax.set_xlim(0, max([*high, *clv, 1.0]) * 1.45)
    ax.set_xlabel(xlabel + ("" if fmt.currency_known else " (currency unknown)"))
    value_grid(ax)
    return ax


def clv_alt(
    names: Sequence[str],
    clv: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    share_of_value: Sequence[float],
    interval_level: float,
    fmt: Formats,
) -> str:
    """Alt text of :func:`clv_bars`."""
    level = fmt.percent(interval_level, 0)
    parts = [
        f"{n}: {fmt.money(v)} ({level} interval {fmt.money(lo)} to {fmt.money(hi)}), {fmt.percent(s)} of value"
        for n, v, lo, hi, s in zip(names, clv, low, high, share_of_value, strict=True)
    ]
    return "Bar chart of expected customer lifetime value by segment. " + "; ".join(parts) + "."


def holdout_bars(
    labels: Sequence[str],
    actual: Sequence[float],
    predicted: Sequence[float],
    *,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Actual against predicted repeat purchases per customer in the holdout, by calibration frequency."""
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    x = list(range(len(labels)))
    ax.bar([i - 0.2 for i in x], actual, width=0.4, color=PALETTE[7], label="actual")
    ax.bar([i + 0.2 for i in x], predicted, width=0.4, color=PALETTE[0], label="predicted")
    ax.set_xticks(x, list(labels))
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("repeat purchases per\ncustomer, holdout")
    ax.yaxis.set_major_formatter(lambda v, _pos: fmt.number(round(v, 9), 1))
    ax.legend(loc="upper left", fontsize="small")
    value_grid(ax, "y")
    return ax


def holdout_alt(labels: Sequence[str], actual: Sequence[float], predicted: Sequence[float], fmt: Formats) -> str:
    """Alt text of :func:`holdout_bars`."""
    parts = [
        f"{lab}: actual {fmt.number(a, 2)}, predicted {fmt.number(p, 2)}"
        for lab, a, p in zip(labels, actual, predicted, strict=True)
    ]
    return (
        "Bar chart of actual and predicted repeat purchases per customer in the holdout period, by "
        "calibration-period frequency. " + "; ".join(parts) + "."
    )
