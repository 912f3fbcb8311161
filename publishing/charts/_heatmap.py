"""An annotated seaborn heatmap whose cell text is always readable, and the WCAG contrast it relies on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb

__all__ = ["relative_luminance", "contrast_ratio", "text_color_for", "annotated_heatmap", "HEATMAP_CMAP"]

HEATMAP_CMAP = "Blues"
_DARK, _LIGHT = "#000000", "#ffffff"


def relative_luminance(color) -> float:
    """WCAG 2.x relative luminance of a colour (0 for black, 1 for white)."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a, b) -> float:
    """WCAG contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color_for(background) -> str:
    """Black or white, whichever contrasts more with ``background``.

    One of the two always reaches at least 4.58:1 (the worst case is a
    background of luminance 0.18), so text on any cell meets WCAG AA (4.5:1);
    a softer ink or grey would not on mid-tone cells.
    """
    return max((_DARK, _LIGHT), key=lambda c: contrast_ratio(c, background))


def _fit(text, width: float) -> None:
    """Shrink a cell label (down to 70% of its size) until it fits the cell; one long word cannot wrap."""
    floor = 0.7 * text.get_fontsize()
    while text.get_window_extent().width > width and text.get_fontsize() * 0.93 >= floor:
        text.set_fontsize(text.get_fontsize() * 0.93)


def annotated_heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    ax: Axes,
    primary: Sequence[Sequence[str | None]],
    secondary: Sequence[Sequence[str | None]] | None = None,
    vmax: float | None = None,
    colorbar: str | None = None,
    colorbar_format=None,
) -> Axes:
    """Draw ``values`` (rows x columns; NaN = no cell) with seaborn, one or two lines of text per cell.

    ``primary`` is the bold first line of each cell (e.g. a count), ``secondary``
    an optional smaller line under it (a name); each is drawn in black or white
    by the cell's luminance (:func:`text_color_for`).
    """
    data = np.asarray(values, dtype=float)
    peak = vmax if vmax is not None else (np.nanmax(data) if np.isfinite(data).any() else 1.0) or 1.0
    sns.heatmap(
        data,
        ax=ax,
        cmap=HEATMAP_CMAP,
        vmin=0,
        vmax=peak,
        mask=~np.isfinite(data),
        linewidths=2,
        linecolor="white",
        cbar=colorbar is not None,
        cbar_kws={"label": colorbar, "shrink": 0.8, "format": colorbar_format} if colorbar is not None else None,
        xticklabels=list(col_labels),
        yticklabels=list(row_labels),
    )
    mesh = ax.collections[0]
    cell = abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])  # width, in pixels
    two = secondary is not None
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if not np.isfinite(data[i, j]):
                continue
            ink = text_color_for(mesh.cmap(mesh.norm(data[i, j])))
            if primary[i][j]:
                y = i + (0.36 if two else 0.5)
                ax.text(j + 0.5, y, primary[i][j], ha="center", va="center", fontweight="bold", color=ink)
            if two and secondary[i][j]:
                label = ax.text(j + 0.5, i + 0.68, secondary[i][j], ha="center", va="center", fontsize="small")
                label.set_color(ink)
                _fit(label, 0.92 * cell)
    ax.tick_params(length=0)
    ax.tick_params(axis="x", labelrotation=0)
    ax.tick_params(axis="y", labelrotation=0)
    return ax
