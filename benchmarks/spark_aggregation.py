"""Time the per-customer aggregation in DuckDB and in Spark (local mode) on the same cleaned rows.

Usage::

    uv sync --extra spark
    uv run --extra spark python benchmarks/spark_aggregation.py [--data PATH] [--cores 2] [--repeat 3]

The file is loaded and cleaned once by DuckDB and exported to Parquet
(:func:`analysis.engines.spark.export_clean`). Then, best of ``--repeat`` runs
each (after one untimed warm-up run), it prints the wall time of the whole
``customers.sql`` + ``orders.sql`` + pandas step (recency, tenure, schema checks):

* DuckDB on its in-memory ``clean`` table (what ``python -m analysis run`` does);
* DuckDB on the exported Parquet (the same input Spark gets);
* Spark ``local[cores]`` on the exported Parquet, plus the session start-up and
  the first (cold) run separately.

It also prints whether the Spark tables equal the DuckDB ones. Figures only: no
assertion, nothing written outside a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

# pandera imports pyspark.pandas when pyspark is installed, which warns about pandas 3 (see analysis.engines.spark).
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

from analysis.clean import clean_transactions  # noqa: E402
from analysis.config import CleaningConfig, ColumnsConfig, CustomersConfig  # noqa: E402
from analysis.customers import CustomerTable, customer_table, read_sql, table_from_frames  # noqa: E402
from analysis.engines.spark import export_clean, local_spark_session, spark_customer_table  # noqa: E402
from analysis.load import load_transactions  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail_II.csv.gz"


def _best(run: Callable[[], CustomerTable], repeat: int) -> tuple[float, CustomerTable]:
    run()  # warm-up: caches, JIT, imports
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def _duckdb_on_parquet(parquet: Path, config: CustomersConfig) -> CustomerTable:
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE VIEW clean AS SELECT * FROM read_parquet('{parquet}')")
    frame = con.execute(read_sql("customers")).fetch_df()
    orders = con.execute(read_sql("orders")).fetch_df()
    con.close()
    return table_from_frames(frame, orders, config=config)


def _max_rel_diff(a: pd.DataFrame, b: pd.DataFrame) -> float:
    worst = 0.0
    for col in a.columns:
        if pd.api.types.is_float_dtype(a[col]):
            x, y = a[col].to_numpy(), b[col].to_numpy()
            both = ~(np.isnan(x) | np.isnan(y))
            scale = np.maximum(np.abs(y[both]), np.finfo(float).tiny)
            worst = max(worst, float(np.max(np.abs(x[both] - y[both]) / scale, initial=0.0)))
    return worst


def _same(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return "no (shape differs)"
    exact = all(a[c].equals(b[c]) for c in a.columns)
    return "yes, bit for bit" if exact else f"max relative difference {_max_rel_diff(a, b):.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = CustomersConfig()

    start = time.perf_counter()
    cleaned = clean_transactions(load_transactions(args.data, columns=ColumnsConfig()), config=CleaningConfig())
    print(f"{args.data.name}: {cleaned.rows_in:,} rows in, {cleaned.rows_kept:,} kept")
    print(f"  DuckDB load + clean                     {time.perf_counter() - start:7.2f} s")

    with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
        start = time.perf_counter()
        parquet = export_clean(cleaned, Path(tmp) / "clean.parquet")
        print(
            f"  export_clean -> Parquet                 {time.perf_counter() - start:7.2f} s"
            f"  ({parquet.stat().st_size / 1e6:.1f} MB)"
        )

        duck_s, duck = _best(lambda: customer_table(cleaned, config=config), args.repeat)
        print(f"aggregation, best of {args.repeat} after a warm-up:")
        print(
            f"  DuckDB, in-memory table                 {duck_s:7.2f} s"
            f"  ({len(duck.customers):,} customers, {len(duck.orders):,} orders)"
        )
        pq_s, _ = _best(lambda: _duckdb_on_parquet(parquet, config), args.repeat)
        print(f"  DuckDB, on the Parquet                  {pq_s:7.2f} s")

        start = time.perf_counter()
        spark = local_spark_session(cores=args.cores, driver_memory=args.driver_memory)
        boot = time.perf_counter() - start
        try:
            start = time.perf_counter()
            spark_customer_table(parquet, spark=spark, config=config)
            cold = time.perf_counter() - start
            spark_s, got = _best(lambda: spark_customer_table(parquet, spark=spark, config=config), args.repeat)
        finally:
            spark.stop()
        print(f"  Spark local[{args.cores}], on the Parquet          {spark_s:7.2f} s")
        print(f"  (Spark session start {boot:.2f} s; first, cold run {cold:.2f} s)")
    print(f"Spark customers equal DuckDB's: {_same(got.customers, duck.customers)}")
    print(f"Spark orders equal DuckDB's:    {_same(got.orders, duck.orders)}")


if __name__ == "__main__":
    main()
