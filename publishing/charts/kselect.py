"""Charts of the choice of k: the elbow curve, and silhouette and stability by k.

Both take plain per-k numbers (and the chosen k, the knee, the stability
floor), so they do not depend on how the bundle records the decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from publishing._format import Formats
from publishing.charts._common import axes_or_current, formats_or_default, number_axis, value_grid
from publishing.charts._theme import MUTED, PALETTE

__all__ = ["elbow", "elbow_alt", "k_metrics", "k_metrics_alt"]

_KNEE = PALETTE[3]


def _mark_chosen(ax: Axes, chosen_k: int) -> None:
    """A dashed line at the chosen k, labelled above the plot where no data can cross the label."""
    ax.axvline(chosen_k, color=MUTED, linestyle="--", linewidth=1)
    ax.annotate(
        f"chosen k = {chosen_k}",
        (chosen_k, 1.0),
        xycoords=ax.get_xaxis_transform(),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize="small",
        color=MUTED,
    )


def elbow(
    ks: Sequence[int],
    inertia: Sequence[float],
    *,
    chosen_k: int,
    elbow_k: int | None = None,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Within-cluster inertia by k, with the knee (when there is one) and the chosen k marked."""
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    ax.plot(ks, inertia, marker="o", color=PALETTE[0], linewidth=1.8)
    by_k = dict(zip(ks, inertia, strict=True))
    if elbow_k is not None and elbow_k in by_k:
        ax.scatter([elbow_k], [by_k[elbow_k]], s=160, facecolors="none", edgecolors=_KNEE, linewidths=2, zorder=5)
        ax.annotate(
            f"knee at k = {elbow_k}",
            (elbow_k, by_k[elbow_k]),
            xytext=(14, 14),
            textcoords="offset points",
            color=_KNEE,
            fontsize="small",
            arrowprops={"arrowstyle": "-", "color": _KNEE},
        )
    _mark_chosen(ax, chosen_k)
    ax.set_xticks(list(ks))
    ax.set_xlabel("number of segments k")
    ax.set_ylabel("inertia (within-cluster\nsum of squares)")
    number_axis(ax.yaxis, fmt)
    value_grid(ax, "y")
    return ax


def elbow_alt(ks: Sequence[int], inertia: Sequence[float], chosen_k: int, elbow_k: int | None, fmt: Formats) -> str:
    """Alt text of :func:`elbow`."""
    knee = f"the knee is at k = {elbow_k}" if elbow_k is not None else "no clear knee was found"
    return (
        f"Line chart of inertia for k from {ks[0]} to {ks[-1]}, falling from {fmt.number(inertia[0])} to "
        f"{fmt.number(inertia[-1])}; {knee}; k = {chosen_k} was chosen."
    )


def k_metrics(
    ks: Sequence[int],
    silhouette: Sequence[float],
    stability: Sequence[float],
    *,
    chosen_k: int,
    min_stability: float | None = None,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Silhouette and bootstrap stability (mean adjusted Rand index) by k, with the stability floor."""
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    ax.plot(ks, silhouette, marker="o", color=PALETTE[0], label="silhouette")
    ax.plot(ks, stability, marker="s", color=PALETTE[1], label="stability (mean ARI)")
    if min_stability is not None:
        ax.axhline(min_stability, color=PALETTE[1], linestyle=":", linewidth=1)
        # Labelled in the right margin, level with the line: no curve can run through the text.
        ax.annotate(
            f"floor\n{fmt.number(min_stability, 2)}",
            (1.0, min_stability),
            xycoords=ax.get_yaxis_transform(),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize="small",
            color=MUTED,
        )
    _mark_chosen(ax, chosen_k)
    ax.set_xticks(list(ks))
    ax.set_xlabel("number of segments k")
    ax.set_ylabel("score")
    ax.set_ylim(min(0.0, *silhouette, *stability), 1.05)
    ax.yaxis.set_major_formatter(lambda v, _pos: fmt.number(round(v, 9), 1))
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.22), ncols=2, fontsize="small", borderaxespad=0)
    value_grid(ax, "y")
    return ax


def k_metrics_alt(
    ks: Sequence[int],
    silhouette: Sequence[float],
    stability: Sequence[float],
    chosen_k: int,
    min_stability: float | None,
    fmt: Formats,
) -> str:
    """Alt text of :func:`k_metrics`."""
    best = max(range(len(ks)), key=lambda i: silhouette[i])
    text = (
        f"Line chart of silhouette and stability for k from {ks[0]} to {ks[-1]}; the highest silhouette, "
        f"{fmt.number(silhouette[best], 2)}, is at k = {ks[best]}; "
    )
    if chosen_k in ks:
        i = list(ks).index(chosen_k)
        text += (
            f"at the chosen k = {chosen_k} silhouette is {fmt.number(silhouette[i], 2)} and stability "
            f"{fmt.number(stability[i], 2)}"
        )
    else:
        text += f"k = {chosen_k} was chosen"
    if min_stability is not None:
        text += f"; the stability floor is {fmt.number(min_stability, 2)}"
    return text + "."
