"""Run the per-customer aggregation on Apache Spark: the scale-out path.

The aggregation is the very SQL text the DuckDB path runs
(``analysis/sql/customers.sql`` and ``orders.sql``, read with
:func:`analysis.customers.read_sql`), executed by ``spark.sql`` over a temp view
``clean``; the small results then go through the same pandas step as the DuckDB
path (:func:`analysis.customers.table_from_frames`: recency, tenure, schema
checks). The flow is::

    DuckDB: load + clean  ->  export_clean(cleaned, "clean.parquet")
    Spark:  spark_customer_table("clean.parquet", spark=spark, config=...)

What runs on Spark today, and what does not
-------------------------------------------
* **On Spark**: the two aggregations (one row per customer, one row per
  order): the part whose cost grows with the number of transaction lines.
  Their output is small (customers and orders, not lines) and is collected to
  the driver as pandas.
* **Not on Spark: the cleaning rules.** :mod:`analysis.clean` is DuckDB SQL
  (``try_strptime``, ``isfinite``, ``starts_with``, ``FILTER``, ``arg_min``) built
  around DuckDB's in-memory table ``raw``; it has not been ported. A cluster
  user has two honest options: (1) run ``load_transactions`` +
  ``clean_transactions`` + :func:`export_clean` on one large machine (DuckDB
  streams a CSV of tens of millions of lines on one node) and hand the
  Parquet to Spark; or (2) produce the same ``clean`` columns in their own Spark
  job, applying the rules listed in ``analysis.clean.REASONS`` in that order
  (unparseable, duplicate, missing customer, missing value, cancellation,
  non-product code, non-positive quantity, non-positive price) with
  ``analysis.config.CleaningConfig``'s code lists; the row accounting
  (``dropped`` counts) is then theirs to reproduce. Nothing here checks that
  such a job follows the rules.
* **Not on Spark: everything after the customer table** (features,
  clustering, CLV, experiments, bundle): it works on one row per customer and
  stays in-process.

The input must have the columns of DuckDB's ``clean`` table: customer_id and
order_id (string), ts (timestamp; written by DuckDB it reads back as
``timestamp_ntz``, so no time zone shift), quantity and unit_price (numeric or
all-null), amount (an exact ``decimal(38, 6)`` keeps the sums independent of
partitioning, as in DuckDB; a double works but its sums may vary in the last
bits), product and country (string or all-null).

Two differences from the DuckDB path, handled here:

* Spark SQL divides a ``decimal`` by an integer as a ``decimal`` rounded to 6
  places, where DuckDB returns a double. ``avg_order_value`` is therefore
  recomputed from the exact ``monetary`` and ``frequency`` (exactly what DuckDB
  computes: double(sum) / count) whenever Spark returned it as a decimal.
* The file carries no role mapping, so a quantity or product column with no
  value at all is taken as absent (``avg_unit_cost``, ``total_quantity`` or
  ``distinct_products`` become NaN, as the DuckDB path does for a source
  without that column).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.clean import CleanedData
from analysis.config import CustomersConfig
from analysis.customers import CustomerTable, read_sql, table_from_frames
from analysis.errors import ConfigError, DataError, SchemaMappingError

if TYPE_CHECKING:  # pyspark is an optional dependency (extra "spark")
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["export_clean", "local_spark_session", "spark_customer_table"]

VIEW = "clean"

# column -> (allowed Spark type names, description for the error message)
_NUMERIC = ("double", "float", "decimal", "bigint", "int", "smallint", "tinyint", "void")
_EXPECTED: dict[str, tuple[tuple[str, ...], str]] = {
    "customer_id": (("string",), "string"),
    "order_id": (("string",), "string"),
    "ts": (("timestamp", "timestamp_ntz"), "timestamp"),
    "quantity": (_NUMERIC, "numeric"),
    "unit_price": (_NUMERIC, "numeric"),
    "amount": (_NUMERIC, "numeric (decimal(38,6) for exact sums)"),
    "product": (("string", "void"), "string"),
    "country": (("string", "void"), "string"),
}

# The types export_clean writes (DuckDB names), in the order of the `clean` table.
_PARQUET_TYPES = {
    "customer_id": "VARCHAR",
    "order_id": "VARCHAR",
    "ts": "TIMESTAMP",
    "quantity": "DOUBLE",
    "unit_price": "DOUBLE",
    "amount": "DECIMAL(38, 6)",
    "product": "VARCHAR",
    "country": "VARCHAR",
}

# Spark's startup chatter (hostname, native-hadoop, default profile) goes to
# stderr on every run; only errors are worth a line.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
# Spark's own loggers at the root's level, so PySpark does not announce a "default log level"
logger.spark.name = org.apache.spark
logger.spark.level = error
"""

_PANDAS3_WARNING = "PySpark does not yet fully support pandas"
_COPY_KEYWORD_WARNING = "The copy keyword is deprecated"  # pandas 3, from PySpark's Arrow conversion


@contextmanager
def _quiet() -> Iterator[None]:
    # PySpark 4 warns about pandas >= 3 on import and on toPandas; the
    # conversions used here (strings, longs, doubles, decimals, timestamps) are
    # checked against DuckDB in tests/test_engines_spark.py.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS3_WARNING, category=FutureWarning)
        warnings.filterwarnings("ignore", message=_COPY_KEYWORD_WARNING)
        yield


def _import_pyspark():
    # A missing optional dependency is an ImportError, as in pandas and scikit-learn.
    try:
        with _quiet():
            import pyspark.sql
    except ImportError:
        raise ImportError(
            "the Spark engine needs the pyspark package (and Java 17+); install the extra: "
            "`uv sync --extra spark` (or `pip install 'segmentation[spark]'`)."
        ) from None
    return pyspark.sql


def _log4j2_file() -> Path:
    path = Path(tempfile.gettempdir()) / "segmentation-spark" / "log4j2.properties"
    if not path.is_file() or path.read_text(encoding="utf-8") != _LOG4J2:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_LOG4J2, encoding="utf-8")
    return path


def local_spark_session(*, cores: int = 2, driver_memory: str = "2g", app_name: str = "segmentation") -> SparkSession:
    """Start (or return the running) local Spark session, quiet and offline.

    Parameters
    ----------
    cores
        Worker threads: ``local[cores]``; also twice this many shuffle partitions.
    driver_memory
        JVM heap, e.g. ``"2g"``. Only honoured when no session is running yet.
    app_name
        Spark application name.

    Returns
    -------
    SparkSession
        UI off, bound to 127.0.0.1, session time zone UTC, Arrow transfers on,
        log level ERROR. Stop it with ``session.stop()``.

    Raises
    ------
    ConfigError
        ``cores`` is not a positive int.
    ImportError
        pyspark is not installed (optional extra ``spark``).
    """
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise ConfigError(f"The 'cores' parameter must be an int >= 1. Got {cores!r} instead.")
    sql = _import_pyspark()
    warehouse = Path(tempfile.gettempdir()) / "segmentation-spark" / "warehouse"
    builder = (
        sql.SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(2 * cores))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_log4j2_file()}")
    )
    with _quiet():
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def export_clean(cleaned: CleanedData, path: Path | str) -> Path:
    """Write DuckDB's ``clean`` table to one Parquet file, for Spark to read.

    Parameters
    ----------
    cleaned
        Cleaned transactions (table ``clean`` on ``cleaned.loaded.con``).
    path
        The Parquet file to write (replaced if it exists).

    Returns
    -------
    Path
        ``path``. Columns as ``clean``, with fixed types: customer_id,
        order_id (VARCHAR), ts (TIMESTAMP, no time zone), quantity, unit_price
        (DOUBLE), amount (DECIMAL(38,6)), product, country (VARCHAR); a role
        the source lacks is an all-null column. Rows in file order;
        zstd-compressed.

    Raises
    ------
    DataError
        Customer-level input (there are no transactions to aggregate).
    """
    if cleaned.loaded.level != "transactions":
        raise DataError(
            "only transaction-level data can be exported for the Spark engine; "
            f"this file is {cleaned.loaded.level}-level.",
            path=cleaned.loaded.path,
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    quoted = str(path).replace("'", "''")
    # Explicit types: a role the source lacks is a bare NULL in `clean` (typed INTEGER by DuckDB).
    columns = ", ".join(f'CAST("{col}" AS {kind}) AS "{col}"' for col, kind in _PARQUET_TYPES.items())
    cleaned.loaded.con.execute(f"COPY (SELECT {columns} FROM clean) TO '{quoted}' (FORMAT parquet, COMPRESSION zstd)")
    return path


def _check_columns(frame: DataFrame, where: object) -> None:
    types = {f.name: f.dataType.typeName() for f in frame.schema.fields}
    problems = []
    for col, (allowed, described) in _EXPECTED.items():
        if col not in types:
            problems.append(f"{col} (missing)")
        elif types[col] not in allowed:
            problems.append(f"{col} ({types[col]}, expected {described})")
    if problems:
        raise SchemaMappingError(
            f"the cleaned rows lack the columns of the `clean` table: {', '.join(problems)}; "
            f"columns found: {sorted(types)}.",
            path=where,
        )


def spark_customer_table(
    clean: Path | str | DataFrame,
    *,
    spark: SparkSession,
    config: CustomersConfig,
) -> CustomerTable:
    """Build the per-customer table with Spark SQL, from cleaned rows.

    Parameters
    ----------
    clean
        A Parquet file or directory of cleaned rows (as written by
        :func:`export_clean`), or a Spark DataFrame with the same columns.
    spark
        The session to run on (a local one from :func:`local_spark_session`,
        or a cluster's). Its temp view ``clean`` is replaced for the duration
        of the call and dropped afterwards.
    config
        Optional fixed snapshot date.

    Returns
    -------
    CustomerTable
        Equal to :func:`analysis.customers.customer_table` on the same rows:
        ``customers`` (customer_id, recency, frequency, monetary, avg_unit_cost,
        avg_order_value, tenure, distinct_products, total_quantity,
        first_purchase, last_purchase, country; sorted by customer_id) and
        ``orders`` (customer_id, order_id, timestamp, amount).

    Raises
    ------
    SchemaMappingError
        Missing or mistyped columns (every one listed).
    DataError
        Input path not found, no rows, or a snapshot date on or before the last purchase.
    ImportError
        pyspark is not installed (optional extra ``spark``).
    """
    sql = _import_pyspark()
    if isinstance(clean, sql.DataFrame):
        frame, where = clean, None
    else:
        where = Path(clean)
        if not where.exists():
            raise DataError("cleaned Parquet input not found.", path=where)
        frame = spark.read.parquet(str(where))
    _check_columns(frame, where)
    frame.createOrReplaceTempView(VIEW)
    try:
        customers_df = spark.sql(read_sql("customers"))
        aov_is_decimal = customers_df.schema["avg_order_value"].dataType.typeName() == "decimal"
        with _quiet():
            customers = customers_df.toPandas()
            orders = spark.sql(read_sql("orders")).toPandas()
    finally:
        spark.catalog.dropTempView(VIEW)
    if customers.empty:
        raise DataError("the cleaned rows hold no customers.", path=where)
    for col in ("monetary", "avg_order_value"):
        customers[col] = customers[col].astype("float64")
    orders["amount"] = orders["amount"].astype("float64")
    if aov_is_decimal:
        # DuckDB: DECIMAL / BIGINT -> DOUBLE, i.e. double(sum) / count, not a rounded decimal.
        customers["avg_order_value"] = customers["monetary"] / customers["frequency"]
    return table_from_frames(
        customers,
        orders,
        config=config,
        has_quantity=bool(customers["total_quantity"].notna().any()),
        has_product=bool((customers["distinct_products"] > 0).any()),
    )
