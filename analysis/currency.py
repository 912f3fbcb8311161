"""The symbol written before amounts, from an ISO 4217 currency code."""

from __future__ import annotations

__all__ = ["currency_symbol"]

_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "INR": "₹"}


def currency_symbol(code: str | None) -> str:
    """Return "£" for "GBP", the code and a space for a currency with no common symbol here
    ("CHF "), and "" when the currency is unknown (``None``)."""
    if code is None:
        return ""
    return _SYMBOLS.get(code, f"{code} ")
