"""The brief's own small chart, drawn by matplotlib into SVG text.

Sized for a print column (in inches) and coloured with the site's segment
colours, so a segment looks the same on the site and on paper.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["value_chart"]

_RC = {
    "svg.fonttype": "none",
    # Segment names are data: a "$" in one must not switch to mathtext.
    "text.parse_math": False,
    "svg.hashsalt": "segmentation-brief",
    "font.family": ["Inter", "DejaVu Sans", "sans-serif"],
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9aa3ad",
    "axes.labelcolor": "#333b45",
    "xtick.color": "#5b6570",
    "ytick.color": "#333b45",
}


def _svg(fig) -> str:
    buf = io.StringIO()
    # No date in the metadata: the same bundle gives the same bytes.
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def _short(name: str, width: int = 24) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def value_chart(
    names: Sequence[str],
    values: Sequence[float],
    colors: Sequence[str],
    *,
    label: str,
    currency: str = "£",
    width: float = 3.2,
) -> str:
    """Horizontal bars of one money value per segment (e.g. revenue per customer)."""
    n = len(names)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(width, 0.32 * n + 0.7))
        ys = list(range(n))[::-1]
        ax.barh(ys, values, color=list(colors), height=0.6)
        top = max([*values, 1.0])
        for y, v in zip(ys, values, strict=True):
            ax.text(v + top * 0.02, y, f"{currency}{v:,.0f}", va="center", fontsize=7, color="#222a33")
        ax.set_yticks(ys, [_short(s, 20) for s in names])
        ax.set_xlim(0, top * 1.3)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        svg = _svg(fig)
    return _with_title(svg, label)


def _with_title(svg: str, title: str) -> str:
    from xml.sax.saxutils import escape

    marker = "<svg "
    start = svg.find(marker)
    end = svg.find(">", start)
    if start < 0 or end < 0:
        return svg
    return svg[: end + 1] + f"<title>{escape(title)}</title>" + svg[end + 1 :]
