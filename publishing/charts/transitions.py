"""Who moved from which segment to which between two runs: a migration (transition) matrix heatmap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from publishing._format import Formats
from publishing.charts._common import axes_or_current, formats_or_default, wrap_label
from publishing.charts._heatmap import annotated_heatmap
from publishing.charts._theme import INK

__all__ = ["transition_heatmap", "transition_alt"]


def _matrix(labels_from: Sequence[str], labels_to: Sequence[str], counts: Sequence[Sequence[float]]) -> np.ndarray:
    data = np.asarray(counts, dtype=float)
    if data.shape != (len(labels_from), len(labels_to)):
        raise ValueError(
            f"The 'counts' parameter must be {len(labels_from)} rows (labels_from) x {len(labels_to)} columns "
            f"(labels_to). Got shape {data.shape}."
        )
    if (data < 0).any() or not np.isfinite(data).all():
        raise ValueError("The 'counts' parameter must hold finite, non-negative customer counts.")
    return data


def transition_heatmap(
    labels_from: Sequence[str],
    labels_to: Sequence[str],
    counts: Sequence[Sequence[float]],
    *,
    ax: Axes | None = None,
    fmt: Formats | None = None,
    from_title: str = "segment before",
    to_title: str = "segment now",
) -> Axes:
    """Customers by segment before (rows) and segment now (columns).

    Parameters
    ----------
    labels_from, labels_to
        Segment names of the earlier and the later run (they may differ: segments
        can appear or vanish between runs).
    counts
        ``counts[i][j]`` customers were in ``labels_from[i]`` and are now in ``labels_to[j]``.
    from_title, to_title
        Axis titles.

    Each cell shows its count and the share of its row (where the row's customers
    went); the shade is that share, so a stable segment is one dark cell per row.
    Cells where the name is the same before and now (customers who stayed) are outlined.
    """
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    data = _matrix(labels_from, labels_to, counts)
    totals = data.sum(axis=1, keepdims=True)
    shares = np.divide(data, totals, out=np.zeros_like(data), where=totals > 0)
    primary = [[fmt.number(v) for v in row] for row in data]
    secondary = [[fmt.percent(s, 0) for s in row] for row in shares]
    annotated_heatmap(
        shares,
        [wrap_label(n, 14) for n in labels_from],
        [wrap_label(n, 12) for n in labels_to],
        ax=ax,
        primary=primary,
        secondary=secondary,
        vmax=1.0,
        colorbar="share of the row's customers",
        colorbar_format=FuncFormatter(lambda v, _pos: fmt.percent(round(v, 9), 0)),
    )
    for i, name in enumerate(labels_from):
        if name in labels_to:
            j = list(labels_to).index(name)
            ax.add_patch(Rectangle((j + 0.04, i + 0.04), 0.92, 0.92, fill=False, edgecolor=INK, linewidth=1.5))
    ax.set_ylabel(from_title)
    ax.set_xlabel(to_title)
    return ax


def transition_alt(
    labels_from: Sequence[str], labels_to: Sequence[str], counts: Sequence[Sequence[float]], fmt: Formats
) -> str:
    """Alt text of :func:`transition_heatmap`: how many stayed, and the largest move."""
    data = _matrix(labels_from, labels_to, counts)
    total = data.sum()
    stayed = sum(data[i, list(labels_to).index(n)] for i, n in enumerate(labels_from) if n in labels_to)
    moves = [
        (data[i, j], i, j)
        for i, a in enumerate(labels_from)
        for j, b in enumerate(labels_to)
        if a != b and data[i, j] > 0
    ]
    text = (
        f"Heatmap of {fmt.number(total)} customers by segment before and segment now; "
        f"{fmt.number(stayed)} ({fmt.percent(stayed / total if total else 0.0)}) stayed in their segment"
    )
    if moves:
        n, i, j = max(moves, key=lambda m: (m[0], -m[1], -m[2]))
        share = n / data[i].sum()
        text += (
            f"; the largest move is from {labels_from[i]} to {labels_to[j]}: {fmt.number(n)} customers, "
            f"{fmt.percent(share)} of {labels_from[i]}"
        )
    return text + "."
