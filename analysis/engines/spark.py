"""The Spark engine: the whole log stage (loading, cleaning with its row accounting, the customer table
and the purchase days) on a Spark session, local or a cluster's.

:class:`SparkEngine` runs the same SQL text as DuckDB (:mod:`analysis.clean`,
:mod:`analysis.customers`, ``analysis/sql/*.sql``) through ``spark.sql``; only
the spellings of :mod:`analysis.engines._dialect` differ. What crosses into
Python is the same as with DuckDB: a few rows of counts, then one row per
customer and one per purchase day (Arrow), never the transaction lines.

Reading files
-------------
* **Parquet**: ``spark.read.parquet``; the row number is Spark's
  ``_metadata.row_index`` (the same 1-based data row DuckDB reports).
* **CSV**: Spark's own reader, every column as text, RFC 4180 quotes, quoted
  line breaks allowed (``multiLine``, so a file is one partition), a
  malformed line stopping the run (``FAILFAST``) with Spark's reason. The
  delimiter and encoding are found as on DuckDB (:mod:`analysis._csv`); the
  DuckDB path's line-exact CSV diagnostics and its handling of bare carriage
  returns are DuckDB's own.
* **Excel** workbooks are refused with a one-line error: they hold at most a
  million rows a sheet, which DuckDB reads in seconds, so the Spark path would
  add nothing but a copy through the driver.

The input is a path every worker can read (a local path in ``local[*]``, a
shared file system on a cluster); its SHA-256 is read by the driver, as on DuckDB.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.config import EngineConfig
from analysis.engines._base import Engine
from analysis.engines._dialect import SPARK
from analysis.errors import ConfigError, DataError

if TYPE_CHECKING:  # pyspark is an optional dependency (extra "spark")
    import pyarrow as pa
    from pyspark.sql import SparkSession

__all__ = ["SparkEngine", "local_spark_session", "spark_session"]

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

# Settings the log stage relies on, applied to every session it runs on (they are runtime settings):
# timestamps without a zone are read as UTC wall time, as on DuckDB, and a date pattern is applied as
# written instead of failing on values the pre-3.0 parser would have read differently.
_RUNTIME = {"spark.sql.session.timeZone": "UTC", "spark.sql.legacy.timeParserPolicy": "CORRECTED"}

# Spark type name -> DuckDB type name (analysis._rules reads DuckDB's names).
_TYPES = {
    "string": "VARCHAR",
    "double": "DOUBLE",
    "float": "FLOAT",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
    "void": "VARCHAR",
    "binary": "BLOB",
}

# Python codec name (analysis._csv) -> Java charset name, for the encodings Spark's CSV reader is given.
_CHARSETS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "iso8859-1": "ISO-8859-1",
    "cp1252": "windows-1252",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
}


@contextmanager
def _quiet() -> Iterator[None]:
    # PySpark 4 warns about pandas >= 3 on import and on toPandas; no pandas conversion is used here.
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


def spark_session(config: EngineConfig, *, app_name: str = "segmentation") -> SparkSession:
    """Start (or return the running) Spark session described by ``[engine]``.

    Parameters
    ----------
    config
        ``master`` (``"local[*]"`` by default, or a cluster URL) and ``spark``:
        any Spark settings (``spark.driver.memory``, ``spark.executor.memory``,
        ...), applied over quiet defaults (UI off, session time zone UTC, Arrow
        transfers, log level ERROR, two shuffle partitions per local core).
    app_name
        Spark application name.

    Raises
    ------
    ImportError
        pyspark is not installed (optional extra ``spark``).
    """
    sql = _import_pyspark()
    warehouse = Path(tempfile.gettempdir()) / "segmentation-spark" / "warehouse"
    defaults = {
        "spark.driver.memory": "2g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{_log4j2_file()}",
        **_RUNTIME,
    }
    if config.master.startswith("local"):
        defaults |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
        cores = config.master.removeprefix("local").removeprefix("[").removesuffix("]")
        # Spark's default of 200 shuffle partitions is for clusters; on one machine each costs a task.
        # 'local' is one thread, 'local[*]' one per core, 'local[N]' N.
        count = 1 if cores == "" else (os.cpu_count() or 1) if cores == "*" else int(cores) if cores.isdigit() else None
        if count is not None:
            defaults["spark.sql.shuffle.partitions"] = str(2 * count)
    builder = sql.SparkSession.builder.master(config.master).appName(app_name)
    for key, value in (defaults | dict(config.spark)).items():
        builder = builder.config(key, value)
    with _quiet():
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def local_spark_session(*, cores: int = 2, driver_memory: str = "2g", app_name: str = "segmentation") -> SparkSession:
    """Start (or return the running) ``local[cores]`` Spark session, quiet and offline.

    Raises
    ------
    ConfigError
        ``cores`` is not a positive int.
    """
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise ConfigError(f"The 'cores' parameter must be an int >= 1. Got {cores!r} instead.")
    config = EngineConfig(name="spark", master=f"local[{cores}]", spark={"spark.driver.memory": driver_memory})
    return spark_session(config, app_name=app_name)


def _spark_type(name: str) -> str:
    if name.startswith("decimal"):
        return name.upper().replace(",", ", ")
    return _TYPES.get(name, name.upper())


def _reason(exc: BaseException) -> str:
    """The first line of a Spark error, without the JVM's class names."""
    text = " ".join(str(exc).strip().splitlines()[:1]) or type(exc).__name__
    return text.split("SQLSTATE")[0].strip().rstrip(".")


class SparkEngine(Engine):
    """The log stage's SQL on a Spark session (see the module docstring)."""

    name = "spark"
    dialect = SPARK

    def __init__(self, config: EngineConfig, session: SparkSession | None = None) -> None:
        self.sql_module = _import_pyspark()
        self.spark = session if session is not None else spark_session(config)
        for key, value in _RUNTIME.items():
            self.spark.conf.set(key, value)
        self._views: list[str] = []

    def execute(self, sql: str) -> None:
        words = sql.split(None, 6)
        # Views and cached tables live in the session, which may be the user's: remember them for close().
        if words[:5] == ["CREATE", "OR", "REPLACE", "TEMP", "VIEW"] or words[:2] == ["CACHE", "TABLE"]:
            self._views.append(words[5] if words[0] == "CREATE" else words[2])
        with _quiet():
            self.spark.sql(sql)

    def rows(self, sql: str) -> list[tuple]:
        with _quiet():
            return [tuple(row) for row in self.spark.sql(sql).collect()]

    def arrow(self, sql: str) -> pa.Table:
        with _quiet():
            return self.spark.sql(sql).toArrow()

    def types(self, relation: str) -> dict[str, str]:
        return {f.name: _spark_type(f.dataType.simpleString()) for f in self.spark.table(relation).schema.fields}

    def register(self, name: str, frame) -> None:
        """Make a DataFrame visible to SQL as temp view ``name`` (dropped by :meth:`close`)."""
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def close(self) -> None:
        for name in dict.fromkeys(reversed(self._views)):
            self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
            self.spark.catalog.dropTempView(name)
        self._views.clear()

    def load_file(self, path: Path, fmt: str, *, codec: str | None, delim: str | None) -> None:
        """Register ``path`` as view ``_file``: ``_row`` (1-based data row) and the file's columns.

        Raises
        ------
        DataError
            An Excel workbook, an encoding Spark's CSV reader is not given here, or a file Spark cannot read.
        """
        F = self.sql_module.functions
        if fmt == "xlsx":
            raise DataError(
                "Excel workbooks are read by the DuckDB engine only; save the sheets as CSV or Parquet for "
                "the Spark engine, or use [engine] name = 'duckdb'.",
                path=path,
            )
        try:
            if fmt == "parquet":
                frame = self.spark.read.parquet(str(path))
                row = F.col("_metadata.row_index") + 1
            else:
                frame = self._read_csv(path, codec, delim)
                # multiLine makes the file one partition, so the id counts the rows in file order from 0.
                row = F.monotonically_increasing_id() + 1
            columns = [F.col(f"`{c}`") for c in frame.columns]
            self.register("_file", frame.select(row.cast("bigint").alias("_row"), *columns))
        except Exception as exc:  # Spark raises its own error types (AnalysisException, Py4JJavaError)
            if isinstance(exc, DataError):
                raise
            raise DataError(f"cannot be read as {fmt} by Spark: {_reason(exc)}.", path=path) from None

    def _read_csv(self, path: Path, codec: str | None, delim: str | None):
        charset = _CHARSETS.get(codec or "utf-8")
        if charset is None:
            raise DataError(
                f"the Spark engine reads CSV as {', '.join(sorted(set(_CHARSETS.values())))}; "
                f"this file's encoding is {codec!r}: convert it to UTF-8 or use the DuckDB engine.",
                path=path,
            )
        reader = self.spark.read.options(
            header=True,
            inferSchema=False,
            sep=delim or ",",
            quote='"',
            escape='"',
            multiLine=True,
            mode="FAILFAST",
            encoding=charset,
        )
        frame = reader.csv(str(path))
        # A UTF-8 byte-order mark stays in the first column's name.
        first = frame.columns[0]
        if first.startswith("\ufeff"):
            frame = frame.withColumnRenamed(first, first.lstrip("\ufeff"))
        return frame

    def count_rows(self, path: Path, fmt: str) -> int:
        """Rows of view ``raw`` (the first query that reads the file: a read failure is a one-line DataError)."""
        try:
            return int(self.rows("SELECT count(*) FROM raw")[0][0])
        except Exception as exc:  # Spark's parse errors surface at the first action
            raise DataError(f"cannot be read as {fmt} by Spark: {_reason(exc)}.", path=path) from None
