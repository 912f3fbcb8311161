"""Currency symbols written before amounts."""

import pytest

from analysis.currency import currency_symbol


@pytest.mark.parametrize(
    ("code", "symbol"),
    [("GBP", "£"), ("USD", "$"), ("EUR", "€"), ("CHF", "CHF "), (None, "")],
    ids=["gbp", "usd", "eur", "no-symbol", "unknown"],
)
def test_currency_symbol(code, symbol):
    assert currency_symbol(code) == symbol
