"""What the log stage needs from an engine: run SQL, fetch small results, describe a relation.

:class:`Engine` is the interface :mod:`analysis.load`, :mod:`analysis.clean`
and :mod:`analysis.customers` are written against; :class:`DuckDBEngine`
(in-process, the default) and :class:`analysis.engines.spark.SparkEngine`
implement it. Results cross into Python as rows (a handful of aggregates) or
Arrow tables (one row per customer or per purchase day), never one row per
transaction line. Column types are reported in DuckDB's names
(``VARCHAR``, ``DOUBLE``, ``BIGINT``, ``TIMESTAMP``, ...) whatever the engine,
so the rules in :mod:`analysis._rules` read one vocabulary.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from analysis.engines._dialect import DUCKDB, Dialect

if TYPE_CHECKING:
    import pyarrow as pa

    from analysis.config import EngineConfig

__all__ = ["Engine", "DuckDBEngine"]


class Engine:
    """The interface of an engine (see the module docstring); subclasses implement every method."""

    name: str
    dialect: Dialect

    def execute(self, sql: str) -> None:
        """Run a statement (``CREATE VIEW``, a materialisation, ...)."""
        raise NotImplementedError

    def run(self, statements: list[str]) -> None:
        """Run several statements in order."""
        for sql in statements:
            self.execute(sql)

    def rows(self, sql: str) -> list[tuple]:
        """The result of a query as a list of tuples (for small results)."""
        raise NotImplementedError

    def arrow(self, sql: str) -> pa.Table:
        """The result of a query as an Arrow table (for results of one row per customer or per day)."""
        raise NotImplementedError

    def types(self, relation: str) -> dict[str, str]:
        """``{column: type}`` of a table or view, in DuckDB's type names."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the engine holds for this run."""


class DuckDBEngine(Engine):
    """An in-memory DuckDB with a memory ceiling and a private spill directory.

    Attributes
    ----------
    con
        The connection (tests and the DuckDB-only readers use it directly).
    workdir
        A private directory (spill files, transcoded copies of a CSV); removed
        with the connection, or by :meth:`close`.
    """

    name = "duckdb"
    dialect = DUCKDB

    def __init__(self, config: EngineConfig) -> None:
        parent = config.temp_directory
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="segmentation-", dir=parent))
        self.con = duckdb.connect(":memory:")
        for setting, value in (
            ("memory_limit", config.memory_limit),
            ("temp_directory", str(self.workdir / "spill")),
            # File order matters only while a CSV is numbered (analysis._csv, which turns it on);
            # every other query orders what it returns, and without it DuckDB streams with less memory.
            ("preserve_insertion_order", "false"),
            ("enable_progress_bar", "false"),
            # TIMESTAMP WITH TIME ZONE columns are read as UTC, whatever the machine's zone.
            ("TimeZone", "UTC"),
        ):
            self.con.execute(f"SET {setting} = {DUCKDB.literal(value)}")
        # The directory goes with the connection: whoever holds ``con`` keeps it, and it is removed
        # once nobody does.
        self._removal = weakref.finalize(self.con, shutil.rmtree, self.workdir, ignore_errors=True)

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def arrow(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def types(self, relation: str) -> dict[str, str]:
        return {name: dtype for name, dtype, *_ in self.con.execute(f"DESCRIBE {relation}").fetchall()}

    def close(self) -> None:
        self.con.close()
        self._removal()
