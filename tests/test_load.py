"""Loading: format detection, recognised shapes, role mapping errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from analysis.config import ColumnsConfig
from analysis.errors import DataError, EmptyDataError, SchemaMappingError
from analysis.load import load_transactions
from tests._data import DATA, SAMPLE


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("header", "shape", "level"),
    [
        (
            "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country",
            "online_retail_ii",
            "transactions",
        ),
        (
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
            "online_retail",
            "transactions",
        ),
        ("customer_id,date,number_of_cds,dollar_value", "cdnow", "transactions"),
        ("customer_id,sample_id,date,number_of_cds,dollar_value", "cdnow", "transactions"),
        ("CustomerID,PurchaseAmount,PurchaseFrequency,Recency,AvgUnitCost", "customer_data", "customers"),
    ],
    ids=["online-retail-ii", "online-retail", "cdnow-master", "cdnow-sample", "customer-data"],
)
def test_known_shapes_need_no_config(tmp_path, header, shape, level):
    n = len(header.split(","))
    path = _write(tmp_path / "x.csv", header + "\n" + ",".join(["1"] * n) + "\n")
    loaded = load_transactions(path, columns=ColumnsConfig())
    assert (loaded.source.shape, loaded.source.level) == (shape, level)
    assert loaded.rows_in == 1


def test_csv_gz_and_parquet_give_the_same_rows(tmp_path):
    src = DATA / "tiny_retail.csv"
    gz = tmp_path / "tiny.csv.gz"
    with src.open("rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    pq = tmp_path / "tiny.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{src}', all_varchar=true)) TO '{pq}' (FORMAT parquet)")
    frames = []
    for path in (src, gz, pq):
        loaded = load_transactions(path, columns=ColumnsConfig())
        frames.append(loaded.con.execute("SELECT * EXCLUDE (_row) FROM raw ORDER BY _row").fetchall())
        assert loaded.rows_in == 15
    assert frames[0] == frames[1] == frames[2]
    assert load_transactions(gz, columns=ColumnsConfig()).source.format == "csv.gz"


def test_source_checksum_is_of_the_file_bytes(tmp_path):
    import hashlib

    loaded = load_transactions(DATA / "tiny_retail.csv", columns=ColumnsConfig())
    assert loaded.source.sha256 == hashlib.sha256((DATA / "tiny_retail.csv").read_bytes()).hexdigest()
    assert loaded.source.name == "tiny_retail.csv"


def test_custom_columns_through_config(tmp_path):
    path = _write(
        tmp_path / "shop.csv",
        "client,when,total,sku\nx1,2020-01-01,10.5,P\nx2,2020-01-02,3,Q\n",
    )
    cfg = ColumnsConfig(customer="client", timestamp="when", amount="total", product="sku")
    loaded = load_transactions(path, columns=cfg)
    assert loaded.source.shape == "custom"
    assert loaded.roles == {"customer": "client", "timestamp": "when", "amount": "total", "product": "sku"}


def test_unmapped_file_lists_every_missing_role_and_the_columns_found(tmp_path):
    path = _write(tmp_path / "odd.csv", "foo,bar,baz\n1,2,3\n")
    with pytest.raises(SchemaMappingError) as info:
        load_transactions(path, columns=ColumnsConfig())
    text = str(info.value)
    assert "odd.csv" in text
    for role in ("customer", "timestamp", "amount"):
        assert role in text
    assert "['foo', 'bar', 'baz']" in text


def test_config_naming_an_absent_column(tmp_path):
    path = _write(tmp_path / "a.csv", "c,t,v\n1,2020-01-01,3\n")
    with pytest.raises(SchemaMappingError, match=r"customer='client'"):
        load_transactions(path, columns=ColumnsConfig(customer="client", timestamp="t", amount="v"))


def test_empty_and_header_only_files(tmp_path):
    empty = _write(tmp_path / "empty.csv", "")
    with pytest.raises(EmptyDataError, match="empty.csv.*empty"):
        load_transactions(empty, columns=ColumnsConfig())
    header = _write(tmp_path / "header.csv", "customer_id,date,number_of_cds,dollar_value\n")
    with pytest.raises(EmptyDataError, match="no data rows"):
        load_transactions(header, columns=ColumnsConfig())


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_transactions(tmp_path / "nope.csv", columns=ColumnsConfig())
    with pytest.raises(DataError, match="unsupported file type"):
        load_transactions(_write(tmp_path / "x.json", "a"), columns=ColumnsConfig())
    with pytest.raises(DataError, match=r"x.xlsx: cannot be read as an Excel workbook: .*Zip"):
        load_transactions(_write(tmp_path / "x.xlsx", "a"), columns=ColumnsConfig())


def test_bundled_sample_is_recognised():
    loaded = load_transactions(SAMPLE, columns=ColumnsConfig())
    assert loaded.source.shape == "online_retail_ii"
    assert loaded.source.format == "parquet"
    assert loaded.rows_in == 526_151
