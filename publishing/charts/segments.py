"""Charts of the segments themselves: size against revenue, profile z-scores, box plots, value per customer.

Each function draws plain data on ``ax`` (pyplot's current Axes when None)
and returns it; ``fmt`` formats every number drawn. The ``*_alt`` functions
say in words what the chart shows, with the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from publishing._format import Formats
from publishing.charts._common import (
    axes_or_current,
    formats_or_default,
    money_axis,
    number_axis,
    percent_axis,
    value_grid,
    wrap_label,
)
from publishing.charts._theme import INK, MUTED

__all__ = [
    "size_revenue",
    "size_revenue_alt",
    "profile_bars",
    "profile_alt",
    "segment_boxes",
    "box_alt",
    "value_bars",
    "value_alt",
]


def _rows(n: int) -> list[int]:
    # The first item is drawn on top.
    return list(range(n))[::-1]


def _label(ax: Axes, x: float, y: float, text: str, *, left: bool = True) -> None:
    """A value label just beyond a bar end (offset in points, so it never touches the bar)."""
    ax.annotate(
        text,
        (x, y),
        xytext=(4 if left else -4, 0),
        textcoords="offset points",
        ha="left" if left else "right",
        va="center",
        fontsize="small",
        color=MUTED,
    )


def size_revenue(
    names: Sequence[str],
    share_customers: Sequence[float],
    share_revenue: Sequence[float],
    colors: Sequence[str],
    *,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Share of customers (pale bar) next to share of revenue (solid bar), one pair per segment."""
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    height = 0.38
    for y, customers, revenue, color in zip(_rows(len(names)), share_customers, share_revenue, colors, strict=True):
        ax.barh(y + height / 2, customers, height=height, color=color, alpha=0.35)
        ax.barh(y - height / 2, revenue, height=height, color=color)
        _label(ax, customers, y + height / 2, fmt.percent(customers, 0))
        _label(ax, revenue, y - height / 2, fmt.percent(revenue, 0))
    ax.set_yticks(_rows(len(names)), [wrap_label(n) for n in names])
    percent_axis(ax.xaxis, fmt)
    top = max([*share_customers, *share_revenue, 0.01])
    ax.set_xlim(0, min(1.0, top * 1.15 + 0.03))
    value_grid(ax)
    handles = [Patch(color=MUTED, alpha=0.35, label="share of customers"), Patch(color=MUTED, label="share of revenue")]
    # Side by side above the bars, or stacked when the axes are too narrow (a phone drawing).
    cols = 2 if ax.get_position().width * ax.figure.get_figwidth() >= 3.0 else 1
    ax.legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncols=cols, fontsize="small", borderaxespad=0.2
    )
    return ax


def size_revenue_alt(
    names: Sequence[str], share_customers: Sequence[float], share_revenue: Sequence[float], fmt: Formats
) -> str:
    """Alt text of :func:`size_revenue`."""
    parts = [
        f"{n}: {fmt.percent(c)} of customers, {fmt.percent(r)} of revenue"
        for n, c, r in zip(names, share_customers, share_revenue, strict=True)
    ]
    return "Bar chart of each segment's share of customers and share of revenue. " + "; ".join(parts) + "."


def profile_bars(
    labels: Sequence[str], z: Sequence[float], color: str, *, ax: Axes | None = None, fmt: Formats | None = None
) -> Axes:
    """How far a segment's mean sits from the whole base, per feature, in standard deviations."""
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    ys = _rows(len(labels))
    ax.barh(ys, z, color=color, height=0.55)
    ax.axvline(0, color=INK, linewidth=0.8)
    lim = max(1.0, max((abs(v) for v in z), default=0.0) * 1.3)
    ax.set_xlim(-lim, lim)
    for y, v in zip(ys, z, strict=True):
        _label(ax, v, y, fmt.signed(v, 2), left=v >= 0)
    ax.set_yticks(ys, [wrap_label(t, 20) for t in labels])
    ax.set_xlabel("standard deviations from the\nwhole customer base (z-score)")
    value_grid(ax)
    return ax


def profile_alt(name: str, labels: Sequence[str], z: Sequence[float], fmt: Formats) -> str:
    """Alt text of :func:`profile_bars`."""
    parts = [f"{t} {fmt.signed(v)}" for t, v in zip(labels, z, strict=True)]
    return f"Bar chart of the z-scores of segment {name} against the whole base: " + "; ".join(parts) + "."


_BOX_KEYS = ("whisker_low", "q1", "median", "q3", "whisker_high", "mean")


def segment_boxes(
    names: Sequence[str],
    boxes: Sequence[Mapping[str, float]],
    colors: Sequence[str],
    *,
    highlight: int | None = None,
    money: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Box plots of one feature per segment from precomputed quantiles (no customer-level data).

    Parameters
    ----------
    names, colors
        One per segment, drawn top to bottom.
    boxes
        One mapping per segment with ``whisker_low, q1, median, q3, whisker_high, mean``
        (the bundle's ``BoxStats`` fields).
    highlight
        Index of the segment drawn solid and named in bold; the others are pale.
    money
        The values are amounts: label the axis in money; a heavily skewed spread
        gets a symmetric-log axis so small segments stay readable.
    """
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    missing = [k for k in _BOX_KEYS if any(k not in b for b in boxes)]
    if missing:
        raise ValueError(f"The 'boxes' parameter needs the keys {list(_BOX_KEYS)}. Missing {missing!r}.")
    stats = [
        {"med": b["median"], "q1": b["q1"], "q3": b["q3"], "whislo": b["whisker_low"], "whishi": b["whisker_high"]}
        | {"mean": b["mean"], "fliers": [], "label": ""}
        for b in boxes
    ]
    positions = _rows(len(names))
    art = ax.bxp(
        stats,
        positions=positions,
        orientation="horizontal",
        showmeans=True,
        patch_artist=True,
        widths=0.55,
        showfliers=False,
        meanprops={"marker": "D", "markersize": 4, "markerfacecolor": "white", "markeredgecolor": INK},
    )
    for i, (box, median, color) in enumerate(zip(art["boxes"], art["medians"], colors, strict=True)):
        mine = i == highlight
        box.set_facecolor(color)
        box.set_alpha(1.0 if mine else 0.3)
        box.set_edgecolor(INK if mine else color)
        median.set_color(INK if mine else color)
    ax.set_yticks(positions, [wrap_label(n) for n in names])
    for i, label in enumerate(ax.get_yticklabels()):
        label.set_fontweight("bold" if i == highlight else "normal")
        label.set_color(INK if i == highlight else MUTED)
    low = min(s["q1"] for s in stats)
    if money and max(s["whishi"] for s in stats) > 20 * max(1.0, low):
        ax.set_xscale("symlog", linthresh=max(1.0, low))
        ax.set_xlim(left=0)
    if money:
        money_axis(ax.xaxis, fmt)
    else:
        number_axis(ax.xaxis, fmt)
    if title:
        ax.set_title(title, fontsize="medium")
    value_grid(ax)
    return ax


def box_alt(
    name: str, features: Sequence[str], boxes: Sequence[Mapping[str, float]], kinds: Sequence[str], fmt: Formats
) -> str:
    """Alt text of the box plots of one segment's features.

    ``features`` are reader names; ``kinds`` says how each feature's values read:
    ``"money"``, ``"days"`` or ``"number"``.
    """
    show = {"money": fmt.money, "days": fmt.days, "number": fmt.number}
    bad = sorted(set(kinds) - set(show))
    if bad:
        raise ValueError(f"The 'kinds' parameter must hold 'money', 'days' or 'number'. Got {bad!r}.")
    parts = []
    for feature, b, kind in zip(features, boxes, kinds, strict=True):
        say = show[kind]
        parts.append(f"{feature}: median {say(b['median'])}, middle half {say(b['q1'])} to {say(b['q3'])}")
    what = " and ".join(f.lower() for f in features)
    return f"Box plots of {what} for every segment, {name} highlighted. " + "; ".join(parts) + "."


def value_bars(
    names: Sequence[str],
    values: Sequence[float],
    colors: Sequence[str],
    *,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """One amount per segment (e.g. revenue per customer) as labelled bars, with no value axis."""
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    ys = _rows(len(names))
    ax.barh(ys, values, color=list(colors), height=0.6)
    for y, v in zip(ys, values, strict=True):
        _label(ax, v, y, fmt.money(v))
    ax.set_yticks(ys, [wrap_label(n, 20) for n in names])
    ax.set_xlim(0, max([*values, 1.0]) * 1.35)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return ax


def value_alt(what: str, names: Sequence[str], values: Sequence[float], fmt: Formats) -> str:
    """Alt text of :func:`value_bars`; ``what`` names the amount ("Revenue per customer")."""
    parts = [f"{n}: {fmt.money(v)}" for n, v in zip(names, values, strict=True)]
    return f"Bar chart of {what.lower()} by segment. " + "; ".join(parts) + "."
