"""The symbol written before amounts in generated sentences, from an ISO 4217 currency code.

The symbols come from Babel's CLDR data (the publishing layer formats whole
amounts with the same data, see ``publishing._format``), so any currency has
one, not only a handful.
"""

from __future__ import annotations

from babel.numbers import get_currency_symbol

__all__ = ["currency_symbol"]


def currency_symbol(code: str | None, locale: str = "en_GB") -> str:
    """Return the symbol to write before an amount: "£" for "GBP", "NT$" for "TWD" (in en_GB).

    A currency whose symbol is letters only gets a trailing space ("CHF "), so
    ``f"{symbol}{amount:,.0f}"`` reads "CHF 1,234"; an unknown currency
    (``None``) gives "".
    """
    if code is None:
        return ""
    symbol = get_currency_symbol(code, locale)
    return f"{symbol} " if symbol.isalpha() else symbol
