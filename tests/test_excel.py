"""Excel workbooks: every sheet stacked and counted, typed cells read as the CSV's values."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter

from analysis.clean import clean_transactions
from analysis.config import CleaningConfig, ColumnsConfig
from analysis.errors import DataError, SchemaMappingError
from analysis.load import load_transactions
from tests._data import DATA

ROWS = list(csv.reader((DATA / "tiny_retail.csv").open(encoding="utf-8")))
HEADER, BODY = ROWS[0], [r for r in ROWS[1:] if r[4] != "not a date"]  # 14 rows


def _cell(ws, row: int, col: int, value: str, date_format) -> None:
    """Write ``value`` the way Excel holds it: numbers as numbers, dates as datetimes, blanks empty."""
    if value == "":
        return
    if col == 4:
        try:
            ws.write_datetime(row, col, dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S"), date_format)
            return
        except ValueError:
            pass
    try:
        ws.write_number(row, col, float(value))
    except ValueError:
        ws.write_string(row, col, value)


def _workbook(path: Path, sheets: dict[str, list[list[str]]], header: list[str] = HEADER) -> Path:
    book = xlsxwriter.Workbook(path)
    date_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for name, rows in sheets.items():
        ws = book.add_worksheet(name)
        if rows is None:
            continue
        ws.write_row(0, 0, header)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                _cell(ws, r, c, value, date_format)
    book.close()
    return path


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([HEADER, *rows])
    return path


def _clean(path: Path):
    return clean_transactions(load_transactions(path, columns=ColumnsConfig()), config=CleaningConfig())


def test_two_overlapping_sheets_are_stacked_counted_and_deduplicated(tmp_path):
    # Like UCI's workbook: sheet 1 holds rows 1-9, sheet 2 rows 6-14, so rows 6-9 appear twice.
    first, second = BODY[:9], BODY[5:]
    book = _workbook(tmp_path / "shop.xlsx", {"Year 1": first, "Year 2": second})
    got = _clean(book)
    source = got.loaded.source
    assert source.format == "xlsx"
    assert [(s.name, s.rows) for s in source.sheets] == [("Year 1", 9), ("Year 2", 9)]
    assert got.rows_in == sum(s.rows for s in source.sheets) == 18
    # Row 4 repeats row 3 in the CSV, and the 4 overlap rows are copies: 5 duplicates.
    assert got.dropped["duplicate"] == 5
    assert got.rows_kept + sum(got.dropped.values()) == got.rows_in
    # The same rows as a CSV give the same cleaned values, with no date format sniffed for Excel.
    want = _clean(_csv(tmp_path / "shop.csv", first + second))
    assert got.date_format is None and want.date_format == "%Y-%m-%d %H:%M:%S"
    assert got.dropped == want.dropped
    query = "SELECT * FROM clean ORDER BY customer_id, order_id, product, amount"
    assert got.loaded.con.execute(query).fetchall() == want.loaded.con.execute(query).fetchall()


def test_types_of_the_workbook_are_kept(tmp_path):
    loaded = load_transactions(_workbook(tmp_path / "t.xlsx", {"S": BODY}), columns=ColumnsConfig())
    assert loaded.types["timestamp"].startswith("TIMESTAMP")
    assert loaded.types["quantity"] == "DOUBLE" and loaded.types["customer"] == "DOUBLE"
    # Invoice numbers mix numbers (1001) and text (C1003): read as text, numbers without a ".0".
    assert loaded.types["invoice"] == "VARCHAR"
    invoices = [r[0] for r in loaded.con.execute("SELECT invoice FROM raw ORDER BY _row LIMIT 5").fetchall()]
    assert invoices == ["1001", "1001", "1002", "1002", "C1003"]


def test_a_cell_that_does_not_fit_its_column_is_counted_not_lost(tmp_path):
    rows = [r[:] for r in BODY]
    rows[2][4] = "n/a"  # text in the date column
    got = clean_transactions(
        load_transactions(_workbook(tmp_path / "t.xlsx", {"S": rows}), columns=ColumnsConfig()),
        config=CleaningConfig(max_unparseable_share=0.2),
    )
    assert got.dropped["unparseable"] == 1
    assert got.date_format == "%Y-%m-%d %H:%M:%S"


def test_an_unmappable_sheet_is_named(tmp_path):
    book = _workbook(tmp_path / "t.xlsx", {"Orders": BODY})
    notes = tmp_path / "notes.xlsx"
    wb = xlsxwriter.Workbook(notes)
    wb.add_worksheet("Orders").write_row(0, 0, HEADER)
    ws = wb.add_worksheet("Notes")
    ws.write_row(0, 0, ["foo", "bar"])
    ws.write_row(1, 0, ["1", "2"])
    wb.close()
    with pytest.raises(SchemaMappingError, match=r"notes.xlsx: sheet 'Notes': cannot map the columns"):
        load_transactions(notes, columns=ColumnsConfig())
    assert load_transactions(book, columns=ColumnsConfig()).rows_in == len(BODY)


def test_empty_sheets_are_listed_and_sheets_must_share_columns(tmp_path):
    book = _workbook(tmp_path / "t.xlsx", {"Orders": BODY, "Blank": None})
    loaded = load_transactions(book, columns=ColumnsConfig())
    assert [(s.name, s.rows) for s in loaded.source.sheets] == [("Orders", 14), ("Blank", 0)]
    assert loaded.where(3) == "sheet 'Orders', data row 3"
    other = _workbook(tmp_path / "o.xlsx", {"A": BODY})
    wb = xlsxwriter.Workbook(tmp_path / "two.xlsx")
    for name, header in (("A", HEADER), ("B", HEADER + ["Extra"])):
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, header)
        ws.write_row(1, 0, BODY[0] + (["x"] if name == "B" else []))
    wb.close()
    with pytest.raises(DataError, match=r"sheet 'B' has columns .* but sheet 'A' has .*same columns"):
        load_transactions(tmp_path / "two.xlsx", columns=ColumnsConfig())
    assert load_transactions(other, columns=ColumnsConfig()).source.sheets[0].rows == 14
