"""The customers on the first two components of a projection (PCA), coloured by segment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes

from publishing._format import Formats
from publishing.charts._common import axes_or_current, formats_or_default, wrap_label

__all__ = ["projection_scatter", "projection_alt"]


def _axis_label(method: str, n: int, explained: Sequence[float], fmt: Formats) -> str:
    share = f" ({fmt.percent(explained[n - 1], 0)} of variance)" if len(explained) >= n else ""
    return f"{method} {n}{share}"


def projection_scatter(
    x: Sequence[float],
    y: Sequence[float],
    segment: Sequence[int],
    colors: Mapping[int, str],
    names: Mapping[int, str],
    *,
    centroids: Sequence[tuple[int, float, float]] = (),
    method: str = "PCA",
    explained_variance: Sequence[float] = (),
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """A scatter of customers (``x``, ``y``, ``segment`` per point), centres marked with crosses.

    Parameters
    ----------
    colors, names
        ``{segment id: colour}`` and ``{segment id: name}``; segments are drawn in id order.
    centroids
        ``(segment id, x, y)`` of each segment centre.
    method, explained_variance
        Name the axes ("PCA 1 (56% of variance)").
    """
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    for sid in sorted(colors):
        xs = [px for px, s in zip(x, segment, strict=True) if s == sid]
        ys = [py for py, s in zip(y, segment, strict=True) if s == sid]
        if xs:
            label = wrap_label(names.get(sid, str(sid)), 22)
            ax.scatter(xs, ys, s=7, color=colors[sid], alpha=0.55, linewidths=0, label=label)
    for sid, cx, cy in centroids:
        if sid in colors:
            ax.scatter([cx], [cy], s=110, marker="X", color=colors[sid], edgecolors="white", linewidths=1.2, zorder=5)
    ax.set_xlabel(_axis_label(method.upper(), 1, explained_variance, fmt))
    ax.set_ylabel(_axis_label(method.upper(), 2, explained_variance, fmt))
    ax.set_xticks([])
    ax.set_yticks([])
    # Below the plot, not over the points: the legend never hides a cluster.
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.1), ncols=2, fontsize="small", markerscale=2.2, borderaxespad=0)
    return ax


def projection_alt(
    n_points: int, counts: Mapping[str, int], method: str, explained_variance: Sequence[float], fmt: Formats
) -> str:
    """Alt text of :func:`projection_scatter`; ``counts`` is ``{segment name: points}``."""
    shares = (
        f", which carry {fmt.percent(explained_variance[0], 0)} and {fmt.percent(explained_variance[1], 0)} "
        "of the variance"
        if len(explained_variance) >= 2
        else ""
    )
    per_segment = "; ".join(f"{name}: {fmt.number(n)} points" for name, n in counts.items())
    return (
        f"Scatter plot of {fmt.number(n_points)} customers on the first two {method.upper()} components{shares}, "
        f"coloured by segment ({per_segment}); crosses mark the segment centres."
    )
