"""The one Jinja environment of the project, with its formatting filters.

Public signature (used by the site and the PDF brief)::

    make_env(template_dirs: Path | str | Sequence[Path | str] | None = None) -> jinja2.Environment

- ``template_dirs`` defaults to the repository's ``templates/`` directory, so
  templates are named relative to it (``"site/index.qmd.j2"``, ``"brief/brief.html.j2"``).
- Autoescape is ON for every template (HTML escaping of every ``{{ value }}``),
  and plain strings additionally have backticks escaped (``&#96;``) so that data
  can never close a ```` ```{=html} ```` raw block in a Markdown page.
- ``StrictUndefined``: a misspelt variable is an error, never an empty string.
- Registered filters (also importable as plain functions from this module):
  ``format_number``, ``format_money``, ``format_percent``, ``format_signed``,
  ``format_date``, ``md`` (escape for inline Markdown text), ``md_attr`` (a
  value inside a quoted Markdown attribute, e.g. ``fig-alt="{{ alt|md_attr }}"``)
  and ``yaml_str`` (a quoted YAML scalar, for front matter).

No arithmetic in templates: anything computed is computed in Python beforehand.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

__all__ = [
    "TEMPLATES_DIR",
    "make_env",
    "format_number",
    "format_money",
    "format_percent",
    "format_signed",
    "format_date",
    "format_points",
    "format_times",
    "format_signed_percent",
    "md_escape",
    "md_attr",
    "yaml_str",
]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

_DASH = "\u2014"  # shown for a missing value
_MINUS = "\u2212"  # typographic minus, so negative numbers do not wrap or read as hyphens


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _check_digits(digits: int) -> None:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 10:
        raise ValueError(f"The 'digits' parameter must be an int in the range [0, 10]. Got {digits!r} instead.")


def _signed_text(text: str) -> str:
    return text.replace("-", _MINUS, 1) if text.startswith("-") else text


def format_number(value: float | int | None, digits: int = 0, *, compact: bool = False) -> str:
    """Format a number with thousands separators, e.g. ``1234567.8 -> '1,234,568'``.

    Parameters
    ----------
    value
        The number; ``None`` or a non-finite float gives an em dash.
    digits
        Decimal places, in ``[0, 10]``.
    compact
        Abbreviate thousands and millions (``1.2M``, ``45.3k``); ``digits``
        then applies to the abbreviated number (default one decimal when 0).
    """
    _check_digits(digits)
    if _is_missing(value):
        return _DASH
    if compact:
        for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return _signed_text(f"{value / size:,.{digits or 1}f}{suffix}")
    text = f"{value:,.{digits}f}"
    if text.lstrip("-").strip("0.,") == "":  # "-0" or "-0.00" after rounding
        text = text.lstrip("-")
    return _signed_text(text)


def format_money(value: float | int | None, symbol: str = "", digits: int = 0, *, compact: bool = False) -> str:
    """Format an amount of money: ``format_money(-1234.5, "£") -> '−£1,235'``.

    Parameters
    ----------
    value
        The amount; ``None`` or a non-finite float gives an em dash.
    symbol
        Currency symbol placed before the number (``""`` for none).
    digits, compact
        As in :func:`format_number`.
    """
    text = format_number(value, digits, compact=compact)
    if text == _DASH:
        return text
    if text.startswith(_MINUS):
        return f"{_MINUS}{symbol}{text[1:]}"
    return f"{symbol}{text}"


def format_percent(value: float | None, digits: int = 1) -> str:
    """Format a share in [0, 1] as a percentage: ``0.1234 -> '12.3%'``."""
    _check_digits(digits)
    if _is_missing(value):
        return _DASH
    return format_number(value * 100.0, digits) + "%"


def format_signed(value: float | None, digits: int = 2) -> str:
    """Format a number with an explicit sign: ``0.5 -> '+0.50'``, ``-1 -> '−1.00'``."""
    _check_digits(digits)
    if _is_missing(value):
        return _DASH
    text = format_number(value, digits)
    return text if text.startswith(_MINUS) or text.strip("0.,") == "" else f"+{text}"


def format_points(value: float | None, digits: int = 1) -> str:
    """A difference of rates as percentage points: ``0.052 -> '5.2'`` (the caller writes "points")."""
    _check_digits(digits)
    if _is_missing(value):
        return _DASH
    return format_number(value * 100.0, digits)


def format_signed_percent(value: float | None, digits: int = 1) -> str:
    """A relative change with its sign: ``-0.024 -> '−2.4%'``, ``0.1 -> '+10.0%'``."""
    _check_digits(digits)
    if _is_missing(value):
        return _DASH
    return format_signed(value * 100.0, digits) + "%"


def format_times(value: float | None) -> str:
    """A ratio as "n times": ``30.25 -> '30×'``, ``2.46 -> '2.5×'``, ``0.05 -> '1/20'``."""
    if _is_missing(value) or value <= 0:
        return _DASH
    if value >= 1:
        return f"{value:.0f}\u00d7" if value >= 10 else f"{value:.1f}\u00d7"
    return f"1/{1 / value:.0f}" if value <= 0.1 else f"{value:.2f}\u00d7"


def format_date(value: str | dt.date | None, style: str = "long") -> str:
    """Format an ISO date (or datetime) for reading.

    Parameters
    ----------
    value
        ``"2011-12-10"``, ``"2011-12-09 12:50:00"``, a ``date`` or ``None`` (em dash).
    style
        ``"long"`` gives ``'10 Dec 2011'``, ``"iso"`` gives ``'2011-12-10'``.
    """
    if style not in ("long", "iso"):
        raise ValueError(f"The 'style' parameter must be one of 'long', 'iso'. Got {style!r} instead.")
    if value is None or value == "":
        return _DASH
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"format_date expects an ISO date such as '2011-12-10'. Got {value!r} instead.") from None
        day = parsed.date()
    elif isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        raise TypeError(f"format_date expects a str or date. Got {type(value).__name__} instead.")
    if style == "iso":
        return day.isoformat()
    return f"{day.day} {day:%b %Y}"


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


def make_env(template_dirs: Path | str | Sequence[Path | str] | None = None) -> jinja2.Environment:
    """Build the project's Jinja environment.

    Parameters
    ----------
    template_dirs
        Directory or directories to load templates from; default: ``templates/``
        at the repository root.

    Returns
    -------
    jinja2.Environment
        Autoescaping, strict about undefined names, with the formatting filters
        registered under their function names (and ``md`` for :func:`md_escape`).
    """
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
        format_number=format_number,
        format_money=format_money,
        format_percent=format_percent,
        format_signed=format_signed,
        format_date=format_date,
        format_points=format_points,
        format_times=format_times,
        format_signed_percent=format_signed_percent,
        md=md_escape,
        md_attr=md_attr,
        yaml_str=yaml_str,
    )
    return env
