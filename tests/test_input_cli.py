"""Bad and unusual inputs end to end: ``python -m analysis run FILE`` in a subprocess.

Each failure must be one stderr line naming the file (and the column or sheet
and the value where there is one) with a non-zero exit; each accepted oddity
must be counted in the bundle's row accounting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._data import REPO
from tests._logs import HEADER, retail_rows, write_log


def _run(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGMENTATION_KEY": "a test key that is long enough"}
    return subprocess.run(
        [sys.executable, "-m", "analysis", "run", str(data), "--out", str(out), "--progress", "never", *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in done.stderr
    return lines[0]


def _bundle(out: Path) -> dict:
    return json.loads((out / "bundle.json").read_text(encoding="utf-8"))


def test_a_row_dated_2099_is_dropped_counted_and_changes_no_segment(tmp_path, capsys, monkeypatch):
    # In-process through the CLI's own entry point (two full runs; a subprocess would add ~5 s of imports each).
    from analysis.cli import main

    monkeypatch.setenv("SEGMENTATION_KEY", "a test key that is long enough")
    rows = retail_rows()
    assert main(["run", str(write_log(tmp_path / "clean.csv", rows)), "--out", str(tmp_path / "a"), "--k", "2"]) == 0
    bad = rows + [rows[0][:4] + ["2099-06-01 10:00:00"] + rows[0][5:]]
    capsys.readouterr()
    assert main(["run", str(write_log(tmp_path / "dated.csv", bad)), "--out", str(tmp_path / "b"), "--k", "2"]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "implausible_date" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: dated.csv: 1 row(s) dated outside")
    before, after = _bundle(tmp_path / "a"), _bundle(tmp_path / "b")
    assert after["data"]["dropped"]["implausible_date"] == 1
    assert after["data"]["rows_in"] == after["data"]["rows_kept"] + sum(after["data"]["dropped"].values())
    assert after["data"]["snapshot_date"] == before["data"]["snapshot_date"] < "2012"
    assert after["segments"] == before["segments"]


def test_dates_that_read_both_ways_stop_the_run(tmp_path):
    rows = [[str(1000 + d), "A", "x", "1", f"12/0{d}/2010 10:00", "2", str(10 + d), "UK"] for d in range(1, 10)]
    line = _one_error_line(_run(write_log(tmp_path / "us.csv", rows), tmp_path / "o"))
    assert "us.csv, column 'InvoiceDate'" in line
    assert "'12/01/2010 10:00' reads as 12 Jan 2010 (%d/%m/%Y %H:%M) or 1 Dec 2010 (%m/%d/%Y %H:%M)" in line
    assert line.endswith("set [columns] date_format.")


def test_a_price_of_1e300_in_2_5_percent_of_rows(tmp_path):
    # One such row is counted as out_of_range (tests/test_clean.py); this many stop the run by name.
    rows = retail_rows(customers=60)
    bad = set(range(3, len(rows), 40))
    assert len(bad) / len(rows) == pytest.approx(0.025, abs=0.001)
    rows = [r[:5] + ["1e300"] + r[6:] if i in bad else r for i, r in enumerate(rows)]
    line = _one_error_line(_run(write_log(tmp_path / "p.csv", rows), tmp_path / "o"))
    assert "p.csv, column 'Price'" in line and "out of range" in line and "Got '1e300'." in line
    assert len(line) < 250


def test_latin1_file_names_the_encoding_problem_and_its_line(tmp_path):
    # With [columns] encoding = "latin-1" the same file reads (tests/test_load.py::test_encodings).
    rows = retail_rows()
    rows[-1] = rows[-1][:2] + ["café crème"] + rows[-1][3:]
    path = write_log(tmp_path / "latin.csv", rows, encoding="latin-1")
    line = _one_error_line(_run(path, tmp_path / "o"))
    assert f"latin.csv: is not UTF-8 text: byte 0xe9 on line {len(rows) + 1:,}" in line
    assert "set [columns] encoding" in line


def test_a_config_file_that_is_not_utf8(tmp_path):
    config = tmp_path / "c.toml"
    config.write_bytes("# r\xe9glages\n[cluster]\nk = 3\n".encode("latin-1"))
    line = _one_error_line(_run(REPO / "tests" / "data" / "tiny_retail.csv", tmp_path / "o", "--config", str(config)))
    assert f"{config}: config file is not UTF-8 text (byte 0xe9 on line 1)" in line


def test_a_workbook_with_an_unmappable_sheet(tmp_path):
    import xlsxwriter

    path = tmp_path / "shop.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Orders")
    sheet.write_row(0, 0, HEADER)
    for r, row in enumerate(retail_rows(customers=4), start=1):
        sheet.write_row(r, 0, row)
    book.add_worksheet("Summary").write_row(0, 0, ["month", "revenue"])
    book.close()
    line = _one_error_line(_run(path, tmp_path / "o"))
    assert "shop.xlsx: sheet 'Summary': cannot map the columns" in line and "['month', 'revenue']" in line
