"""Cleaning: every rule counted, accounting balances, bad values give one clear error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analysis.clean import REASONS, clean_transactions
from analysis.config import CleaningConfig, ColumnsConfig, CustomersConfig
from analysis.customers import customer_table
from analysis.errors import DataError, EmptyDataError
from analysis.load import load_transactions
from tests._data import DATA, shared_file
from tests._logs import retail_rows, write_log

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
    # The date fence drops nothing legitimate, and no real number is out of range.
    assert result.dropped["implausible_date"] == 0
    assert result.dropped["out_of_range"] == 0


# --------------------------------------------------------------------------- implausible dates (issue 7, item 10)


def _retail(tmp_path: Path, rows: list[list[str]], name: str = "log.csv") -> Path:
    return write_log(tmp_path / name, rows)


def _dated(row: list[str], when: str) -> list[str]:
    return row[:4] + [when] + row[5:]


def test_one_row_dated_2099_is_dropped_and_the_snapshot_comes_from_kept_rows(tmp_path):
    rows = retail_rows()
    rows.append(_dated(rows[0], "2099-06-01 10:00:00"))
    path = _retail(tmp_path, rows)
    with pytest.warns(UserWarning, match=r"1 row\(s\) dated outside .* implausible_date .*2099-06-01"):
        result = _clean(path, config=CleaningConfig())
    assert result.dropped["implausible_date"] == 1
    assert result.rows_kept + sum(result.dropped.values()) == len(rows)
    table = customer_table(result, config=CustomersConfig())
    assert table.last_date.year == 2011
    assert table.snapshot_date == table.last_date + dt.timedelta(days=1)


def test_two_percent_of_rows_dated_1900_or_2099_are_counted(tmp_path):
    rows = retail_rows()
    n = len(rows)
    bad = {i: ("1900-01-01 00:00:00" if i % 2 else "2099-12-31 23:59:00") for i in range(0, n, 50)}
    rows = [_dated(r, bad[i]) if i in bad else r for i, r in enumerate(rows)]
    with pytest.warns(UserWarning, match="implausible_date"):
        result = _clean(_retail(tmp_path, rows), config=CleaningConfig())
    assert result.dropped["implausible_date"] == len(bad) >= 0.02 * n
    kept = result.loaded.con.execute("SELECT min(ts), max(ts) FROM clean").fetchone()
    assert kept[0].year == kept[1].year == 2011


def test_configured_date_bounds_replace_the_fence_and_the_fence_can_be_turned_off(tmp_path):
    rows = retail_rows()
    rows.append(_dated(rows[0], "2099-06-01 10:00:00"))
    path = _retail(tmp_path, rows)
    # Inside the fence but after max_date: dropped; the 2099 row too. The fence still sets the lower bound.
    bounded = CleaningConfig(max_date=dt.date(2011, 10, 31))
    with pytest.warns(UserWarning, match=r"outside 2008-05-03 \.\. 2011-10-31"):
        result = _clean(path, config=bounded)
    late = result.loaded.con.execute(
        "SELECT count(*) FROM raw WHERE CAST(timestamp AS TIMESTAMP) > TIMESTAMP '2011-10-31 23:59:59.999999'"
    ).fetchone()[0]
    assert result.dropped["implausible_date"] == late > 1
    # Without the fence and bounds, nothing is implausible (the 2099 row is kept as it was before).
    open_config = CleaningConfig(date_fence=0)
    assert _clean(path, config=open_config).dropped["implausible_date"] == 0
    with pytest.raises(ValueError, match="min_date"):
        CleaningConfig(min_date=dt.date(2012, 1, 1), max_date=dt.date(2011, 1, 1))


# --------------------------------------------------------------------------- ambiguous dates (item 11)


def _with_dates(tmp_path: Path, dates: list[str], name: str = "dates.csv") -> Path:
    base = retail_rows(customers=2)[0]
    rows = [[str(1000 + i)] + _dated(base, d)[1:] for i, d in enumerate(dates)]
    return write_log(tmp_path / name, rows)


def test_dates_that_read_both_ways_stop_with_both_readings(tmp_path):
    # mm/dd/yyyy, 1-9 December: every value also reads day-first (12 Jan - 12 Sep).
    path = _with_dates(tmp_path, [f"12/0{d}/2010 10:00" for d in range(1, 10)])
    with pytest.raises(DataError) as info:
        _clean(path)
    text = str(info.value)
    assert "'InvoiceDate'" in text and "date_format" in text
    assert "'12/01/2010 10:00' reads as 12 Jan 2010 (%d/%m/%Y %H:%M) or 1 Dec 2010 (%m/%d/%Y %H:%M)" in text


def test_the_one_format_that_reads_every_value_is_taken(tmp_path):
    month_first = _with_dates(tmp_path, ["12/01/2010 10:00", "12/13/2010 10:00"], "us.csv")
    assert _clean(month_first).date_format == "%m/%d/%Y %H:%M"
    day_first = _with_dates(tmp_path, ["01/12/2010 10:00", "13/12/2010 10:00"], "uk.csv")
    assert _clean(day_first).date_format == "%d/%m/%Y %H:%M"
    # Day equal to month reads the same both ways: no ambiguity to report.
    same = _with_dates(tmp_path, ["01/01/2011 10:00", "02/02/2011 10:00"], "same.csv")
    assert _clean(same).loaded.con.execute("SELECT min(ts) FROM clean").fetchone()[0] == dt.datetime(2011, 1, 1, 10)
    configured = _clean(
        _with_dates(tmp_path, ["03/04/2011 10:00"], "cfg.csv"), columns=ColumnsConfig(date_format="%m/%d/%Y %H:%M")
    )
    assert configured.loaded.con.execute("SELECT ts FROM clean").fetchone()[0] == dt.datetime(2011, 3, 4, 10)


def test_a_sample_that_reads_both_ways_is_settled_on_the_whole_column(tmp_path):
    # 120,000 rows: the detector samples every 2nd row; the only day > 12 is on an odd row.
    dates = [f"12/0{1 + i % 9}/2010 10:00" for i in range(120_000)]
    dates[60_000] = "12/13/2010 10:00"
    result = _clean(_with_dates(tmp_path, dates))
    assert result.date_format == "%m/%d/%Y %H:%M"


def test_an_invalid_configured_date_format_is_a_config_error():
    with pytest.raises(ValueError, match="not a strptime format"):
        ColumnsConfig(date_format="%Q")


# --------------------------------------------------------------------------- out-of-range numbers (item 12)


def _priced(tmp_path: Path, bad: dict[int, str], name: str = "prices.csv") -> Path:
    rows = retail_rows()
    return write_log(tmp_path / name, [r[:5] + [bad[i]] + r[6:] if i in bad else r for i, r in enumerate(rows)])


def test_one_huge_price_is_counted_out_of_range(tmp_path):
    result = _clean(_priced(tmp_path, {3: "1e300"}), config=CleaningConfig(max_unparseable_share=0.01))
    assert result.dropped["out_of_range"] == 1
    assert result.rows_kept + sum(result.dropped.values()) == result.rows_in


def test_a_product_too_large_for_the_exact_amount_is_out_of_range(tmp_path):
    rows = retail_rows()
    rows[0] = rows[0][:3] + ["1e10"] + [rows[0][4], "1e10"] + rows[0][6:]  # each within 1e12, their product not
    result = _clean(write_log(tmp_path / "x.csv", rows), config=CleaningConfig(max_unparseable_share=0.01))
    assert result.dropped["out_of_range"] == 1


def test_many_huge_prices_are_an_error_naming_file_column_and_value(tmp_path):
    n = len(retail_rows())
    path = _priced(tmp_path, {i: "1e300" for i in range(0, n, 40)})
    with pytest.raises(DataError) as info:
        _clean(path, config=CleaningConfig())
    text = str(info.value)
    assert "prices.csv, column 'Price'" in text and "out of range" in text and "Got '1e300'" in text
    assert len(text) < 300


def test_infinite_and_nan_text(tmp_path):
    result = _clean(_priced(tmp_path, {1: "inf", 2: "nan"}), config=CleaningConfig(max_unparseable_share=0.01))
    assert (result.dropped["out_of_range"], result.dropped["unparseable"]) == (1, 1)


def test_customer_level_out_of_range(tmp_path):
    path = tmp_path / "customer_data.csv"
    path.write_text(
        "CustomerID,PurchaseAmount,PurchaseFrequency,Recency,AvgUnitCost\n"
        + "".join(f"{i},{100 + i},{1 + i % 3},{i},2.5\n" for i in range(1, 40))
        + "99,1e300,2,3,1\n"
    )
    cleaned = _clean(path, config=CleaningConfig(max_unparseable_share=0.05))
    assert cleaned.dropped["out_of_range"] == 1 and cleaned.rows_kept == 39


# --------------------------------------------------------------------------- typed inputs and ids


def test_missing_id_text_is_no_customer(tmp_path):
    rows = retail_rows()
    for i, text in enumerate(["nan", "NaN", "None", "#N/A"]):
        rows[i] = rows[i][:6] + [text] + rows[i][7:]
    result = _clean(write_log(tmp_path / "ids.csv", rows), config=CleaningConfig())
    assert result.dropped["missing_customer"] == 4
    ids = {r[0] for r in result.loaded.con.execute("SELECT DISTINCT customer_id FROM clean").fetchall()}
    assert not {"nan", "NaN", "None", "#N/A"} & ids


def test_typed_parquet_cleans_like_the_csv(tmp_path):
    # Typed columns as pandas writes them: float customer ids with NaN, real timestamps, numbers.
    import pandas as pd

    csv_path = DATA / "tiny_retail.csv"
    frame = pd.read_csv(csv_path, dtype={"Invoice": str, "StockCode": str})
    frame = frame[frame["InvoiceDate"] != "not a date"]
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    typed = tmp_path / "typed.parquet"
    frame.to_parquet(typed)
    text = tmp_path / "text.csv"
    frame.assign(**{"Customer ID": frame["Customer ID"].astype("Int64")}).to_csv(text, index=False)
    got, want = _clean(typed), _clean(text)
    assert got.date_format is None and got.loaded.types["timestamp"].startswith("TIMESTAMP")
    assert got.loaded.types["customer"] == "DOUBLE"
    assert got.dropped == want.dropped
    query = "SELECT * FROM clean ORDER BY customer_id, order_id, amount"
    assert got.loaded.con.execute(query).fetchall() == want.loaded.con.execute(query).fetchall()


def test_float_nan_in_typed_columns_is_a_missing_value_not_a_customer(tmp_path):
    # Parquet written with NaN (not null) for missing floats, as some exports do: NaN is no customer and no price.
    import pyarrow as pa
    import pyarrow.parquet as pq

    nan = float("nan")
    path = tmp_path / "nan.parquet"
    pq.write_table(
        pa.table(
            {
                "Invoice": ["1", "2", "3", "4"],
                "StockCode": ["A", "A", "A", "A"],
                "Description": ["x", "x", "x", "x"],
                "Quantity": [1, 2, 3, 4],
                "InvoiceDate": pa.array([dt.datetime(2011, 1, d) for d in (3, 4, 5, 6)]),
                "Price": pa.array([2.0, 2.0, nan, 2.0], from_pandas=False),
                "Customer ID": pa.array([7.0, nan, 7.0, 8.0], from_pandas=False),
                "Country": ["UK", "UK", "UK", "UK"],
            }
        ),
        path,
    )
    result = _clean(path, config=CleaningConfig())
    assert (result.dropped["missing_customer"], result.dropped["missing_value"], result.rows_kept) == (1, 1, 2)
    assert result.dropped["unparseable"] == 0
    ids = [r[0] for r in result.loaded.con.execute("SELECT customer_id FROM clean ORDER BY ts").fetchall()]
    assert ids == ["7", "8"]
