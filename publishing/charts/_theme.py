"""The one look of every chart, on the site and in the brief: fonts, colours, sizes, segment colours.

The theme is seaborn's ``white`` style and its plotting contexts (``notebook``
for the screen, ``paper`` for print) with the project's colours and fonts on
top, applied through :func:`themed` (a ``matplotlib.rc_context``, so nothing
global changes). The two media differ only in scale: a site chart is shown at
its drawn size and shrunk on a phone, a brief chart is printed at its drawn size.
Text sizes inside charts are relative (``fontsize="small"``), so they scale with
the medium.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Literal

import matplotlib
import seaborn as sns
from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "INK",
    "MUTED",
    "GRID",
    "FALLBACK_COLOR",
    "FONT",
    "Medium",
    "WIDTH",
    "theme",
    "themed",
    "new_figure",
    "segment_colors",
]

#: Segment colours in id order (Okabe-Ito, colour-blind safe, then Tableau extras).
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#8C564B",
    "#7F7F7F",
    "#17BECF",
    "#BCBD22",
    "#9467BD",
    "#1B9E77",
)
INK = "#1f2933"
#: Secondary text; 5.3:1 against white, so small labels stay readable (WCAG AA).
MUTED = "#5f6b7a"
GRID = "#e3e8ee"
#: The colour of anything that belongs to no known segment (site, brief and charts alike).
FALLBACK_COLOR = MUTED
FONT = ["Inter", "DejaVu Sans", "sans-serif"]

Medium = Literal["screen", "phone", "print"]

#: Drawn width in inches (of the axes area; labels add to it). The site shows a chart at its
#: drawn size at most; under 640 px it shows the "phone" drawing instead, narrow enough that a
#: 390 px screen shrinks it by a quarter at most, so 12 pt text still reads as 12 px and the
#: smallest labels (10 pt) as 10 px (the browser tests check the scale).
#: The brief's text column is 178 mm (7 in) wide.
WIDTH: dict[str, float] = {"screen": 4.6, "phone": 3.1, "print": 6.9}

# seaborn context and font scale per medium: 12 pt text on screen and phone, about 8.6 pt on paper.
_CONTEXT = {"screen": ("notebook", 1.0), "phone": ("notebook", 1.0), "print": ("paper", 0.9)}


def theme(medium: Medium = "screen") -> dict[str, object]:
    """The rc settings of every chart drawn for ``medium`` (``"screen"`` or ``"print"``)."""
    if medium not in _CONTEXT:
        raise ValueError(f"The 'medium' parameter must be one of {sorted(_CONTEXT)}. Got {medium!r} instead.")
    context, scale = _CONTEXT[medium]
    rc: dict[str, object] = {
        **sns.axes_style("white"),
        **sns.plotting_context(context, font_scale=scale),
        "font.family": "sans-serif",
        "font.sans-serif": FONT,
        # Segment names are data: a "$" in one must not switch to mathtext.
        "text.parse_math": False,
        "text.color": INK,
        "axes.edgecolor": GRID,
        "axes.labelcolor": INK,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.linewidth": 1.0,
        "grid.color": GRID,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "xtick.labelcolor": MUTED,
        "ytick.labelcolor": INK,
        "xtick.bottom": True,
        "xtick.major.size": 3,
        "ytick.major.size": 0,
        "legend.frameon": False,
        "figure.dpi": 100,
        # Read at save time: text stays text, ids are fixed, so the same data gives the same bytes.
        "svg.fonttype": "none",
        "svg.hashsalt": "segmentation",
    }
    return rc


@contextmanager
def themed(medium: Medium = "screen") -> Iterator[None]:
    """Draw (and save) inside this block to get the theme of ``medium``."""
    with matplotlib.rc_context(theme(medium)):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches, not registered with pyplot (nothing to close)."""
    return Figure(figsize=(width, height))


def segment_colors(ids: Iterable[int]) -> dict[int, str]:
    """Return ``{segment id: "#rrggbb"}``, one distinct colour per segment, in id order.

    The colour depends only on the id's rank among ``ids``, so the site and the
    brief always agree. Beyond the 12 palette colours, hues are spaced evenly
    (deterministic, still distinct).
    """
    ordered = sorted(set(ids))
    extra = max(1, len(ordered) - len(PALETTE))
    colors: dict[int, str] = {}
    for rank, sid in enumerate(ordered):
        if rank < len(PALETTE):
            colors[sid] = PALETTE[rank]
        else:
            r, g, b = colorsys.hsv_to_rgb((rank - len(PALETTE)) / extra, 0.75, 0.8)
            colors[sid] = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
    return colors
