"""The private export is safe to open in a spreadsheet (CSV injection, OWASP)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from _tiny_log import RAW_IDS, write_transactions

from analysis.config import load_config
from analysis.export import FORMULA_PREFIXES, csv_writer, spreadsheet_safe
from analysis.pipeline import run_pipeline

HOSTILE = ('=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR")


def test_text_cells_starting_like_a_formula_get_a_quote_and_numbers_are_untouched():
    frame = pd.DataFrame({"customer_id": [*HOSTILE, "12345", "a=b"], "monetary": [-1.5, 2, 3, 4, 5, 6, 7, 8]})
    safe = spreadsheet_safe(frame)
    assert safe["customer_id"].tolist() == [f"'{v}" for v in HOSTILE] + ["12345", "a=b"]
    assert safe["monetary"].tolist() == frame["monetary"].tolist()
    buf = io.BytesIO()
    csv_writer(frame)(buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue().decode("utf-8"), newline="")))
    cells = [row[0] for row in rows[1:]]
    assert not any(cell.startswith(FORMULA_PREFIXES) for cell in cells)
    assert rows[1][1] == "-1.5"  # a negative number stays a number


def test_a_hostile_customer_id_cannot_become_a_formula_in_assignments_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMENTATION_KEY", "export tests key, long enough")
    ids = (*HOSTILE[:4], *RAW_IDS[4:])
    data = tmp_path / "shop.csv"
    write_transactions(data, ids=ids)
    config = load_config(None, cluster={"k": 4}, k_selection={"k_max": 5, "stability_resamples": 2})
    run = run_pipeline(data, config=config, out_dir=tmp_path / "out")
    with run.assignments_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    written = {row["customer_id"] for row in rows}
    assert {f"'{v}" for v in HOSTILE[:4]} <= written
    for row in rows:
        for col in ("customer_id", "pseudonym", "segment_name", "rfm_segment", "arm"):
            assert not row[col].startswith(FORMULA_PREFIXES), (col, row[col])


@pytest.mark.parametrize("value", ["=1+1", "@x", "+", "-"])
def test_every_owasp_prefix_is_neutralised(value):
    assert spreadsheet_safe(pd.DataFrame({"t": [value]}))["t"].iloc[0] == "'" + value
