"""Currency symbols written before amounts in the analysis' generated sentences (analysis/currency.py)."""

import pytest

from analysis.currency import currency_symbol


@pytest.mark.parametrize(
    ("code", "symbol"),
    [("GBP", "£"), ("USD", "US$"), ("EUR", "€"), ("TWD", "NT$"), ("JPY", "JP¥"), ("CHF", "CHF "), (None, "")],
    ids=["gbp", "usd-in-en-gb", "eur", "twd", "jpy", "letters-get-a-space", "unknown"],
)
def test_currency_symbol_in_the_default_locale(code, symbol):
    assert currency_symbol(code) == symbol


def test_currency_symbol_follows_the_locale():
    assert currency_symbol("USD", "en_US") == "$"
    assert currency_symbol("EUR", "de_DE") == "€"
