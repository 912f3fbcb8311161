"""Build the website from a bundle: ``build_site(bundle_path, out_dir, *, engine="auto")``.

Steps: read and validate the bundle; build its view once (:mod:`publishing.view`);
draw the charts from the view; render the registered bundle-filled pages
(``report/*.qmd.j2``); assemble the Quarto project ``report/`` in a staging
directory (its ``_quarto.yml`` with the navbar fitted to this bundle, its static
pages and assets, the rendered pages, the figures; templates and partials are
not copied); render it with pandoc (default) or Quarto into ``out_dir``.
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
from publishing._brief_worker import BriefWorker, draw_site_charts
from publishing._env import REPORT_DIR, make_env
from publishing._pages import render_pages
from publishing._pandoc import render_with_pandoc
from publishing._quarto import quarto_path, render_with_quarto
from publishing.charts import site_chart_jobs
from publishing.view import ReportView, build_view

__all__ = ["SiteResult", "build_site", "load_bundle"]

QUARTO_YML = REPORT_DIR / "_quarto.yml"
#: What of report/ the rendered project does not need: templates (rendered into .qmd first) and partials.
_NOT_STAGED = ("*.j2", "_partials", "_filters")
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


def _site_yaml(view: ReportView, produced: set[str]) -> tuple[dict[str, Any], dict]:
    spec = yaml.safe_load(QUARTO_YML.read_text(encoding="utf-8"))
    navbar = spec["website"]["navbar"]["left"]
    kept: list[dict[str, Any]] = []
    menu_colors: dict[str, str] = {}
    for item in navbar:
        if item.get("id") == SEGMENTS_MENU_ID:
            menu = []
            for seg in view.segments:
                href = f"segment-{seg.id}.qmd"
                menu.append({"text": seg.name, "href": href})
                menu_colors[href] = seg.ref.color
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
    helper: BriefWorker | None = None,
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
        oldest first; the Changes page links to them (``v.archive``).
    helper
        The build's brief process (:mod:`publishing._brief_worker`), asked for the brief of
        the same bundle: once it has rendered it, it draws a share of the charts, the same
        bytes as here. None: every chart is drawn in this process.

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
    view = build_view(bundle, archive=archive, brief_href=brief_href)
    if helper is not None and not helper.share_charts(archive=archive, brief_href=brief_href):
        helper = None
    charts = {c.key: c for c in draw_site_charts(site_chart_jobs(view), helper)}
    pages = render_pages(view, env=make_env(formats=view.fmt), charts=charts)

    with tempfile.TemporaryDirectory(prefix="site-project-") as tmp:
        project = Path(tmp)
        shutil.copytree(REPORT_DIR, project, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_NOT_STAGED))
        for page in pages:
            (project / page.filename).write_text(page.text, encoding="utf-8")
        for chart in charts.values():
            chart.write(project / "figures")
        produced = {p.name for p in project.glob("*.qmd")}
        spec, menu_colors = _site_yaml(view, produced)
        (project / "_quarto.yml").write_text(
            yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        info = {
            "source_name": bundle.data.source.name,
            "snapshot_date": bundle.data.snapshot_date,
            "schema_version": bundle.schema_version,
            "locale": view.fmt.locale,
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
