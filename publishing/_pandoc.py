"""The default engine: pandoc (from the pypandoc-binary wheel) renders the Quarto project.

It reads the same ``_quarto.yml`` (site title, navbar, page order, CSS,
resources) and the same ``.qmd`` pages Quarto would, through the project's own
HTML template (``report/_partials/page.html``) and a Lua filter (``report/_filters/quarto-compat.lua``) for the Quarto
features pandoc lacks (``fig-alt``, callouts).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from analysis.errors import PublishError
from publishing._env import REPORT_DIR, make_env
from publishing._format import Formats

__all__ = ["pandoc_path", "render_with_pandoc"]

_TEMPLATE = REPORT_DIR / "_partials" / "page.html"
_FILTER = REPORT_DIR / "_filters" / "quarto-compat.lua"


def pandoc_path() -> str:
    """Path of the pandoc binary shipped by pypandoc-binary (or on PATH)."""
    try:
        import pypandoc

        return pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        found = shutil.which("pandoc")
        if found is None:
            raise PublishError(
                "pandoc is needed to build the site: install pypandoc-binary (uv sync) or put pandoc on PATH."
            ) from None
        return found


def _front_matter(text: str) -> dict[str, Any]:
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    return yaml.safe_load(text[3:end]) or {} if end > 0 else {}


def _nav_items(navbar: list[dict[str, Any]], current: str, colors: dict[str, str]) -> list[dict[str, Any]]:
    def html(href: str) -> str:
        return href[: -len(".qmd")] + ".html" if href.endswith(".qmd") else href

    items = []
    for item in navbar:
        if "menu" in item:
            menu = [
                {
                    "text": sub["text"],
                    "href": html(sub["href"]),
                    "active": sub["href"] == current,
                    "color": colors.get(sub["href"]),
                }
                for sub in item["menu"]
            ]
            items.append({"text": item["text"], "menu": menu, "active": any(m["active"] for m in menu)})
        else:
            items.append(
                {"text": item["text"], "href": html(item["href"]), "menu": None, "active": item["href"] == current}
            )
    return items


def render_with_pandoc(project: Path, out_dir: Path, *, jobs: int = 2) -> list[str]:
    """Render every ``.qmd`` page of ``project`` into ``out_dir`` and copy its resources.

    Parameters
    ----------
    project
        An assembled Quarto website project (``_quarto.yml`` plus pages and resources).
    out_dir
        Where the ``.html`` files go (created if needed).
    jobs
        Pandoc processes run at once.

    Returns
    -------
    list of str
        The HTML file names written, in navbar order then alphabetical.
    """
    spec = yaml.safe_load((project / "_quarto.yml").read_text(encoding="utf-8"))
    website = spec.get("website", {})
    html_fmt = (spec.get("format") or {}).get("html") or {}
    css = html_fmt.get("css", [])
    css = [css] if isinstance(css, str) else list(css)
    navbar = (website.get("navbar") or {}).get("left", [])
    footer_text = (website.get("page-footer") or {}).get("left", "")
    pages = sorted(p.name for p in project.glob("*.qmd"))
    order = [sub["href"] for i in navbar for sub in (i.get("menu") or [i])]
    pages.sort(key=lambda name: (order.index(name) if name in order else len(order), name))

    out_dir.mkdir(parents=True, exist_ok=True)
    for resource in spec.get("project", {}).get("resources", []):
        src = project / resource.rstrip("/")
        if src.is_dir():
            shutil.copytree(src, out_dir / src.name, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, out_dir / src.name)

    info = _site_info(project)
    env = make_env(formats=Formats(info["locale"]))
    navbar_tpl = env.get_template("report/_partials/navbar.html.j2")
    footer_tpl = env.get_template("report/_partials/footer.html.j2")
    binary = pandoc_path()

    with tempfile.TemporaryDirectory(prefix="site-pandoc-") as tmp:
        parts = Path(tmp)
        footer_file = parts / "footer.html"
        footer_file.write_text(footer_tpl.render(footer=footer_text, **info["footer"]), encoding="utf-8")

        def one(page: str) -> str:
            stem = page[: -len(".qmd")]
            meta = _front_matter((project / page).read_text(encoding="utf-8"))
            nav_file = parts / f"{stem}.nav.html"
            nav_file.write_text(
                navbar_tpl.render(title=website.get("title", ""), items=_nav_items(navbar, page, info["colors"])),
                encoding="utf-8",
            )
            target = out_dir / f"{stem}.html"
            cmd = [
                binary,
                page,
                "--from",
                "markdown",
                "--to",
                "html5",
                "--standalone",
                "--template",
                str(_TEMPLATE),
                "--lua-filter",
                str(_FILTER),
                "--wrap=none",
                "--include-before-body",
                str(nav_file),
                "--include-after-body",
                str(footer_file),
                "--metadata",
                f"website-title={website.get('title', '')}",
                "--metadata",
                f"lang={spec.get('lang', 'en')}",
                "--output",
                str(target),
            ]
            cmd += [f"--css={c}" for c in css]
            if meta.get("toc"):
                cmd += ["--toc", "--toc-depth=2"]
            run = subprocess.run(cmd, cwd=project, capture_output=True, text=True, check=False)
            if run.returncode != 0:
                raise PublishError(f"pandoc failed on {page} (exit {run.returncode}): {run.stderr.strip()}")
            return target.name

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            written = list(pool.map(one, pages))
    return written


def _site_info(project: Path) -> dict[str, Any]:
    # Written by publishing.site next to _quarto.yml (Quarto ignores files starting with "_"):
    # what the pandoc template shows beyond _quarto.yml (footer facts, segment colours in the menu).
    path = project / "_site-info.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    footer = {k: str(data.get(k) or "") for k in ("source_name", "snapshot_date", "schema_version")}
    return {"footer": footer, "colors": dict(data.get("colors") or {}), "locale": data.get("locale") or "en_GB"}
