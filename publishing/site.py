"""Build the website from a bundle: ``build_site(bundle_path, out_dir, *, engine="auto")``.

Steps: read and validate the bundle; draw the charts; render the registered
data-carrying pages from Jinja templates; assemble a Quarto website project in
a staging directory (``_quarto.yml`` from the repository root with its navbar
fitted to this bundle, the static pages and assets of ``report/``, the pages,
the figures); render it with pandoc (default) or Quarto into ``out_dir``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from analysis.bundle import Bundle
from analysis.errors import PublishError
from publishing._env import make_env
from publishing._format import formats_for
from publishing._insights import site_context
from publishing._pages import render_pages
from publishing._pandoc import render_with_pandoc
from publishing._quarto import quarto_path, render_with_quarto
from publishing.charts import site_charts

__all__ = ["SiteResult", "build_site", "load_bundle"]

ROOT = Path(__file__).resolve().parent.parent
QUARTO_YML = ROOT / "_quarto.yml"
REPORT_DIR = ROOT / "report"
SEGMENTS_MENU_ID = "segments-menu"
_ENGINES = ("auto", "pandoc", "quarto")


@dataclass(frozen=True)
class SiteResult:
    """What :func:`build_site` produced.

    Attributes
    ----------
    out_dir
        The directory holding the site (``index.html`` at its root).
    engine
        ``"pandoc"`` or ``"quarto"``: the engine actually used.
    pages
        HTML file names, in navbar order.
    figures
        SVG file names under ``out_dir/figures``.
    """

    out_dir: Path
    engine: str
    pages: tuple[str, ...]
    figures: tuple[str, ...]


def load_bundle(path: Path | str) -> Bundle:
    """Read and validate ``bundle.json``; a missing or invalid file is a :class:`PublishError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PublishError(f"{path}: bundle not found; run the analysis first.") from None
    try:
        return Bundle.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = len(exc.errors()) - 1
        raise PublishError(
            f"{path}: not a valid bundle: field {where!r}: {first['msg']}"
            + (f" (and {more} more problem{'s' if more > 1 else ''})." if more else ".")
        ) from None


def _resolve_engine(engine: str) -> str:
    if engine not in _ENGINES:
        raise PublishError(f"The 'engine' parameter must be one of {list(_ENGINES)!r}. Got {engine!r} instead.")
    if engine == "auto":
        return "quarto" if quarto_path() is not None else "pandoc"
    if engine == "quarto" and quarto_path() is None:  # fail before any drawing or rendering
        raise PublishError("engine='quarto' needs the quarto CLI on PATH; none was found. Use engine='pandoc'.")
    return engine


def _site_yaml(bundle: Bundle, produced: set[str], colors: dict[int, str]) -> tuple[dict[str, Any], dict]:
    spec = yaml.safe_load(QUARTO_YML.read_text(encoding="utf-8"))
    navbar = spec["website"]["navbar"]["left"]
    kept: list[dict[str, Any]] = []
    menu_colors: dict[str, str] = {}
    for item in navbar:
        if item.get("id") == SEGMENTS_MENU_ID:
            menu = []
            for seg in sorted(bundle.segments, key=lambda s: s.id):
                href = f"segment-{seg.id}.qmd"
                menu.append({"text": seg.name, "href": href})
                menu_colors[href] = colors[seg.id]
            kept.append({**item, "menu": menu})
        elif "href" in item:
            if item["href"] in produced:
                kept.append(item)
        else:
            raise PublishError(f"{QUARTO_YML.name}: navbar item {item!r} needs an 'href' or id {SEGMENTS_MENU_ID!r}.")
    spec["website"]["navbar"]["left"] = kept
    return spec, menu_colors


def build_site(
    bundle_path: Path | str,
    out_dir: Path | str,
    *,
    engine: Literal["auto", "pandoc", "quarto"] = "auto",
    brief_href: str | None = None,
    archive: Sequence[tuple[str, str]] = (),
) -> SiteResult:
    """Render the website of one bundle into ``out_dir``.

    Parameters
    ----------
    bundle_path
        The ``bundle.json`` written by the analysis.
    out_dir
        Target directory (created if missing; files of the same name are replaced).
    engine
        ``"pandoc"`` (pandoc from pypandoc-binary with the project's template),
        ``"quarto"`` (``quarto render``; needs the CLI) or ``"auto"`` (Quarto
        when it is on PATH, else pandoc).
    brief_href
        Relative link to the PDF brief, when the caller puts it beside the
        pages (``build_all`` does); the overview then links to it.
    archive
        ``(snapshot, href)`` of every earlier refresh's brief that the caller
        puts in the site (``build_all`` copies them to ``archive/<snapshot>/brief.pdf``),
        oldest first; the templates see it as ``archive`` (a list of ``{snapshot, href}``).

    Returns
    -------
    SiteResult

    Raises
    ------
    PublishError
        Missing or invalid bundle, unknown engine, or a failing render step.
    """
    used = _resolve_engine(engine)
    bundle = load_bundle(bundle_path)
    out = Path(out_dir)
    fmt = formats_for(bundle)
    charts = {c.key: c for c in site_charts(bundle, fmt=fmt)}
    context = {
        **site_context(bundle),
        "brief_href": brief_href,
        "archive": [{"snapshot": snapshot, "href": href} for snapshot, href in archive],
    }
    pages = render_pages(bundle, env=make_env(formats=fmt), context=context, charts=charts)

    with tempfile.TemporaryDirectory(prefix="site-project-") as tmp:
        project = Path(tmp)
        shutil.copytree(REPORT_DIR, project, dirs_exist_ok=True)
        for page in pages:
            (project / page.filename).write_text(page.text, encoding="utf-8")
        for chart in charts.values():
            chart.write(project / "figures")
        produced = {p.name for p in project.glob("*.qmd")}
        spec, menu_colors = _site_yaml(bundle, produced, {v.segment.id: v.color for v in context["segments"]})
        (project / "_quarto.yml").write_text(
            yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        info = {
            "source_name": bundle.data.source.name,
            "snapshot_date": bundle.data.snapshot_date,
            "schema_version": bundle.schema_version,
            "locale": fmt.locale,
            "colors": menu_colors,
        }
        (project / "_site-info.yml").write_text(yaml.safe_dump(info, allow_unicode=True), encoding="utf-8")
        if used == "quarto":
            written = render_with_quarto(project, out)
        else:
            written = render_with_pandoc(project, out)
    return SiteResult(
        out_dir=out,
        engine=used,
        pages=tuple(written),
        figures=tuple(sorted(c.filename for c in charts.values())),
    )
