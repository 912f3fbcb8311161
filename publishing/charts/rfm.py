"""Heatmaps of the classic RFM view: customers by recency x frequency score, and RFM segment x cluster segment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from publishing._format import Formats
from publishing.charts._common import axes_or_current, formats_or_default, wrap_label
from publishing.charts._heatmap import annotated_heatmap

__all__ = ["rfm_grid", "rfm_grid_alt", "rfm_crosstab", "rfm_crosstab_alt"]


def rfm_grid(
    r: Sequence[int],
    f: Sequence[int],
    customers: Sequence[int],
    segments: Sequence[str],
    *,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Customers per (recency score, frequency score) cell, with the cell's most common RFM segment.

    One entry per cell in ``r``, ``f``, ``customers`` and ``segments``; a score
    pair with no entry is left blank. Recency 5 (most recent) is the top row.
    """
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    if not customers:
        raise ValueError("The 'customers' parameter must hold at least one RFM cell. Got none.")
    rows = sorted(set(r), reverse=True)
    cols = sorted(set(f))
    values = np.full((len(rows), len(cols)), np.nan)
    counts: list[list[str | None]] = [[None] * len(cols) for _ in rows]
    names: list[list[str | None]] = [[None] * len(cols) for _ in rows]
    for ri, fi, n, name in zip(r, f, customers, segments, strict=True):
        i, j = rows.index(ri), cols.index(fi)
        values[i, j] = n
        counts[i][j] = fmt.number(n)
        names[i][j] = wrap_label(name, 9)
    # Every cell carries its count, so a colour bar would only repeat it.
    annotated_heatmap(values, [str(v) for v in rows], [str(v) for v in cols], ax=ax, primary=counts, secondary=names)
    ax.set_xlabel("frequency score (5 = most orders)")
    ax.set_ylabel("recency score\n(5 = most recent)")
    return ax


def rfm_grid_alt(
    r: Sequence[int], f: Sequence[int], customers: Sequence[int], segments: Sequence[str], fmt: Formats
) -> str:
    """Alt text of :func:`rfm_grid`."""
    top = max(range(len(customers)), key=lambda i: (customers[i], r[i], f[i]))
    return (
        f"Heatmap of customers by recency score and frequency score ({len(customers)} cells); the largest cell, "
        f"R = {r[top]} and F = {f[top]}, holds {fmt.number(customers[top])} customers, mostly {segments[top]}."
    )


def rfm_crosstab(
    rfm_names: Sequence[str],
    segment_names: Sequence[str],
    counts: Sequence[Sequence[int]],
    *,
    ax: Axes | None = None,
    fmt: Formats | None = None,
) -> Axes:
    """Customers by classic RFM segment (rows) and segment (columns).

    Each cell shows its count; its shade is the share of the column's (the
    segment's) customers, so a segment made mostly of one RFM segment
    shows one dark cell in its column.
    """
    ax, fmt = axes_or_current(ax), formats_or_default(fmt)
    data = np.asarray(counts, dtype=float)
    if data.shape != (len(rfm_names), len(segment_names)):
        raise ValueError(
            f"The 'counts' parameter must be {len(rfm_names)} rows x {len(segment_names)} columns. "
            f"Got shape {data.shape}."
        )
    totals = data.sum(axis=0)
    shares = np.divide(data, totals, out=np.zeros_like(data), where=totals > 0)
    text = [[fmt.number(v) for v in row] for row in data]
    annotated_heatmap(
        shares,
        [wrap_label(n, 18) for n in rfm_names],
        [wrap_label(n, 12) for n in segment_names],
        ax=ax,
        primary=text,
        vmax=1.0,
        colorbar="share of the segment's customers",
        colorbar_format=FuncFormatter(lambda v, _pos: fmt.percent(round(v, 9), 0)),
    )
    ax.set_xlabel("segment")
    ax.set_ylabel("RFM segment")
    return ax


def rfm_crosstab_alt(
    rfm_names: Sequence[str], segment_names: Sequence[str], counts: Sequence[Sequence[int]], fmt: Formats
) -> str:
    """Alt text of :func:`rfm_crosstab`: each cluster segment's largest RFM segment and its share."""
    parts = []
    for j, seg in enumerate(segment_names):
        column = [row[j] for row in counts]
        total = sum(column)
        if total:
            i = max(range(len(column)), key=lambda k: (column[k], -k))
            parts.append(f"{seg}: mostly {rfm_names[i]} ({fmt.number(column[i])}, {fmt.percent(column[i] / total)})")
    return (
        f"Heatmap of customers by classic RFM segment ({len(rfm_names)} rows) and cluster segment "
        f"({len(segment_names)} columns). " + "; ".join(parts) + "."
    )
