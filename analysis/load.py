"""Load a transaction log (CSV, CSV.gz, Parquet or an Excel workbook) into DuckDB and map its columns to roles.

A CSV is read as text; Parquet and Excel keep their column types (a timestamp
stays a timestamp, a number a number). Parsing, and counting what does not
parse, happens in one place (:mod:`analysis.clean`) whatever the format. A
Parquet file is not copied: table ``raw`` is a view over it. A CSV or a
workbook is read once into DuckDB. DuckDB's memory is capped
(``[engine] memory_limit``) and it spills to a temp directory that this module
creates and removes.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analysis._csv import load_csv
from analysis._excel import EXCEL_SUFFIXES, load_workbook
from analysis._rules import quote_ident, quote_literal
from analysis._shapes import KNOWN_CURRENCIES, KNOWN_SHAPES, map_roles
from analysis.bundle import SheetRows, Source
from analysis.config import ColumnsConfig, EngineConfig
from analysis.errors import DataError, EmptyDataError

__all__ = ["LoadedData", "KNOWN_SHAPES", "KNOWN_CURRENCIES", "load_transactions"]


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
    """A file loaded into DuckDB as view ``raw`` plus its role mapping.

    ``raw`` has the source columns renamed to their roles (``customer``,
    ``timestamp``, ...), ``_src_N`` for each source column mapped to no role
    (together: every column of the file, for exact-duplicate detection), and
    ``_row``: the 1-based data row in the file, counted across sheets in a
    workbook (for error messages). Columns keep the file's types: VARCHAR for a
    CSV, the stored types for Parquet and Excel (``types`` gives them).
    """

    con: duckdb.DuckDBPyConnection = field(repr=False)
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

    def where(self, row: int) -> str:
        """Name data row ``row`` for a message: ``data row 12``, or the sheet and its row in a workbook."""
        for sheet in self.source.sheets or ():
            if row <= sheet.rows:
                return f"sheet {sheet.name!r}, data row {row:,}"
            row -= sheet.rows
        return f"data row {row:,}"


def _connect(engine: EngineConfig) -> tuple[duckdb.DuckDBPyConnection, Path, Callable[[], None]]:
    """An in-memory DuckDB with a memory ceiling and a private spill directory; and how to dispose of both."""
    parent = engine.temp_directory
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="segmentation-", dir=parent))
    con = duckdb.connect(":memory:")
    for setting, value in (
        ("memory_limit", engine.memory_limit),
        ("temp_directory", str(workdir / "spill")),
        ("preserve_insertion_order", "true"),
        ("enable_progress_bar", "false"),
        # TIMESTAMP WITH TIME ZONE columns are read as UTC, whatever the machine's zone.
        ("TimeZone", "UTC"),
    ):
        con.execute(f"SET {setting} = {quote_literal(value)}")

    # The directory goes with the connection: whoever holds ``con`` (a LoadedData,
    # or only its connection) keeps it, and it is removed once nobody does.
    removal = weakref.finalize(con, shutil.rmtree, workdir, ignore_errors=True)

    def dispose() -> None:
        con.close()
        removal()

    return con, workdir, dispose


def _load_file(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, columns: ColumnsConfig, workdir: Path
) -> tuple[str | None, list[SheetRows] | None]:
    """Create ``_file`` (``_row`` + the file's columns); return (text encoding, sheets)."""
    if fmt == "parquet":
        try:
            con.execute(
                "CREATE VIEW _file AS SELECT file_row_number + 1 AS _row, * EXCLUDE (file_row_number) "
                f"FROM read_parquet({quote_literal(str(path))}, file_row_number = true)"
            )
        except duckdb.Error as exc:
            reason = " ".join(str(exc).splitlines()[0].split())
            raise DataError(f"cannot be read as parquet: {reason}", path=path) from None
        return None, None
    if fmt == "xlsx":
        sheets = load_workbook(con, path, check_columns=lambda cols, sheet: map_roles(cols, columns, path, sheet))
        return None, sheets
    return load_csv(con, path, encoding=columns.encoding, workdir=workdir).encoding, None


def _create_raw(con: duckdb.DuckDBPyConnection, found: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """View ``raw`` over ``_file`` with role names; return {raw column: DuckDB type}."""
    role_cols = ", ".join(f"{quote_ident(col)} AS {quote_ident(role)}" for role, col in mapping.items())
    # Columns mapped to no role are kept too (as _src_N), so that exact duplicates
    # are judged on every column of the file; mapped ones are not listed twice.
    mapped = set(mapping.values())
    extra = "".join(f", {quote_ident(c)} AS _src_{i}" for i, c in enumerate(found) if c not in mapped)
    con.execute(f"CREATE VIEW raw AS SELECT _row, {role_cols}{extra} FROM _file")
    return {name: dtype for name, dtype, *_ in con.execute("DESCRIBE raw").fetchall()}


def load_transactions(path: Path, *, columns: ColumnsConfig, engine: EngineConfig | None = None) -> LoadedData:
    """Load ``path`` into an in-memory DuckDB as view ``raw`` with role-named columns.

    Parameters
    ----------
    path
        A ``.csv`` (``.csv.gz``, ``.tsv``, ``.txt``), ``.parquet`` or ``.xlsx``
        file with a header row; every sheet of a workbook is stacked.
    columns
        Optional explicit role mapping, date format and text encoding; empty
        for the recognised layouts.
    engine
        DuckDB's memory limit and spill directory (default: 3GB, a fresh temp dir).

    Returns
    -------
    LoadedData
        ``raw`` columns: ``_row`` (1-based data row), one column per mapped
        role, and ``_src_N`` for each source column mapped to no role. The
        temp directory is removed when the connection is garbage-collected.

    Raises
    ------
    DataError
        Missing or unreadable file, unsupported type, undecodable text.
    EmptyDataError
        The file has no data rows.
    SchemaMappingError
        Roles that cannot be mapped (every missing role listed, with the columns found).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("input file not found.", path=path)
    fmt = _file_format(path)
    if path.stat().st_size == 0:
        raise EmptyDataError("the file is empty (no header, no rows).", path=path)
    con, workdir, dispose = _connect(engine or EngineConfig())
    try:
        encoding, sheets = _load_file(con, path, fmt, columns, workdir)
        found = [row[0] for row in con.execute("DESCRIBE _file").fetchall()][1:]
        shape, level, mapping = map_roles(found, columns, path)
        types = _create_raw(con, found, mapping)
        rows_in = con.execute("SELECT count(*) FROM raw").fetchone()[0]
        if rows_in == 0:
            raise EmptyDataError(f"the file has a header ({', '.join(found)}) but no data rows.", path=path)
    except BaseException:
        dispose()
        raise
    source = Source(
        name=path.name, sha256=_sha256(path), format=fmt, shape=shape, level=level, encoding=encoding, sheets=sheets
    )
    loaded = LoadedData(
        con=con,
        path=path,
        source=source,
        roles=mapping,
        rows_in=int(rows_in),
        columns_found=tuple(found),
        date_format=columns.date_format,
        types=types,
    )
    return loaded
