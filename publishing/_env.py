"""The one Jinja environment of the project, with its formatting filters.

Public signature (used by the site and the PDF brief)::

    make_env(template_dirs: Path | str | Sequence[Path | str] | None = None, *,
             formats: Formats | None = None) -> jinja2.Environment

- ``template_dirs`` defaults to the repository's ``templates/`` directory, so
  templates are named relative to it (``"site/index.qmd.j2"``, ``"brief/brief.html.j2"``).
- Autoescape is ON for every template (HTML escaping of every ``{{ value }}``),
  and plain strings additionally have backticks escaped (``&#96;``) so that data
  can never close a ```` ```{=html} ```` raw block in a Markdown page.
- ``StrictUndefined``: a misspelt variable is an error, never an empty string.
- Formatting filters, bound to one :class:`publishing._format.Formats` (the
  report's locale and the data's currency): ``money(digits=0, compact=False)``,
  ``number(digits=0, compact=False)``, ``percent(digits=1)``, ``signed(digits=2)``,
  ``points(digits=1)``, ``signed_percent(digits=1)``, ``days``, ``date(style="long")``.
  ``format_number``, ``format_percent``, ``format_signed``, ``format_points``,
  ``format_signed_percent`` and ``format_date`` are the same filters under their
  former names, so a template written before the formatter still renders.
- Text filters: ``md`` (escape for inline Markdown text), ``md_attr`` (a
  value inside a quoted Markdown attribute, e.g. ``fig-alt="{{ alt|md_attr }}"``)
  ``yaml_str`` (a quoted YAML scalar, for front matter) and ``css_percent``
  (a share as a CSS length, the same in every locale).
- Global ``formats``: the formatter itself, e.g. ``{% if not formats.currency_known %}``.

No arithmetic in templates: anything computed is computed in Python beforehand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from publishing._format import Formats
from publishing._playbook import fill

__all__ = [
    "TEMPLATES_DIR",
    "make_env",
    "md_escape",
    "md_attr",
    "css_percent",
    "yaml_str",
]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~^$@&:;\"'=/%])")


def md_escape(value: object) -> Markup:
    """Escape text for inline Markdown: every ASCII punctuation gets a backslash.

    The result is literal text to pandoc (and Quarto): ``*``, ``|``, ``<script>``
    and ``[links](x)`` all render as the characters typed. Newlines become
    spaces so the text stays one inline run. Returned as ``Markup`` so that
    autoescape does not HTML-escape the backslashed text a second time (pandoc
    itself escapes ``<`` and ``&`` in its HTML output).
    """
    text = " ".join(str(value).split())
    return Markup(_MD_SPECIAL.sub(r"\\\1", text))


def md_attr(value: object) -> Markup:
    """Escape text for a double-quoted Markdown attribute value (``{key="..."}``).

    Pandoc reads backslash escapes and HTML entities inside such a value, so
    ``\\``, ``"`` and ``&`` are escaped; newlines become spaces. Pandoc escapes
    the value again when it writes HTML.
    """
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
    return Markup(text)


def css_percent(value: float) -> str:
    """A share as a CSS percentage (``0.123 -> '12.3%'``): never localised, so ``style=`` stays valid CSS."""
    return f"{100.0 * float(value):.1f}%"


def yaml_str(value: object) -> Markup:
    """Quote a value as a YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return Markup(json.dumps(str(value), ensure_ascii=False))


def _finalize(value: object) -> object:
    # Runs before autoescape on every {{ }} output. Plain strings are HTML-escaped
    # here, plus backticks, which markupsafe leaves alone but which could close a
    # ```{=html} fence in a Markdown page.
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(str(escape(value)).replace("`", "&#96;"))
    return value


def sentence(text: object) -> str:
    """The text as one sentence: stripped, ending with a full stop unless it ends with its own . ! or ?."""
    text = str(text).strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def make_env(
    template_dirs: Path | str | Sequence[Path | str] | None = None, *, formats: Formats | None = None
) -> jinja2.Environment:
    """Build the project's Jinja environment.

    Parameters
    ----------
    template_dirs
        Directory or directories to load templates from; default: ``templates/``
        at the repository root.
    formats
        How numbers, money and dates read (:func:`publishing._format.formats_for`
        of the bundle); default ``Formats()``: en_GB, currency unknown.

    Returns
    -------
    jinja2.Environment
        Autoescaping, strict about undefined names, with the formatting filters
        bound to ``formats`` and the text filters registered.
    """
    fmt = formats if formats is not None else Formats()
    if template_dirs is None:
        dirs: list[str] = [str(TEMPLATES_DIR)]
    elif isinstance(template_dirs, (str, Path)):
        dirs = [str(template_dirs)]
    else:
        dirs = [str(d) for d in template_dirs]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=fmt.money,
        number=fmt.number,
        percent=fmt.percent,
        signed=fmt.signed,
        points=fmt.points,
        signed_percent=fmt.signed_percent,
        times=fmt.times,
        days=fmt.days,
        date=fmt.date,
        md=md_escape,
        md_attr=md_attr,
        yaml_str=yaml_str,
        css_percent=css_percent,
        playbook=lambda template, values: fill(template, values, fmt),
        sentence=sentence,
    )
    # Former names of the same filters: templates on other branches still use them.
    env.filters.update(
        format_number=fmt.number,
        format_percent=fmt.percent,
        format_signed=fmt.signed,
        format_points=fmt.points,
        format_times=fmt.times,
        format_signed_percent=fmt.signed_percent,
        format_date=fmt.date,
    )
    env.globals["formats"] = fmt
    return env
