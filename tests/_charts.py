"""Helpers for the chart tests: a themed Axes to draw on, and what a drawn Axes shows."""

from __future__ import annotations

from matplotlib.axes import Axes

from publishing.charts import new_figure, themed


def fresh_axes(width: float = 4.6, height: float = 3.4) -> Axes:
    """A new Axes in the screen theme, on a figure pyplot does not know about."""
    with themed():
        return new_figure(width, height).subplots()


def drawn(ax: Axes) -> Axes:
    """Lay the figure out (tick labels, text sizes) without rendering pixels."""
    ax.figure.draw_without_rendering()
    return ax


def tick_texts(axis) -> list[str]:
    """The tick labels an axis shows, after layout."""
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def texts(ax: Axes) -> list[str]:
    """Every free text and annotation drawn on the Axes."""
    return [t.get_text() for t in ax.texts]


def labels_top_down(ax: Axes) -> list[str]:
    """The y tick labels from the top of the chart down."""
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    return [t.get_text() for t in ticks]
