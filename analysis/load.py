"""Load a transaction log (CSV, CSV.gz, Parquet or an Excel workbook) into an engine and map its columns to roles.

The engine is DuckDB (in-process, the default) or Spark (``[engine] name``,
see :mod:`analysis.engines`); either way the file becomes view ``raw`` with
the same columns, and everything after it is the same SQL. A CSV is read as
text; Parquet and Excel keep their column types (a timestamp stays a
timestamp, a number a number). Parsing, and counting what does not parse,
happens in one place (:mod:`analysis.clean`) whatever the format. A Parquet
file is not copied: ``raw`` is a view over it, and each query reads only the
columns it needs. On DuckDB a CSV or a workbook is read once into a table;
DuckDB's memory is capped (``[engine] memory_limit``) and it spills to a temp
directory that the engine creates and removes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from analysis._rules import quote_literal
from analysis._shapes import KNOWN_CURRENCIES, KNOWN_SHAPES, map_roles
from analysis.bundle import Source
from analysis.config import ColumnsConfig, EngineConfig
from analysis.engines import DuckDBEngine, Engine, open_engine
from analysis.errors import DataError, EmptyDataError

__all__ = ["LoadedData", "KNOWN_SHAPES", "KNOWN_CURRENCIES", "load_transactions"]

EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def _file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    if name.endswith(EXCEL_SUFFIXES):
        return "xlsx"
    if name.endswith(".csv.gz") or name.endswith(".tsv.gz") or name.endswith(".txt.gz"):
        return "csv.gz"
    if name.endswith(".csv") or name.endswith(".tsv") or name.endswith(".txt"):
        return "csv"
    raise DataError(
        "unsupported file type; allowed: .csv, .csv.gz, .tsv, .txt, .parquet, .xlsx.",
        path=path,
        value=path.suffix or path.name,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedData:
    """A file loaded into an engine as view ``raw`` plus its role mapping.

    ``raw`` has the source columns renamed to their roles (``customer``,
    ``timestamp``, ...), ``_src_N`` for each source column mapped to no role
    (together: every column of the file, for exact-duplicate detection), and
    ``_row``: the 1-based data row in the file, counted across sheets in a
    workbook (for error messages). Columns keep the file's types: VARCHAR for a
    CSV, the stored types for Parquet and Excel (``types`` gives them, in
    DuckDB's type names whatever the engine).
    """

    engine: Engine = field(repr=False)
    path: Path
    source: Source
    roles: dict[str, str]
    rows_in: int
    columns_found: tuple[str, ...]
    date_format: str | None
    types: dict[str, str] = field(default_factory=dict)

    @property
    def level(self) -> str:
        return self.source.level

    @property
    def con(self):
        """The DuckDB connection (DuckDB engine only; tests and the DuckDB-only readers use it)."""
        if not isinstance(self.engine, DuckDBEngine):
            raise AttributeError(f"the {self.engine.name} engine has no DuckDB connection")
        return self.engine.con

    def where(self, row: int) -> str:
        """Name data row ``row`` for a message: ``data row 12``, or the sheet and its row in a workbook."""
        for sheet in self.source.sheets or ():
            if row <= sheet.rows:
                return f"sheet {sheet.name!r}, data row {row:,}"
            row -= sheet.rows
        return f"data row {row:,}"


def _load_duckdb(engine: DuckDBEngine, path: Path, fmt: str, columns: ColumnsConfig):
    """Create ``_file`` (``_row`` + the file's columns) on DuckDB; return (text encoding, sheets)."""
    con = engine.con
    if fmt == "parquet":
        try:
            con.execute(
                "CREATE VIEW _file AS SELECT file_row_number + 1 AS _row, * EXCLUDE (file_row_number) "
                f"FROM read_parquet({quote_literal(str(path))}, file_row_number = true)"
            )
        except Exception as exc:  # duckdb.Error: the first line is DuckDB's reason
            reason = " ".join(str(exc).splitlines()[0].split())
            raise DataError(f"cannot be read as parquet: {reason}", path=path) from None
        return None, None
    if fmt == "xlsx":
        from analysis._excel import load_workbook  # fastexcel, only for a workbook

        sheets = load_workbook(con, path, check_columns=lambda cols, sheet: map_roles(cols, columns, path, sheet))
        return None, sheets
    from analysis._csv import load_csv

    return load_csv(con, path, encoding=columns.encoding, workdir=engine.workdir).encoding, None


def _load_spark(engine, path: Path, fmt: str, columns: ColumnsConfig):
    """Register ``_file`` on Spark (delimiter and encoding found as for DuckDB); return (text encoding, sheets)."""
    codec = delim = None
    if fmt in ("csv", "csv.gz"):
        from analysis import _csv

        head = _csv.read_head(path)
        _csv.check_head(head, path, columns.encoding)
        codec = _csv.text_encoding(head, columns.encoding)
        delim = _csv.delimiter(head, codec)
    engine.load_file(path, fmt, codec=codec, delim=delim)
    return codec, None


def _create_raw(engine: Engine, found: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """View ``raw`` over ``_file`` with role names; return {raw column: type}."""
    q = engine.dialect.ident
    role_cols = ", ".join(f"{q(col)} AS {q(role)}" for role, col in mapping.items())
    # Columns mapped to no role are kept too (as _src_N), so that exact duplicates
    # are judged on every column of the file; mapped ones are not listed twice.
    mapped = set(mapping.values())
    extra = "".join(f", {q(c)} AS _src_{i}" for i, c in enumerate(found) if c not in mapped)
    engine.execute(f"CREATE OR REPLACE TEMP VIEW raw AS SELECT _row, {role_cols}{extra} FROM _file")
    return engine.types("raw")


def _count(engine: Engine, path: Path, fmt: str) -> int:
    if engine.name == "spark":
        return engine.count_rows(path, fmt)  # Spark reads the file only now: its errors surface here
    return int(engine.rows("SELECT count(*) FROM raw")[0][0])


def load_transactions(path: Path, *, columns: ColumnsConfig, engine: EngineConfig | None = None) -> LoadedData:
    """Load ``path`` into the configured engine as view ``raw`` with role-named columns.

    Parameters
    ----------
    path
        A ``.csv`` (``.csv.gz``, ``.tsv``, ``.txt``), ``.parquet`` or ``.xlsx``
        file with a header row; every sheet of a workbook is stacked.
    columns
        Optional explicit role mapping, date format and text encoding; empty
        for the recognised layouts.
    engine
        Which engine (DuckDB by default, or Spark) and its settings: DuckDB's
        memory limit and spill directory, Spark's master URL and settings.

    Returns
    -------
    LoadedData
        ``raw`` columns: ``_row`` (1-based data row), one column per mapped
        role, and ``_src_N`` for each source column mapped to no role. DuckDB's
        temp directory is removed when the connection is garbage-collected.

    Raises
    ------
    DataError
        Missing or unreadable file, unsupported type, undecodable text; an
        Excel workbook on the Spark engine.
    EmptyDataError
        The file has no data rows.
    SchemaMappingError
        Roles that cannot be mapped (every missing role listed, with the columns found).
    ImportError
        The Spark engine without pyspark installed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("input file not found.", path=path)
    fmt = _file_format(path)
    if path.stat().st_size == 0:
        raise EmptyDataError("the file is empty (no header, no rows).", path=path)
    runner = open_engine(engine or EngineConfig())
    try:
        load = _load_duckdb if isinstance(runner, DuckDBEngine) else _load_spark
        encoding, sheets = load(runner, path, fmt, columns)
        found = [name for name in runner.types("_file") if name != "_row"]
        shape, level, mapping = map_roles(found, columns, path)
        types = _create_raw(runner, found, mapping)
        rows_in = _count(runner, path, fmt)
        if rows_in == 0:
            raise EmptyDataError(f"the file has a header ({', '.join(found)}) but no data rows.", path=path)
    except BaseException:
        runner.close()
        raise
    source = Source(
        name=path.name,
        sha256=_sha256(path),
        format=fmt,
        shape=shape,
        level=level,
        encoding=encoding,
        sheets=sheets,
    )
    return LoadedData(
        engine=runner,
        path=path,
        source=source,
        roles=mapping,
        rows_in=rows_in,
        columns_found=tuple(found),
        date_format=columns.date_format,
        types=types,
    )
