"""The Spark engine: the same SQL on Spark gives the DuckDB path's customer and order tables.

The reference is :func:`analysis.customers.customer_table` (DuckDB) on the same
cleaned rows; its own hand-computed values are checked in tests/test_customers.py.
Spark tests are skipped when pyspark (the optional extra ``spark``) is absent.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.clean import clean_transactions
from analysis.config import CleaningConfig, ColumnsConfig, CustomersConfig
from analysis.customers import CustomerTable, customer_table
from analysis.engines.spark import export_clean, local_spark_session, spark_customer_table
from analysis.errors import ConfigError, DataError, SchemaMappingError
from analysis.load import load_transactions
from tests._data import DATA, SAMPLE

INPUTS = {
    "tiny_retail": (DATA / "tiny_retail.csv", CleaningConfig(max_unparseable_share=0.2)),
    "online_retail_II_sample": (SAMPLE, CleaningConfig()),
}
# A CDNOW-like log: amounts only, no product column.
AMOUNTS_ONLY = "customer_id,date,number_of_cds,dollar_value\n1,19970101,1,10.5\n1,19970301,2,20\n2,19970105,1,7.25\n"


@pytest.fixture(scope="session")
def spark():
    """One local[2] session for the whole test run."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (optional extra: uv sync --extra spark)")
    session = local_spark_session(cores=2, driver_memory="1g", app_name="segmentation-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module", params=list(INPUTS), ids=list(INPUTS))
def cleaned_parquet(request, tmp_path_factory) -> tuple[CustomerTable, Path]:
    """(the DuckDB table, the cleaned rows exported to Parquet) for one input file."""
    path, cleaning = INPUTS[request.param]
    cleaned = clean_transactions(load_transactions(path, columns=ColumnsConfig()), config=cleaning)
    want = customer_table(cleaned, config=CustomersConfig())
    return want, export_clean(cleaned, tmp_path_factory.mktemp(request.param) / "clean.parquet")


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Exact for ints, strings and timestamps; floats to a relative 1e-12."""
    floats = [c for c in want.columns if pd.api.types.is_float_dtype(want[c])]
    others = [c for c in want.columns if c not in floats]
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got[others], want[others], check_exact=True)
    pd.testing.assert_frame_equal(got[floats], want[floats], check_exact=False, rtol=1e-12, atol=0)


@pytest.mark.spark
def test_spark_tables_equal_duckdb(spark, cleaned_parquet):
    want, parquet = cleaned_parquet
    got = spark_customer_table(parquet, spark=spark, config=CustomersConfig())
    _assert_same(got.customers, want.customers)
    _assert_same(got.orders, want.orders)
    assert (got.snapshot_date, got.first_date, got.last_date) == (
        want.snapshot_date,
        want.first_date,
        want.last_date,
    )
    assert "clean" not in {t.name for t in spark.catalog.listTables()}  # the temp view is dropped after use


@pytest.mark.spark
def test_dataframe_input_and_configured_snapshot(spark, tmp_path):
    path, cleaning = INPUTS["tiny_retail"]
    cleaned = clean_transactions(load_transactions(path, columns=ColumnsConfig()), config=cleaning)
    config = CustomersConfig(snapshot_date=dt.date(2011, 4, 11))
    want = customer_table(cleaned, config=config)
    frame = spark.read.parquet(str(export_clean(cleaned, tmp_path / "clean.parquet")))
    got = spark_customer_table(frame, spark=spark, config=config)
    _assert_same(got.customers, want.customers)
    # tests/test_customers.py: customer 111 last bought on 31 Mar 2011.
    assert got.customers.set_index("customer_id").loc["111", "recency"] == 11.0


@pytest.mark.spark
def test_rows_without_product_give_nan_columns(spark, tmp_path):
    path = tmp_path / "amounts.csv"
    path.write_text(AMOUNTS_ONLY)
    cleaned = clean_transactions(load_transactions(path, columns=ColumnsConfig()), config=CleaningConfig())
    want = customer_table(cleaned, config=CustomersConfig())
    got = spark_customer_table(export_clean(cleaned, tmp_path / "clean.parquet"), spark=spark, config=CustomersConfig())
    _assert_same(got.customers, want.customers)
    _assert_same(got.orders, want.orders)
    assert got.customers["distinct_products"].isna().all()


@pytest.mark.spark
def test_missing_and_mistyped_columns_are_all_listed(spark, tmp_path):
    path = tmp_path / "bad.parquet"
    duckdb.sql(
        "SELECT '1' AS customer_id, '2011-01-01' AS ts, 1.0 AS quantity, 1.0 AS unit_price, "
        "1.0 AS amount, 'x' AS product"
    ).write_parquet(str(path))
    with pytest.raises(SchemaMappingError) as err:
        spark_customer_table(path, spark=spark, config=CustomersConfig())
    message = str(err.value)
    assert "order_id (missing)" in message and "country (missing)" in message
    assert "ts (string, expected timestamp)" in message


@pytest.mark.spark
def test_missing_input_path(spark, tmp_path):
    with pytest.raises(DataError, match="not found"):
        spark_customer_table(tmp_path / "nowhere.parquet", spark=spark, config=CustomersConfig())


@pytest.mark.parametrize("name", ["tiny_retail", "no_product"])
def test_export_writes_the_clean_rows_with_fixed_types(tmp_path, name):
    if name == "tiny_retail":
        path, cleaning = INPUTS["tiny_retail"]
    else:
        path, cleaning = tmp_path / "amounts.csv", CleaningConfig()
        path.write_text(AMOUNTS_ONLY)
    cleaned = clean_transactions(load_transactions(path, columns=ColumnsConfig()), config=cleaning)
    out = export_clean(cleaned, tmp_path / "sub" / "clean.parquet")
    exported = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()
    assert [(r[0], r[1]) for r in exported] == [
        ("customer_id", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("quantity", "DOUBLE"),
        ("unit_price", "DOUBLE"),
        ("amount", "DECIMAL(38,6)"),
        ("product", "VARCHAR"),
        ("country", "VARCHAR"),
    ]
    rows = duckdb.sql(f"SELECT * FROM read_parquet('{out}')").fetchall()
    assert rows == cleaned.loaded.con.execute("SELECT * FROM clean").fetchall()


def test_export_refuses_customer_level_input(tmp_path):
    path = tmp_path / "customer_data.csv"
    path.write_text("CustomerID,PurchaseAmount,PurchaseFrequency,Recency,AvgUnitCost\n1,100.0,4,10,2.5\n")
    cleaned = clean_transactions(load_transactions(path, columns=ColumnsConfig()), config=CleaningConfig())
    with pytest.raises(DataError, match="only transaction-level data"):
        export_clean(cleaned, tmp_path / "clean.parquet")


@pytest.mark.parametrize("cores", [0, -1, 1.5, True], ids=["zero", "negative", "float", "bool"])
def test_session_refuses_bad_cores(cores):
    with pytest.raises(ConfigError, match=r"'cores' parameter must be an int >= 1\. Got"):
        local_spark_session(cores=cores)


def test_without_pyspark_the_error_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # makes `import pyspark.sql` fail
    with pytest.raises(ImportError, match="uv sync --extra spark"):
        spark_customer_table(tmp_path / "clean.parquet", spark=None, config=CustomersConfig())
