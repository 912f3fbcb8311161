"""A drawn figure -> :class:`Chart`: accessible, deterministic SVG text ready to embed."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import matplotlib
from matplotlib.figure import Figure

from analysis.errors import PublishError
from publishing.charts._theme import Medium, theme

__all__ = ["Chart", "to_chart", "svg_data_uri"]


def svg_data_uri(svg: str) -> str:
    """An SVG document as a ``data:image/svg+xml;base64,...`` URI (for WeasyPrint ``<img>``)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Chart:
    """One chart, ready to embed.

    Attributes
    ----------
    key
        Stable identifier, also the file stem (``"size-revenue"``, ``"segment-2-profile"``).
    svg
        The SVG document as text, with ``role="img"``, ``<title>`` (the caption) and
        ``<desc>`` (the alt text).
    alt
        What the chart shows, in words, with its numbers (for ``alt=`` and screen readers).
    caption
        A short caption for under the figure.
    """

    key: str
    svg: str
    alt: str
    caption: str

    @property
    def filename(self) -> str:
        """The file name the chart is written to: ``<key>.svg``."""
        return f"{self.key}.svg"

    def write(self, directory: Path) -> Path:
        """Write the SVG into ``directory`` (created if needed) and return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / self.filename
        path.write_text(self.svg, encoding="utf-8")
        return path

    def data_uri(self) -> str:
        """The SVG as a ``data:`` URI (see :func:`svg_data_uri`)."""
        return svg_data_uri(self.svg)


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")

#: The widest a phone drawing may be, labels included, in inches: a 390 px screen's figure box
#: (about 347 px) then shrinks it by a quarter at most, so 10 pt labels still read as 10 px.
PHONE_MAX_WIDTH = 4.6


def _fit_phone(fig: Figure) -> None:
    """Narrow the axes of a phone drawing until the whole of it (labels too) fits :data:`PHONE_MAX_WIDTH`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for _ in range(4):
        excess = fig.get_tightbbox(FigureCanvasAgg(fig).get_renderer()).width - PHONE_MAX_WIDTH
        if excess <= 0:
            return
        fig.set_figwidth(max(1.5, fig.get_figwidth() - excess - 0.05))


def to_chart(fig: Figure, *, key: str, alt: str, caption: str, medium: Medium = "screen") -> Chart:
    """Save ``fig`` as SVG text and name it for assistive technology.

    Parameters
    ----------
    fig
        The drawn figure (closed in pyplot afterwards, if pyplot made it).
    key, alt, caption
        See :class:`Chart`; ``alt`` and ``caption`` are XML-escaped into the SVG.
    medium
        The theme the figure was drawn in (its SVG settings are applied at save time).
    """
    buf = io.StringIO()
    with matplotlib.rc_context(theme(medium)):  # fonttype and hashsalt are read at save time
        if medium == "phone":
            _fit_phone(fig)
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    if fig.canvas.manager is not None:  # made by pyplot (an ax=None call): release it
        import matplotlib.pyplot as plt

        plt.close(fig)
    svg = buf.getvalue()
    match = _SVG_OPEN.search(svg)
    if match is None:  # pragma: no cover - matplotlib always writes an <svg> root
        raise PublishError(f"chart {key!r}: matplotlib produced no <svg> element.")
    opening = match.group(0).replace("<svg ", '<svg role="img" aria-labelledby="title desc" ', 1)
    head = f'{opening}\n <title id="title">{xml_escape(caption)}</title>\n <desc id="desc">{xml_escape(alt)}</desc>'
    return Chart(key=key, svg=svg[: match.start()] + head + svg[match.end() :], alt=alt, caption=caption)
