"""The two-page PDF executive brief: bundle -> view -> Jinja HTML + print CSS -> WeasyPrint.

Pagination (margins, running header, "Page N of M", the site's address on every
page, a different first page) lives in ``brief/brief.css``. The brief reads the
same view of the bundle as the site (:func:`publishing.view.build_view`), through
the same Jinja environment and its filters.

The brief never fails because it is full. Each page is laid out on its own
with the :data:`LAYOUTS` in turn, each denser than the last (smaller type,
then fewer rows, shorter texts, fewer actions, the rest left to the site):
page 1 first, until page 2 starts on the second sheet, then page 2, until the
brief has two pages. So a crowded page 1 does not thin out page 2. The last
layout gives a page a fixed height and clips what does not fit, so the brief
always has two pages.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from analysis.bundle import Bundle
from analysis.errors import PublishError
from publishing._env import BRIEF_DIR, make_env
from publishing.charts import Chart, brief_charts
from publishing.site import load_bundle
from publishing.view import ReportView, build_view

__all__ = [
    "DEFAULT_SITE_URL",
    "LAYOUTS",
    "Layout",
    "brief_pdf_bytes",
    "build_brief",
    "render_brief_html",
    "render_brief_pdf",
    "write_pdf",
]

#: No public address configured: the brief then names the website it was published with (its
#: ``index.html`` sits beside ``brief.pdf``), never a path on the machine that built it.
DEFAULT_SITE_URL: str | None = None
_TEMPLATE = "brief/brief.html.j2"
PAGES = 2


@dataclass(frozen=True)
class Layout:
    """One way to lay the brief out.

    Attributes
    ----------
    classes
        CSS classes on ``<body>`` (see ``brief/brief.css``).
    rows
        Ranked segments listed on page 1 (None: all; the rest are counted and left to the site).
    tests
        Test-plan rows on page 2 (None: all).
    actions
        Actions spelled out on page 2.
    chars
        Longest name or playbook text printed, in characters (None: whole texts).
    """

    classes: str
    rows: int | None = None
    tests: int | None = None
    actions: int = 3
    chars: int | None = None


#: Tried in order until the brief fits on two pages; the last one always does (it clips).
LAYOUTS: tuple[Layout, ...] = (
    Layout(""),
    Layout("dense"),
    Layout("dense short-charts"),
    Layout("dense tight"),
    Layout("dense tight minimal", rows=8, tests=6, chars=140),
    Layout("dense tight minimal", rows=6, tests=4, actions=2, chars=90),
    Layout("dense tight minimal clip", rows=5, tests=3, actions=2, chars=60),
)


def _write_figure(figures_dir: Path | None, name: str, chart: Chart) -> None:
    if figures_dir is not None:
        figures_dir.mkdir(parents=True, exist_ok=True)
        (figures_dir / name).write_text(chart.svg, encoding="utf-8")


def _chart_heights(view: ReportView) -> tuple[float, float]:
    """Chart heights in inches: fewer segments get taller bars, so the pages stay full."""
    # Capped at the heights brief.css shows them at (95 mm and 60 mm), so text is never shrunk.
    n = len(view.segments)
    return min(3.7, max(3.0, 0.42 * min(n, 8) + 1.0)), min(2.35, max(1.2, 0.3 * min(n, 8) + 0.5))


def _charts(view: ReportView, figures_dir: Path | None) -> dict[str, Chart]:
    share_h, impact_h = _chart_heights(view)
    charts = brief_charts(view, share_height=share_h, impact_height=impact_h)
    _write_figure(figures_dir, "brief-share.svg", charts["share"])
    _write_figure(figures_dir, "brief-impact.svg", charts["impact"])
    return charts


def _renderer(view: ReportView, *, site_url: str | None, figures_dir: Path | None):
    """A function of (page-1 layout, page-2 layout) indices giving the brief's HTML; charts drawn once."""
    charts = _charts(view, figures_dir)
    template = make_env(formats=view.fmt).get_template(_TEMPLATE)

    def render(first: int, second: int) -> str:
        return template.render(v=view, p1=LAYOUTS[first], p2=LAYOUTS[second], charts=charts, site_url=site_url)

    return render


def render_brief_html(
    bundle: Bundle, *, site_url: str | None = DEFAULT_SITE_URL, layout: int = 0, second: int | None = None
) -> str:
    """The brief's HTML, page 1 in ``LAYOUTS[layout]`` and page 2 in ``LAYOUTS[second]`` (default: the same)."""
    for name, value in (("layout", layout), ("second", layout if second is None else second)):
        if not isinstance(value, int) or not 0 <= value < len(LAYOUTS):
            last = len(LAYOUTS) - 1
            raise ValueError(f"The '{name}' parameter must be an int in the range [0, {last}]. Got {value!r} instead.")
    render = _renderer(build_view(bundle, site_url=site_url), site_url=site_url, figures_dir=None)
    return render(layout, layout if second is None else second)


def _second_page_at(document) -> int | None:
    """The page (0-based) page 2's section starts on, from its bookmark (see brief.css)."""
    for label, (page, _x, _y), _children, _state in document.make_bookmark_tree():
        if label == "page two":
            return page
    return None


def _fit(render) -> object:
    """The first layout of page 1, then of page 2, that gives two pages (the last one always does)."""
    import weasyprint

    first = second = 0
    while True:
        document = weasyprint.HTML(string=render(first, second), base_url=str(BRIEF_DIR)).render()
        if _second_page_at(document) != 1 and first < len(LAYOUTS) - 1:
            first += 1
        elif len(document.pages) > PAGES and second < len(LAYOUTS) - 1:
            second += 1
        else:
            return document


def brief_pdf_bytes(
    bundle: Bundle, *, figures_dir: Path | None = None, site_url: str | None = DEFAULT_SITE_URL
) -> bytes:
    """The two-page PDF of an in-memory bundle, as bytes (what :func:`render_brief_pdf` writes).

    The :data:`LAYOUTS` are tried in order, page 1 first; the first pair that gives two pages is kept.
    """
    # WeasyPrint logs every unsupported CSS property as a warning; keep real errors only.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    view = build_view(bundle, site_url=site_url)
    document = _fit(_renderer(view, site_url=site_url, figures_dir=figures_dir))
    if len(document.pages) != PAGES:
        got = len(document.pages)
        raise PublishError(
            f"the brief must have {PAGES} pages; its densest layout gave {got}. This is a bug in brief.css."
        )
    return document.write_pdf()


def write_pdf(data: bytes, out_pdf: Path) -> Path:
    """Write PDF bytes to ``out_pdf`` through a temporary file and a rename (never a partial PDF)."""
    out_pdf = Path(out_pdf)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_pdf.parent, prefix=".brief-", suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out_pdf)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PublishError(f"{out_pdf}: could not write the brief: {exc.strerror or exc}.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_pdf


def render_brief_pdf(
    bundle: Bundle,
    out_pdf: Path,
    *,
    figures_dir: Path | None = None,
    site_url: str | None = DEFAULT_SITE_URL,
) -> Path:
    """Render an in-memory bundle to a two-page PDF (what :func:`build_brief` does after loading)."""
    return write_pdf(brief_pdf_bytes(bundle, figures_dir=figures_dir, site_url=site_url), out_pdf)


def build_brief(
    bundle_path: Path,
    out_pdf: Path,
    *,
    figures_dir: Path | None = None,
    site_url: str | None = DEFAULT_SITE_URL,
) -> Path:
    """Render the two-page executive brief of a bundle to PDF.

    Parameters
    ----------
    bundle_path
        The ``bundle.json`` written by the analysis.
    out_pdf
        Where to write the PDF; written through a temporary file and renamed,
        so a failed render never leaves a partial PDF.
    figures_dir
        When given, the charts are also written there as SVG files.
    site_url
        The website's public address (``--site-url`` or ``[report] site_url``), printed in every
        page's footer; None: the brief points to the website it was published with.

    Returns
    -------
    Path
        ``out_pdf``.

    Raises
    ------
    PublishError
        When the bundle is missing or invalid, or the PDF cannot be written.
    """
    bundle = load_bundle(Path(bundle_path))
    return render_brief_pdf(bundle, out_pdf, figures_dir=figures_dir, site_url=site_url)
