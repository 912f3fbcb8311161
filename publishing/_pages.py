"""The page registry: which data-carrying pages exist, and when each is rendered.

A page is rendered only when the bundle has what it needs, so optional
sections (``clv``, ``experiments``) slot in by adding one :class:`PageSpec`
line and one template, without touching the rest of the site layer. The site's
navbar (``_quarto.yml``) may list a page the registry does not produce for a
given bundle: the builder drops that entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2

from analysis.bundle import Bundle
from analysis.errors import PublishError
from analysis.profiles import FEATURE_LABELS as FEATURE_WORDS
from publishing.charts import FEATURE_LABELS, Chart

__all__ = ["PageSpec", "PAGES", "RenderedPage", "section_present", "render_pages"]


@dataclass(frozen=True)
class PageSpec:
    """One kind of data-carrying page.

    Attributes
    ----------
    stem
        Output name without extension (``"methodology"`` -> ``methodology.qmd`` / ``.html``);
        per-segment pages are named ``<stem>-<segment id>``.
    template
        Jinja template under ``templates/``.
    requires
        Name of an optional bundle section that must be present (not None), or None.
    per_segment
        Render once per segment, with ``view``, ``prev`` and ``next`` in the context.
    """

    stem: str
    template: str
    requires: str | None = None
    per_segment: bool = False


#: Data-carrying pages, in no particular order (the navbar in _quarto.yml orders them).
#: A new optional section slots in as one line here plus its template.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("index", "site/index.qmd.j2"),
    PageSpec("segment", "site/segment.qmd.j2", per_segment=True),
    PageSpec("methodology", "site/methodology.qmd.j2"),
    PageSpec("data-quality", "site/data-quality.qmd.j2"),
    PageSpec("rfm", "site/rfm.qmd.j2"),
    PageSpec("clv", "site/clv.qmd.j2", requires="clv"),
    PageSpec("experiments", "site/experiments.qmd.j2", requires="experiments"),
    PageSpec("about", "site/about.qmd.j2"),
)


@dataclass(frozen=True)
class RenderedPage:
    """A page ready for the engine: its ``.qmd`` file name and text."""

    filename: str
    text: str


def section_present(bundle: Bundle, name: str | None) -> bool:
    """True when ``name`` is None or the bundle has that section and it is not None."""
    return name is None or getattr(bundle, name, None) is not None


def render_pages(
    bundle: Bundle,
    *,
    env: jinja2.Environment,
    context: dict[str, Any],
    charts: dict[str, Chart],
    pages: tuple[PageSpec, ...] = PAGES,
) -> list[RenderedPage]:
    """Render every registered page the bundle supports into Quarto markdown.

    Parameters
    ----------
    bundle
        The bundle (only used to decide which pages apply).
    env
        The environment from :func:`publishing._env.make_env`.
    context
        The shared context from :func:`publishing._insights.site_context`.
    charts
        Charts by key (the templates refer to them by key).
    pages
        The registry; default :data:`PAGES`.
    """
    base = {**context, "charts": charts, "feature_labels": FEATURE_LABELS, "feature_words": FEATURE_WORDS}
    out: list[RenderedPage] = []
    stems: set[str] = set()
    for spec in pages:
        if not section_present(bundle, spec.requires):
            continue
        template = env.get_template(spec.template)
        if spec.per_segment:
            views = context["segments"]
            for i, view in enumerate(views):
                sid = view.segment.id
                page = {
                    **base,
                    "view": view,
                    "prev": views[i - 1] if i > 0 else None,
                    "next": views[i + 1] if i + 1 < len(views) else None,
                    "view_chart_keys": {"profile": f"segment-{sid}-profile", "box": f"segment-{sid}-box"},
                }
                out.append(RenderedPage(f"{spec.stem}-{sid}.qmd", template.render(page)))
        else:
            out.append(RenderedPage(f"{spec.stem}.qmd", template.render(base)))
    for page in out:
        if page.filename in stems:
            raise PublishError(f"Two registered pages render to {page.filename!r}; page names must be unique.")
        stems.add(page.filename)
    return out
