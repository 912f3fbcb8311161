"""One micro-batch of events through the batch's own cleaning rules, in an in-memory DuckDB.

The rules are not re-implemented: the events become a view ``raw`` of the
same shape :mod:`analysis.load` gives a text file (role-named columns,
``_src_N`` for the others, every value text) and the very SELECT list of
:mod:`analysis.clean` flags every row under the first rule it breaks, with the
model's cleaning settings and the date bounds the run used. Two things the
batch decided from the whole file come from the model instead: the date
format and the implausible-date bounds.

Exact duplicates are the one rule that needs memory of earlier batches: "an
exact copy of an earlier row" may be in any earlier batch. So the batch rule
runs with duplicates off, and a row that passed the rules before it
(unparseable, out_of_range, implausible_date) is a duplicate when its 128-bit
digest of every source column (:func:`digest_sql`) was seen before, in this batch or in the
state. It is counted under ``duplicate`` at the same place in the order as in
the batch.

:func:`clean_events` is a pure function of (events, spec, seen set); the Spark
job can call it on each micro-batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from analysis._checks import implausible_sql, parse_once, transaction_values
from analysis._rules import quote_ident
from analysis.bundle import Source
from analysis.clean import REASONS, flagged_sql, lines_sql, parsed_select
from analysis.engines import DuckDBEngine
from analysis.load import LoadedData
from analysis.stream._spec import StreamSpec

__all__ = ["CleanBatch", "connect", "clean_events", "digest_sql", "digest_probe"]

# Reasons checked after 'duplicate': a copy of an earlier row is counted as a duplicate before any of these.
_AFTER_DUPLICATE = tuple(list(REASONS)[list(REASONS).index("duplicate") + 1 :])

Seen = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CleanBatch:
    """What one micro-batch contributes, per customer, after cleaning.

    Attributes
    ----------
    dropped
        ``{reason: rows}`` over :data:`analysis.clean.REASONS` (every reason listed).
    kept
        Rows kept.
    lines
        ``(h1, h2)`` uint64 digests of the rows to remember for the duplicate rule.
    invoices
        Digests of the invoices those rows belong to, new in this batch.
    customers
        Arrow table, one row per customer with kept rows: ``customer_id``,
        ``first_us``/``last_us`` (epoch microseconds of the first/last kept
        line), ``spend`` (int64, micro-units of currency: exact), ``quantity``
        (float64), ``lines``.
    orders
        Arrow table of distinct ``(customer_id, h1, h2)``: digests of (customer, order id).
    products
        Same for (customer, product), only when a feature needs distinct products.
    """

    dropped: dict[str, int]
    kept: int
    lines: tuple[np.ndarray, np.ndarray]
    invoices: tuple[np.ndarray, np.ndarray]
    customers: pa.Table
    orders: pa.Table
    products: pa.Table | None


def connect() -> duckdb.DuckDBPyConnection:
    """The in-memory DuckDB a cleaner works in: one thread (the processor's one core), UTC."""
    con = duckdb.connect(":memory:")
    for setting, value in (("threads", "1"), ("TimeZone", "UTC"), ("preserve_insertion_order", "true")):
        con.execute(f"SET {setting} = '{value}'")
    return con


def digest_sql(columns: list[str]) -> str:
    """SQL for two UBIGINT columns ``h1, h2``: a 128-bit digest of the values (null distinct from any text).

    DuckDB's own ``hash`` in two orders (a quarter of the cost of an MD5 of
    the row, per row of every batch). It is deterministic, but not promised
    to stay the same across DuckDB versions, so the state keeps
    :func:`digest_probe` and refuses to go on under a DuckDB that digests
    differently (the duplicate check would miss copies).
    """
    salt = "'segmentation-digest-v1'"
    return f"hash({', '.join(columns)}) AS h1, hash({', '.join([*reversed(columns), salt])}) AS h2"


def digest_probe(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The digest of a fixed row: equal probes mean equal digests for every row."""
    values = "SELECT 'Invoice 1' AS a, NULL::VARCHAR AS b, '1.5' AS c, '' AS d"
    return [int(v) for v in con.execute(f"SELECT {digest_sql(['a', 'b', 'c', 'd'])} FROM ({values})").fetchall()[0]]


def _raw_view(spec: StreamSpec, events: str = "_events") -> tuple[str, dict[str, str]]:
    """The SELECT that turns the events (source column names) into ``raw`` (role names), and its types."""
    mapped = set(spec.roles.values())
    parts = [f"{quote_ident(col)} AS {quote_ident(role)}" for role, col in spec.roles.items()]
    extra = [f"{quote_ident(c)} AS _src_{i}" for i, c in enumerate(spec.columns) if c not in mapped]
    types = {"_row": "BIGINT", **dict.fromkeys(spec.roles, "VARCHAR")}
    types.update({f"_src_{i}": "VARCHAR" for i, c in enumerate(spec.columns) if c not in mapped})
    return f"SELECT _line AS _row, {', '.join(parts + extra)} FROM {quote_ident(events)}", types


class _Connection(DuckDBEngine):
    """The stream's own DuckDB connection seen through the batch's engine (no spill directory of its own)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._removal = lambda: None


def _rules(con: duckdb.DuckDBPyConnection, spec: StreamSpec) -> str:
    """The batch's rules over ``raw`` (duplicates off; they are judged with the state), plus invoice and digests.

    The same layers as :func:`analysis.clean.clean_transactions`: ``_parsed``
    (each value parsed once), the first rule each row breaks (``lines``), with
    the model's date format and date bounds instead of ones sniffed from a batch.
    """
    _, types = _raw_view(spec)
    source = Source(name="events", sha256="0" * 64, format="csv", shape="custom", level="transactions")
    data = LoadedData(
        engine=_Connection(con),
        path=Path(source.name),
        source=source,
        roles=spec.roles,
        rows_in=0,
        columns_found=spec.columns,
        date_format=spec.date_format,
        types=types,
    )
    values = transaction_values(data, spec.date_format or "%Y-%m-%d %H:%M:%S")
    if spec.date_format is None:
        # The training file had typed timestamps; events carry them as ISO 8601 text.
        parsed = {**values.parsed, "timestamp": "TRY_CAST(NULLIF(trim(\"timestamp\"), '') AS TIMESTAMP)"}
        values = dataclasses.replace(values, parsed=parsed)
    parse_once(data, parsed_select(data, values))
    config = spec.cleaning.model_copy(update={"drop_duplicates": False})
    lines = lines_sql(
        data, config, flagged_sql(data, config, values, "", "FALSE"), implausible_sql("ts", spec.low, spec.high)
    )
    columns = [f"r.{quote_ident(c)}" for c in types if c != "_row"]
    return f"SELECT l.*, {digest_sql(columns)} FROM ({lines}) l JOIN raw r ON l._row = r._row"


def _invoices_seen(con: duckdb.DuckDBPyConnection, candidate: str, seen: Seen) -> tuple[str, np.ndarray, np.ndarray]:
    """SQL true for rows whose invoice an earlier batch had, and the digests of this batch's new invoices.

    Exact copies share their invoice, so only rows of an invoice seen before
    can copy a row of an earlier batch: the others need no look-up.
    """
    found = con.execute(
        f"SELECT invoice, {digest_sql(['invoice'])} FROM (SELECT DISTINCT invoice FROM flagged WHERE {candidate})"
    ).fetchnumpy()
    h1, h2 = found["h1"].astype(np.uint64), found["h2"].astype(np.uint64)
    old = seen(h1, h2) if len(h1) else np.zeros(0, dtype=bool)
    if not old.any():
        return "FALSE", h1, h2
    texts = [t for t in np.asarray(found["invoice"], dtype=object)[old].tolist() if t is not None]
    test = "invoice IS NULL" if len(texts) < int(old.sum()) else "FALSE"
    if texts:
        con.register("_old_invoices", pa.table({"invoice": pa.array(texts, pa.string())}))
        test += " OR invoice IN (SELECT invoice FROM _old_invoices)"
    return f"({test})", h1[~old], h2[~old]


def _duplicates(con: duckdb.DuckDBPyConnection, spec: StreamSpec, seen: Seen, seen_invoices: Seen | None):
    """Mark copies of earlier rows (this batch or an earlier one) as duplicates.

    Returns the digests to remember: (rows, invoices).
    """
    later = ", ".join(f"'{r}'" for r in _AFTER_DUPLICATE)
    candidate = f"(reason IS NULL OR reason IN ({later}))"
    recheck, new_invoices = "TRUE", None
    if "invoice" in spec.roles and seen_invoices is not None:
        recheck, *new_invoices = _invoices_seen(con, candidate, seen_invoices)
    groups = con.execute(
        f"SELECT h1, h2, min(_row) AS first, count(*) AS n, bool_or({recheck}) AS recheck "
        f"FROM flagged WHERE {candidate} GROUP BY h1, h2"
    ).fetchnumpy()
    h1, h2 = groups["h1"].astype(np.uint64), groups["h2"].astype(np.uint64)
    old = np.zeros(len(h1), dtype=bool)
    check = np.asarray(groups["recheck"], dtype=bool)
    if check.any():
        old[check] = seen(h1[check], h2[check])
    copies = old | (np.asarray(groups["n"]) > 1)
    if copies.any():
        first = np.asarray(groups["first"])[copies]
        dup = {"h1": h1[copies], "h2": h2[copies], "first": first, "every": old[copies]}
        con.register("_dup_groups", pa.table({k: pa.array(v) for k, v in dup.items()}))
        con.execute(
            f"UPDATE flagged SET reason = 'duplicate' FROM _dup_groups d WHERE {candidate} "
            "AND flagged.h1 = d.h1 AND flagged.h2 = d.h2 AND (d.every OR flagged._row <> d.first)"
        )
    empty = np.zeros(0, np.uint64)
    return (h1[~old], h2[~old]), (tuple(new_invoices) if new_invoices else (empty, empty))


def _aggregates(con: duckdb.DuckDBPyConnection, spec: StreamSpec) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    kept = "(SELECT * FROM flagged WHERE reason IS NULL)"
    customers = con.sql(
        f"""
        SELECT customer_id, min(epoch_us(ts)) AS first_us, max(epoch_us(ts)) AS last_us,
               CAST(sum(amount) * 1000000 AS BIGINT) AS spend, sum(quantity) AS quantity, count(*) AS lines
        FROM {kept} GROUP BY customer_id ORDER BY customer_id
        """
    ).to_arrow_table()
    # Digests of the distinct pairs only (an order has about 20 lines).
    pairs = f"SELECT DISTINCT customer_id, order_id FROM {kept}"
    orders = con.sql(f"SELECT customer_id, {digest_sql(['customer_id', 'order_id'])} FROM ({pairs})").to_arrow_table()
    products = None
    if spec.needs_products:
        pairs = f"SELECT DISTINCT customer_id, product FROM {kept} WHERE product IS NOT NULL"
        products = con.sql(
            f"SELECT customer_id, {digest_sql(['customer_id', 'product'])} FROM ({pairs})"
        ).to_arrow_table()
    return customers, orders, products


def clean_events(
    con: duckdb.DuckDBPyConnection, events: str, *, spec: StreamSpec, seen: Seen, seen_invoices: Seen | None = None
) -> CleanBatch:
    """Clean one micro-batch with the batch rules and sum what it adds per customer.

    Parameters
    ----------
    con
        A connection from :func:`connect` (its temp tables are replaced).
    events
        Name of the relation on ``con`` with ``_line`` plus the training file's
        columns as text (:mod:`analysis.stream._events`).
    spec
        The model's input roles and cleaning settings.
    seen
        ``seen(h1, h2) -> bool array``: which row digests an earlier batch already had
        (not called when the model does not drop duplicates).
    seen_invoices
        The same for invoice digests; only rows of an invoice seen before are looked up
        with ``seen`` (None: look up every row).

    Returns
    -------
    CleanBatch
    """
    view, _ = _raw_view(spec, events)
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS {view}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE flagged AS {_rules(con, spec)}")
    empty = np.zeros(0, dtype=np.uint64)
    lines, invoices = _duplicates(con, spec, seen, seen_invoices) if spec.dedup else ((empty, empty), (empty, empty))
    counts = dict(con.execute("SELECT reason, count(*) FROM flagged GROUP BY reason").fetchall())
    customers, orders, products = _aggregates(con, spec)
    return CleanBatch(
        dropped={r: int(counts.get(r, 0)) for r in REASONS},
        kept=int(counts.get(None, 0)),
        lines=lines,
        invoices=invoices,
        customers=customers,
        orders=orders,
        products=products,
    )
