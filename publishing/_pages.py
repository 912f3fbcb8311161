"""The page registry: which bundle-filled pages exist, and when each is rendered.

A page is rendered only when the view has what it needs, so optional parts
(``clv``, ``experiments``, the comparison with the previous refresh) slot in by
adding one :class:`PageSpec` line and one ``report/<stem>.qmd.j2`` template. The
navbar (``report/_quarto.yml``) may list a page the registry does not produce
for a given bundle: the builder drops that entry, so no link leads to an empty page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2

from analysis.errors import PublishError
from publishing.view import ReportView

__all__ = ["PageSpec", "PAGES", "RenderedPage", "render_pages"]


@dataclass(frozen=True)
class PageSpec:
    """One kind of bundle-filled page.

    Attributes
    ----------
    stem
        Output name without extension (``"methodology"`` -> ``methodology.qmd`` / ``.html``);
        per-segment pages are named ``<stem>-<segment id>``.
    template
        Jinja template name (``"report/methodology.qmd.j2"``).
    when
        Renders the page only when it returns True for the view (None: always).
    per_segment
        Render once per segment, with ``s`` (its :class:`~publishing.view.SegmentView`) in the context.
    """

    stem: str
    template: str
    when: Callable[[ReportView], bool] | None = None
    per_segment: bool = False


#: Bundle-filled pages, in no particular order (the navbar in report/_quarto.yml orders them).
PAGES: tuple[PageSpec, ...] = (
    PageSpec("index", "report/index.qmd.j2"),
    PageSpec("segment", "report/segment.qmd.j2", per_segment=True),
    PageSpec("changes", "report/changes.qmd.j2", when=lambda v: v.has_changes_page),
    PageSpec("methodology", "report/methodology.qmd.j2"),
    PageSpec("data-quality", "report/data-quality.qmd.j2"),
    PageSpec("rfm", "report/rfm.qmd.j2"),
    PageSpec("clv", "report/clv.qmd.j2", when=lambda v: v.value.clv is not None),
    PageSpec("experiments", "report/experiments.qmd.j2", when=lambda v: v.tests is not None),
    PageSpec("about", "report/about.qmd.j2"),
)


@dataclass(frozen=True)
class RenderedPage:
    """A page ready for the engine: its ``.qmd`` file name and text."""

    filename: str
    text: str


def render_pages(
    view: ReportView,
    *,
    env: jinja2.Environment,
    charts: dict[str, Any],
    pages: tuple[PageSpec, ...] = PAGES,
) -> list[RenderedPage]:
    """Render every registered page the view supports into Quarto markdown.

    Parameters
    ----------
    view
        The report's view (:func:`publishing.view.build_view`); templates see it as ``v``.
    env
        The environment from :func:`publishing._env.make_env`.
    charts
        Charts by key (the templates refer to them by key), each a :class:`Chart` or a pair of them.
    pages
        The registry; default :data:`PAGES`.
    """
    base = {"v": view, "charts": charts}
    out: list[RenderedPage] = []
    for spec in pages:
        if spec.when is not None and not spec.when(view):
            continue
        template = env.get_template(spec.template)
        if spec.per_segment:
            for seg in view.segments:
                out.append(RenderedPage(f"{spec.stem}-{seg.id}.qmd", template.render({**base, "s": seg})))
        else:
            out.append(RenderedPage(f"{spec.stem}.qmd", template.render(base)))
    names = [p.filename for p in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PublishError(f"Two registered pages render to {twice[0]!r}; page names must be unique.")
    return out
