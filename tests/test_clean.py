"""Cleaning: every rule counted, accounting balances, bad values give one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.clean import REASONS, clean_transactions
from analysis.config import CleaningConfig, ColumnsConfig
from analysis.errors import DataError, EmptyDataError
from analysis.load import load_transactions
from tests._data import DATA, shared_file

LENIENT = CleaningConfig(max_unparseable_share=0.2)


DEFAULT_COLUMNS = ColumnsConfig()


def _clean(path: Path, config: CleaningConfig = LENIENT, columns: ColumnsConfig = DEFAULT_COLUMNS):
    return clean_transactions(load_transactions(path, columns=columns), config=config)


def test_tiny_file_every_reason_counted_by_hand():
    # tests/data/tiny_retail.csv, row by row: 2 duplicate (row 4 repeats row 3),
    # C1003 cancellation, POST non-product, 1006 no customer, 1008 price 0,
    # 1009 quantity -3, 1012 "not a date"; 8 rows kept.
    result = _clean(DATA / "tiny_retail.csv")
    assert result.rows_in == 15
    assert result.rows_kept == 8
    assert result.dropped == {
        "unparseable": 1,
        "out_of_range": 0,
        "implausible_date": 0,
        "duplicate": 1,
        "missing_customer": 1,
        "missing_value": 0,
        "cancellation": 1,
        "non_product": 1,
        "non_positive_quantity": 1,
        "non_positive_price": 1,
    }
    assert set(result.reasons) == set(REASONS)
    # Returns are counted, not netted: C1003 (1 x 5.00) and 1009 (3 x 2.00).
    assert (result.returns_rows, result.returns_value, result.returns_customers) == (2, 11.0, 2)
    assert result.date_format == "%Y-%m-%d %H:%M:%S"


def test_kept_rows_have_typed_values_and_orders():
    result = _clean(DATA / "tiny_retail.csv")
    rows = result.loaded.con.execute(
        "SELECT customer_id, order_id, quantity, unit_price, amount FROM clean ORDER BY customer_id, order_id, amount"
    ).fetchall()
    assert rows[0] == ("111", "1001", 1.0, 8.0, 8.0)
    assert sum(r[4] for r in rows) == pytest.approx(10 + 8 + 20 + 5 + 15 + 48 + 3 + 6)


def test_unparseable_share_over_the_limit_is_an_error_naming_file_column_value(tmp_path):
    with pytest.raises(DataError) as info:
        _clean(DATA / "tiny_retail.csv", config=CleaningConfig())
    text = str(info.value)
    assert "tiny_retail.csv" in text and "'InvoiceDate'" in text and "'not a date'" in text
    assert "row 15" in text


def test_text_in_price_column(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "1,A,x,1,2011-01-01 10:00:00,cheap,7,UK\n"
        "2,A,x,1,2011-01-02 10:00:00,2.5,7,UK\n"
    )
    with pytest.raises(DataError, match=r"column 'Price'.*not a valid number.*Got 'cheap'"):
        _clean(path, config=CleaningConfig())


def test_every_row_dropped(tmp_path):
    path = tmp_path / "cancelled.csv"
    path.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "C1,A,x,-1,2011-01-01 10:00:00,2,7,UK\n"
        "2,A,x,1,2011-01-02 10:00:00,2,,UK\n"
    )
    with pytest.raises(
        EmptyDataError, match=r"every one of the 2 rows was dropped \(missing_customer=1, cancellation=1\)"
    ):
        _clean(path)


def test_date_formats_are_detected(tmp_path):
    path = tmp_path / "cd.csv"
    path.write_text("customer_id,date,number_of_cds,dollar_value\n00001,19970101,1,11.77\n00002,19970112,2,12.00\n")
    result = _clean(path)
    assert result.date_format == "%Y%m%d"
    assert result.loaded.con.execute("SELECT min(customer_id) FROM clean").fetchone()[0] == "00001"


def test_cdnow_keeps_identical_lines_without_invoice_but_retail_drops_them(tmp_path):
    path = tmp_path / "cd.csv"
    path.write_text("customer_id,date,number_of_cds,dollar_value\n00001,19970101,1,11.77\n00001,19970101,1,11.77\n")
    assert _clean(path).rows_kept == 2
    assert _clean(path, config=CleaningConfig(drop_duplicates=True)).dropped["duplicate"] == 1


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "rows_in", "duplicates"),
    [
        # Row and duplicate counts from ../shared/data/SOURCES.md.
        ("online_retail_II.csv.gz", 1_067_371, 34_335),
        ("online_retail.csv.gz", 541_909, 5_268),
        ("cdnow_master.csv.gz", 69_659, 0),
        ("cdnow_sample.csv.gz", 6_919, 0),
    ],
    ids=["online-retail-ii", "online-retail", "cdnow-master", "cdnow-sample"],
)
def test_row_accounting_balances_on_the_real_files(name, rows_in, duplicates):
    result = _clean(shared_file(name), config=CleaningConfig())
    assert result.rows_in == rows_in
    assert result.rows_kept + sum(result.dropped.values()) == rows_in
    assert result.dropped["duplicate"] == duplicates
    assert result.dropped["unparseable"] == 0
