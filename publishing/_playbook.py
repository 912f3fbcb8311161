"""Fill a playbook template (a segment's description or one of its actions) with the report's number formats.

The playbook (``analysis/data/playbook.toml``) writes its texts as Python
format strings over a segment's ``values``: ``"{size:,} customers
({share_customers:.0%}) bring {share_revenue:.0%} of revenue"``, with ``{cur}``
before an amount of money. The analysis keeps them unfilled; this module fills
them when a page or the brief is rendered, reading each field's format spec
for what it asks (a percentage, a number of decimals, thousands separators) and
writing it with :class:`publishing._format.Formats`, so the playbook's numbers
follow the report's locale and currency like every other number: ``{cur}``
followed by a field is money in the data's currency, ``.0%`` a percentage, a
precision ``.1f`` that many decimals.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

from publishing._format import Formats

__all__ = ["fill"]

_SPEC = re.compile(r"^(?P<group>,)?(?:\.(?P<digits>\d+))?(?P<kind>[fd%])?$")


def _one(value: float, spec: str, *, money: bool, fmt: Formats) -> str:
    match = _SPEC.match(spec)
    if match is None:  # a spec the report formats do not cover: Python's own formatting
        return format(value, spec)
    digits = int(match["digits"]) if match["digits"] is not None else 0
    if match["kind"] == "%":
        return fmt.percent(value, digits)
    if money:
        return fmt.money(value, digits)
    return fmt.number(value, digits)


def fill(template: str, values: Mapping[str, float], fmt: Formats) -> str:
    """The template with every field written in the report's formats.

    Parameters
    ----------
    template
        A playbook text (validated by the analysis: it cites only fields that
        ``values`` has, plus ``{cur}``).
    values
        The segment's ``values`` from the bundle.
    fmt
        The report's formats (locale and currency).

    Raises
    ------
    KeyError
        When the template cites a field ``values`` lacks (the analysis drops such actions).
    """
    out: list[str] = []
    money = False
    for literal, field, spec, _conversion in string.Formatter().parse(template):
        if literal:
            if money:  # "{cur}" not followed directly by an amount: show the symbol where it stood
                out.append(fmt.symbol)
                money = False
            out.append(literal)
        if field is None:
            continue
        if field == "cur":
            money = True
            continue
        out.append(_one(float(values[field]), spec or "", money=money, fmt=fmt))
        money = False
    if money:
        out.append(fmt.symbol)
    return "".join(out)
