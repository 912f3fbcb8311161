"""``python -m analysis stream`` as a user meets it: bad events counted, a wrong model refused, late events, export.

Each test runs the real command in a subprocess against a model of a real
batch run on the sample's first two months; the expected figures are worked
out by hand from the few events each test writes.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat

import duckdb
import pandas as pd
import pytest

from tests._stream import SMALL_UNTIL, batch_run, current, dropped, meta, sample_slice, stream, write_events

COLUMNS = ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = sample_slice(root / "small.parquet", until=SMALL_UNTIL)
    result = batch_run(data, root / "out")
    return root, data, result.model_path


def event(invoice, customer, when, quantity="1", price="2.50", stock="85048", **extra) -> bytes:
    values = dict(zip(COLUMNS, (invoice, stock, "LIGHTS", quantity, when, price, customer, "France"), strict=True))
    return (json.dumps({**values, **extra}) + "\n").encode()


def customer_row(state, customer_id: str) -> dict:
    con = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM customers WHERE customer_id = ?", [customer_id]).fetchone())
    finally:
        con.close()


def us(text: str) -> int:
    return int((pd.Timestamp(text) - pd.Timestamp("1970-01-01")).total_seconds() * 1_000_000)


def test_malformed_events_are_counted_by_reason_and_the_processor_goes_on(small, tmp_path):
    _, _, model = small
    lines = [
        event("900001", "90001", "2010-01-05 10:00:00"),
        b"not json at all\n",
        b"[1, 2, 3]\n",
        b"\xff\xfe broken utf-8\n",
        b'{"Invoice": "900002", "Customer ID": "90001"}\n',  # no StockCode, Quantity, ...: missing_field
        b'{"tick": "not a date"}\n',
        event("900003", "90001", "2010-01-06 10:00:00", quantity="many"),  # the batch's own 'unparseable'
        event("900004", "", "2010-01-06 11:00:00"),  # missing_customer
        event("C900005", "90001", "2010-01-06 12:00:00"),  # cancellation
        b"\n",  # blank lines are not events
        event("900006", "90001", "2010-01-07 10:00:00", quantity="3", price="1.00"),
    ]
    state = tmp_path / "state.db"
    done = stream("--model", str(model), "--state", str(state), "--batch-size", "4", stdin=b"".join(lines))
    assert done.returncode == 0, done.stderr.decode()
    assert dropped(state) == {
        "malformed": 4,
        "missing_field": 1,
        "unparseable": 1,
        "missing_customer": 1,
        "cancellation": 1,
    }
    assert b"not readable (first at line 2: malformed)" in done.stderr
    row = customer_row(state, "90001")
    assert (row["orders"], row["spend"]) == (2, 2_500_000 + 3_000_000)
    assert (row["first_us"], row["last_us"]) == (us("2010-01-05 10:00:00"), us("2010-01-07 10:00:00"))


def test_a_late_event_moves_first_purchase_and_totals_but_not_the_clock(small, tmp_path):
    _, _, model = small
    state = tmp_path / "state.db"
    ahead = event("910001", "91001", "2010-01-10 09:00:00", quantity="2", price="5.00") + event(
        "910002", "91001", "2010-01-20 09:00:00", quantity="1", price="3.00"
    )
    done = stream("--model", str(model), "--state", str(state), stdin=ahead)
    assert done.returncode == 0, done.stderr.decode()
    late = event("910003", "91001", "2010-01-05 09:00:00", quantity="4", price="1.00")
    done = stream("--model", str(model), "--state", str(state), "--source", "late", stdin=late)
    assert done.returncode == 0, done.stderr.decode()
    row = customer_row(state, "91001")
    assert (row["first_us"], row["last_us"]) == (us("2010-01-05 09:00:00"), us("2010-01-20 09:00:00"))
    assert (row["orders"], row["spend"], row["quantity"]) == (3, 10_000_000 + 3_000_000 + 4_000_000, 7)
    assert meta(state)["as_of"] == (pd.Timestamp("2010-01-21") - pd.Timestamp("1970-01-01")).days


def test_the_same_invoice_line_sent_twice_is_a_duplicate(small, tmp_path):
    _, _, model = small
    state = tmp_path / "state.db"
    once = event("920001", "92001", "2010-01-10 09:00:00", quantity="2", price="5.00")
    for source in ("a", "b"):  # two sources, so the second is not skipped as already applied
        done = stream("--model", str(model), "--state", str(state), "--source", source, stdin=once)
        assert done.returncode == 0, done.stderr.decode()
    assert dropped(state) == {"duplicate": 1}
    assert customer_row(state, "92001")["spend"] == 10_000_000


def _one_line_error(done) -> str:
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr.decode()
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_csv_header_without_the_models_columns_is_refused_in_one_line(small, tmp_path):
    _, _, model = small
    state = tmp_path / "state.db"
    done = stream("--model", str(model), "--state", str(state), stdin=b"order,sku,qty\n1,2,3\n")
    line = _one_line_error(done)
    assert "'Customer ID'" in line and "['order', 'sku', 'qty']" in line
    assert current(state).empty


def test_json_events_of_another_shape_are_refused_in_one_line(small, tmp_path):
    _, _, model = small
    state = tmp_path / "state.db"
    other = b"".join(json.dumps({"order": i, "customer": "x", "total": 3}).encode() + b"\n" for i in range(5))
    line = _one_line_error(stream("--model", str(model), "--state", str(state), stdin=other))
    assert "the events lack field(s)" in line and "'InvoiceDate'" in line
    assert current(state).empty


def test_another_pseudonym_key_is_refused_in_one_line(small, tmp_path):
    _, _, model = small
    done = stream("--model", str(model), "--state", str(tmp_path / "s.db"), key="another key, also long enough")
    assert "is not the key this model was made with" in _one_line_error(done)


def test_csv_files_in_a_watched_directory_give_the_json_result(small, tmp_path):
    """The sample as CSV files (the batch's own column mapping) and as JSON lines on stdin: the same state."""
    _, data, model = small
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, where in (("01.csv", "InvoiceDate < '2010-01-01'"), ("02.csv", "InvoiceDate >= '2010-01-01'")):
        duckdb.execute(
            f"COPY (SELECT * FROM read_parquet('{data}', file_row_number = true) WHERE {where} "
            f"ORDER BY InvoiceDate, file_row_number) TO '{tmp_path / name}' (HEADER, DELIMITER ';')"
        )
        text = (tmp_path / name).read_text().splitlines(keepends=True)
        header = text[0].replace(";file_row_number", "")
        rows = [r.rsplit(";", 1)[0] + "\n" for r in text[1:]]
        (inbox / name).write_text(header + "".join(rows))
    (inbox / ".03.csv.tmp").write_text("not yet complete")  # being written: ignored
    state = tmp_path / "csv.db"
    done = stream("--model", str(model), "--state", str(state), "--watch", str(inbox), "--once")
    assert done.returncode == 0, done.stderr.decode()
    reference = tmp_path / "json.db"
    done = stream("--model", str(model), "--state", str(reference), stdin=write_events(data, tmp_path / "e.jsonl"))
    assert done.returncode == 0, done.stderr.decode()
    pd.testing.assert_frame_equal(current(state), current(reference))
    assert dropped(state) == dropped(reference)


def test_the_export_is_private_spreadsheet_safe_and_reads_no_events(small, tmp_path):
    _, _, model = small
    state = tmp_path / "state.db"
    events = event("930001", "=HYPERLINK(1)", "2010-01-05 10:00:00") + event("930002", "93001", "2010-01-06 10:00:00")
    done = stream("--model", str(model), "--state", str(state), stdin=events)
    assert done.returncode == 0, done.stderr.decode()
    out = tmp_path / "segments.csv"
    done = stream("--state", str(state), "--export", str(out), stdin=event("930003", "93002", "2010-01-07 10:00:00"))
    assert done.returncode == 0, done.stderr.decode()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["customer_id"] for r in rows] == ["93001", "'=HYPERLINK(1)"]  # by id; 93002 never read
    assert {"customer_id", "pseudonym", "segment", "rfm_cell"} <= set(rows[0])
    table = current(state)
    assert [r["segment"] for r in rows] == [str(s) for s in table["segment"]]
    assert [r["rfm_cell"] for r in rows] == list(table["rfm_cell"])
    assert all(r["pseudonym"].startswith("c_") for r in rows)
