"""The Spark engine: the whole log stage (load, clean, customer table) on Spark gives DuckDB's results.

The reference is the DuckDB path on the same file; its own hand-computed values
are checked in tests/test_clean.py and tests/test_customers.py. Tests marked
``spark`` start a local session and are skipped when pyspark (the optional
extra ``spark``) is absent; ``uv run nox -s spark`` runs them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.clean import clean_transactions
from analysis.config import CleaningConfig, ColumnsConfig, CustomersConfig, EngineConfig, load_config
from analysis.customers import customer_table
from analysis.engines.spark import local_spark_session
from analysis.errors import ConfigError, DataError, SchemaMappingError
from analysis.load import load_transactions
from analysis.pipeline import run_pipeline
from tests._data import DATA, SAMPLE, shared_file

SPARK = EngineConfig(name="spark", master="local[2]", spark={"spark.driver.memory": "2g"})
DUCKDB = EngineConfig()
INPUTS = {
    "tiny_retail": (DATA / "tiny_retail.csv", CleaningConfig(max_unparseable_share=0.2)),
    "online_retail_II_sample": (SAMPLE, CleaningConfig()),
}
# A CDNOW-like log: amounts only, no product column.
AMOUNTS_ONLY = "customer_id,date,number_of_cds,dollar_value\n1,19970101,1,10.5\n1,19970301,2,20\n2,19970105,1,7.25\n"


@pytest.fixture(scope="session")
def spark():
    """One local[2] session for the whole test run (the engine's getOrCreate finds it)."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (optional extra: uv sync --extra spark)")
    session = local_spark_session(cores=2, driver_memory="2g", app_name="segmentation-tests")
    yield session
    session.stop()


def _log_stage(path: Path, engine: EngineConfig, cleaning: CleaningConfig) -> dict:
    """Everything the log stage hands on, as plain values and frames."""
    cleaned = clean_transactions(load_transactions(path, columns=ColumnsConfig(), engine=engine), config=cleaning)
    try:
        table = customer_table(cleaned, config=CustomersConfig())
        occasions = None
        if table.occasions is not None:
            occ = table.occasions
            occasions = (list(occ.customer_ids), occ.offsets.tolist(), occ.day.tolist(), occ.amount.tolist(), occ.unit)
        return {
            "accounting": (cleaned.rows_in, cleaned.rows_kept, cleaned.dropped, cleaned.date_format),
            "returns": (cleaned.returns_rows, cleaned.returns_value, cleaned.returns_customers),
            "dates": (table.snapshot_date, table.first_date, table.last_date, table.order_count, table.currency),
            "customers": table.customers,
            "orders": table.orders,
            "occasions": occasions,
        }
    finally:
        cleaned.loaded.engine.close()


def _assert_same_stage(got: dict, want: dict) -> None:
    for key in ("accounting", "returns", "dates", "occasions"):
        assert got[key] == want[key], key
    for key in ("customers", "orders"):
        if want[key] is None:
            assert got[key] is None
        else:
            pd.testing.assert_frame_equal(got[key], want[key], check_exact=True)


@pytest.mark.spark
@pytest.mark.parametrize("name", list(INPUTS))
def test_log_stage_equals_duckdb(spark, name):
    path, cleaning = INPUTS[name]
    _assert_same_stage(_log_stage(path, SPARK, cleaning), _log_stage(path, DUCKDB, cleaning))


@pytest.mark.spark
def test_csv_without_product_column(spark, tmp_path):
    path = tmp_path / "amounts.csv"
    path.write_text(AMOUNTS_ONLY)
    got = _log_stage(path, SPARK, CleaningConfig())
    _assert_same_stage(got, _log_stage(path, DUCKDB, CleaningConfig()))
    assert got["customers"]["distinct_products"].isna().all()


@pytest.mark.spark
@pytest.mark.realdata
def test_online_retail_ii_log_stage_equals_duckdb(spark):
    """The full file as CSV (gzip): Spark's CSV reader, every column text, dates parsed by the rules."""
    path = shared_file("online_retail_II.csv.gz")
    _assert_same_stage(_log_stage(path, SPARK, CleaningConfig()), _log_stage(path, DUCKDB, CleaningConfig()))


def _bundle(path: Path, engine: str, out: Path) -> dict:
    config = load_config(None, engine=SPARK.model_dump() if engine == "spark" else {})
    bundle = json.loads(run_pipeline(path, config=config, out_dir=out).bundle_path.read_text(encoding="utf-8"))
    assert bundle["data"]["engine"] == engine
    # Apart from the engine's name and its settings, recorded with the rest of the configuration.
    bundle["data"].pop("engine")
    bundle["config"].pop("engine")
    return bundle


@pytest.mark.spark
def test_bundle_equals_duckdb_apart_from_engine(spark, tmp_path):
    got = _bundle(SAMPLE, "spark", tmp_path / "spark")
    want = _bundle(SAMPLE, "duckdb", tmp_path / "duckdb")
    assert got == want
    assert (tmp_path / "spark" / "assignments.csv").read_bytes() == (
        tmp_path / "duckdb" / "assignments.csv"
    ).read_bytes()


@pytest.mark.spark
def test_cli_runs_the_log_stage_on_spark(spark, tmp_path):
    from analysis.cli import main

    assert main(["run", str(SAMPLE), "--out", str(tmp_path / "out"), "--engine", "spark", "--progress", "never"]) == 0
    assert json.loads((tmp_path / "out" / "bundle.json").read_text(encoding="utf-8"))["data"]["engine"] == "spark"


@pytest.mark.spark
def test_missing_role_is_listed_as_on_duckdb(spark, tmp_path):
    path = tmp_path / "bad.parquet"
    duckdb.sql("SELECT '1' AS customer_id, 1.0 AS quantity").write_parquet(str(path))
    messages = []
    for engine in (SPARK, DUCKDB):
        with pytest.raises(SchemaMappingError) as err:
            load_transactions(path, columns=ColumnsConfig(), engine=engine)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.spark
def test_excel_is_refused_with_one_line(spark, tmp_path):
    import xlsxwriter

    path = tmp_path / "log.xlsx"
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"])
        sheet.write_row(1, 0, ["1", "A", 1, "2011-01-01 10:00", 1.5, "7", "UK"])
    with pytest.raises(DataError, match="Excel workbooks are read by the DuckDB engine only"):
        load_transactions(path, columns=ColumnsConfig(), engine=SPARK)


@pytest.mark.parametrize("cores", [0, -1, 1.5, True], ids=["zero", "negative", "float", "bool"])
def test_session_refuses_bad_cores(cores):
    with pytest.raises(ConfigError, match=r"'cores' parameter must be an int >= 1\. Got"):
        local_spark_session(cores=cores)


def test_without_pyspark_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # makes `import pyspark.sql` fail
    with pytest.raises(ImportError, match="uv sync --extra spark"):
        load_transactions(SAMPLE, columns=ColumnsConfig(), engine=SPARK)
