"""A currency column in the input (issue 8 §4): found by name or mapped in [columns], one code per file."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.clean import clean_transactions
from analysis.config import CleaningConfig, ColumnsConfig, CustomersConfig
from analysis.customers import customer_table
from analysis.errors import DataError
from analysis.load import load_transactions
from tests._logs import HEADER, retail_rows, write_log

CUSTOM_HEADER = ["client", "when", "total", "ccy"]
CUSTOM = ColumnsConfig(customer="client", timestamp="when", amount="total", currency="ccy")
RECOGNISED = ColumnsConfig()
DEFAULT_CUSTOMERS = CustomersConfig()


def _with_currency(tmp_path: Path, codes: list[str], name: str = "Currency") -> Path:
    """The generated Online Retail II log with a currency column, codes repeated row by row."""
    rows = [[*row, codes[i % len(codes)]] for i, row in enumerate(retail_rows(customers=12))]
    return write_log(tmp_path / "log.csv", rows, header=[*HEADER, name])


def _custom(tmp_path: Path, codes: list[str]) -> Path:
    rows = [
        ["a", "2011-01-03", "10.5", codes[0]],
        ["b", "2011-02-03", "7", codes[-1]],
        ["a", "2011-03-01", "2", codes[0]],
    ]
    return write_log(tmp_path / "custom.csv", rows, header=CUSTOM_HEADER)


def _table(path: Path, columns: ColumnsConfig = RECOGNISED, customers: CustomersConfig = DEFAULT_CUSTOMERS):
    cleaned = clean_transactions(load_transactions(path, columns=columns), config=CleaningConfig())
    return cleaned, customer_table(cleaned, config=customers)


@pytest.mark.parametrize("name", ["Currency", "currency_code", "CCY"])
def test_a_column_named_like_a_currency_is_found_and_read(tmp_path, name):
    cleaned, table = _table(_with_currency(tmp_path, ["gbp ", "GBP"], name=name))
    assert cleaned.loaded.roles["currency"] == name
    # Codes are compared trimmed and upper-cased.
    assert (cleaned.currency, table.currency) == ("GBP", "GBP")


def test_the_column_overrides_the_layouts_known_currency(tmp_path):
    # Online Retail II's layout is known to be in pounds; a file in that layout with a EUR column is in euros.
    assert _table(_with_currency(tmp_path, ["EUR"]))[1].currency == "EUR"


def test_custom_layout_maps_the_column_in_columns(tmp_path):
    cleaned, table = _table(_custom(tmp_path, ["CHF"]), columns=CUSTOM)
    assert cleaned.loaded.roles["currency"] == "ccy"
    assert table.currency == "CHF"


def test_custom_layout_without_a_currency_has_none_unless_configured(tmp_path):
    rows = [["a", "2011-01-03", "10.5"], ["b", "2011-02-03", "7"]]
    path = write_log(tmp_path / "plain.csv", rows, header=CUSTOM_HEADER[:3])
    columns = ColumnsConfig(customer="client", timestamp="when", amount="total")
    assert _table(path, columns=columns)[1].currency is None
    assert _table(path, columns=columns, customers=CustomersConfig(currency="SEK"))[1].currency == "SEK"


def test_several_currencies_stop_the_run_naming_them(tmp_path):
    with pytest.raises(DataError, match=r"'ccy'.*holds amounts in 2 currencies \(EUR, USD\)"):
        _table(_custom(tmp_path, ["USD", "EUR"]), columns=CUSTOM)


def test_a_value_that_is_not_an_iso_code_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"ISO 4217 code.*Got 'POUNDS'"):
        _table(_custom(tmp_path, ["pounds"]), columns=CUSTOM)


def test_configured_currency_must_agree_with_the_column(tmp_path):
    path = _custom(tmp_path, ["EUR"])
    assert _table(path, columns=CUSTOM, customers=CustomersConfig(currency="EUR"))[1].currency == "EUR"
    with pytest.raises(DataError, match=r"\[customers\] currency is 'USD' but the currency column holds 'EUR'"):
        _table(path, columns=CUSTOM, customers=CustomersConfig(currency="USD"))
