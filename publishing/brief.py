"""The two-page PDF executive brief: bundle -> Jinja HTML + print CSS -> WeasyPrint.

Pagination (margins, running header, "Page N of M", a different first page)
lives in ``templates/brief/brief.css``; this module only computes the context
(:mod:`publishing._brief_context`), draws the charts and renders.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from analysis.bundle import Bundle
from analysis.errors import PublishError
from publishing._brief_context import brief_context
from publishing._env import TEMPLATES_DIR, make_env
from publishing._format import formats_for
from publishing.charts import Chart, brief_charts, bundle_colors
from publishing.site import load_bundle

__all__ = [
    "DEFAULT_SITE_URL",
    "DENSITIES",
    "build_brief",
    "render_brief_html",
    "render_brief_pdf",
]

DEFAULT_SITE_URL = "_site/index.html"
_TEMPLATE = "brief/brief.html.j2"


def _write_figure(figures_dir: Path | None, name: str, chart: Chart) -> None:
    if figures_dir is not None:
        figures_dir.mkdir(parents=True, exist_ok=True)
        (figures_dir / name).write_text(chart.svg, encoding="utf-8")


#: Layout densities tried in order until the brief fits on two pages (CSS classes, see brief.css).
DENSITIES = ("", "dense", "dense tight", "dense tight minimal")
PAGES = 2


def _render_html(bundle: Bundle, *, site_url: str, figures_dir: Path | None) -> list[str]:
    """The brief's HTML at every density, the context and charts computed once."""
    fmt = formats_for(bundle)
    ctx = brief_context(bundle, colors=bundle_colors(bundle), site_url=site_url)
    # The site's charts and colours, drawn for print, so the brief and the site show the same picture.
    drawn = brief_charts(bundle, fmt=fmt)
    share, value = drawn["share"], drawn["value"]
    _write_figure(figures_dir, "brief-share.svg", share)
    _write_figure(figures_dir, "brief-value.svg", value)
    charts = {
        "share": share.data_uri(),
        "share_alt": share.alt,
        "share_caption": share.caption,
        "value": value.data_uri(),
        "value_alt": value.alt,
        "value_caption": value.caption,
    }
    template = make_env(formats=fmt).get_template(_TEMPLATE)
    return [template.render(b=ctx, density=d, charts=charts) for d in DENSITIES]


def render_brief_html(bundle: Bundle, *, site_url: str = DEFAULT_SITE_URL, density: str = "") -> str:
    """Return the brief's HTML at one density (charts embedded as ``data:`` URIs)."""
    if density not in DENSITIES:
        raise ValueError(f"The 'density' parameter must be one of {DENSITIES!r}. Got {density!r} instead.")
    return _render_html(bundle, site_url=site_url, figures_dir=None)[DENSITIES.index(density)]


def render_brief_pdf(
    bundle: Bundle,
    out_pdf: Path,
    *,
    figures_dir: Path | None = None,
    site_url: str = DEFAULT_SITE_URL,
) -> Path:
    """Render an in-memory bundle to a two-page PDF (what :func:`build_brief` does after loading).

    The layout is laid out at increasing densities (smaller cards, then no second
    chart, then no "why" lines) until it fits on two pages.
    """
    # Imported here: WeasyPrint loads Pango at import, which the CLI's --help need not pay for.
    import weasyprint

    # WeasyPrint logs every unsupported CSS property as a warning; keep real errors only.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    pages = []
    document = None
    for html in _render_html(bundle, site_url=site_url, figures_dir=figures_dir):
        document = weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR / "brief")).render()
        pages.append(len(document.pages))
        if pages[-1] <= PAGES:
            break
    else:
        raise PublishError(
            f"the brief must fit on {PAGES} pages; it needs {min(pages)} even at its densest layout "
            f"({len(bundle.segments)} segments). Shorten the playbook texts or lower k."
        )
    out_pdf = Path(out_pdf)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_pdf.parent, prefix=".brief-", suffix=".pdf")
    os.close(fd)
    try:
        document.write_pdf(tmp)
        os.replace(tmp, out_pdf)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PublishError(f"{out_pdf}: could not write the brief: {exc.strerror or exc}.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_pdf


def build_brief(
    bundle_path: Path,
    out_pdf: Path,
    *,
    figures_dir: Path | None = None,
    site_url: str = DEFAULT_SITE_URL,
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
        Where the full website lives, printed on page 2.

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
