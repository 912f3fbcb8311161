"""Segment sizes across refreshes: one line per segment, one point per refresh."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from publishing._format import Formats
from publishing.charts._common import axes_or_current, formats_or_default, number_axis, value_grid, wrap_label
from publishing.charts._theme import INK

__all__ = ["trend_lines", "trend_alt"]


def trend_lines(
    snapshots: Sequence[str],
    names: Sequence[str],
    customers: Sequence[Sequence[int | None]],
    colors: Sequence[str],
    *,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Customers per segment at each refresh (``customers[i][j]``: segment ``i`` at snapshot ``j``; None = absent).

    Each line ends in its segment's name and latest count, so no legend is needed.
    """
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    xs = list(range(len(snapshots)))
    ends = []
    for name, counts, color in zip(names, customers, colors, strict=True):
        pts = [(x, c) for x, c in zip(xs, counts, strict=True) if c is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=color, linewidth=2)
            ends.append((pts[-1], name))
    top = max((c for row in customers for c in row if c is not None), default=1)
    placed = _spread(ends, line=0.08 * top)
    for (x, y), label_y, name in placed:
        ax.annotate(
            f"{wrap_label(name, 16)}\n{fmt.number(y)}",
            (x, y),
            xytext=(x + 0.08, label_y),
            textcoords="data",
            va="center",
            fontsize="small",
            color=INK,  # segment colours are too light for text on white; the line carries the colour
        )
    ax.set_xticks(xs, [fmt.date(s) for s in snapshots])
    ax.set_xlim(-0.25, max(0, len(xs) - 1) + 0.9)  # room for the end labels
    highest = max((label_y for _, label_y, _ in placed), default=top)
    ax.set_ylim(0, max(top, highest) * 1.08)
    ax.set_ylabel("customers")
    number_axis(ax.yaxis, fmt)
    value_grid(ax, "y")
    return ax


def _lines(name: str) -> int:
    return wrap_label(name, 16).count("\n") + 2  # the wrapped name and the count under it


def _spread(ends, *, line: float):
    """End labels ``((x, y), label_y, name)``, each moved up clear of the one below.

    ``line`` is the height of one line of text in data units.
    """
    placed, last = [], None
    for (x, y), name in sorted(ends, key=lambda e: e[0][1]):
        label_y = y if last is None else max(y, last[0] + line * (last[1] + _lines(name)) / 2)
        placed.append(((x, y), label_y, name))
        last = (label_y, _lines(name))
    return placed


def trend_alt(
    snapshots: Sequence[str], names: Sequence[str], customers: Sequence[Sequence[int | None]], fmt: Formats
) -> str:
    """Alt text of :func:`trend_lines`: each segment's customers at each refresh."""
    parts = []
    for name, counts in zip(names, customers, strict=True):
        seen = [f"{fmt.number(c)} on {fmt.date(s)}" for s, c in zip(snapshots, counts, strict=True) if c is not None]
        parts.append(f"{name}: " + ", ".join(seen))
    return f"Line chart of customers per segment at each of {len(snapshots)} refreshes. " + "; ".join(parts) + "."
