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
digest (MD5 of every source column) was seen before, in this batch or in the
state. It is counted under ``duplicate`` at the same place in the order as in
the batch.

:func:`clean_events` is a pure function of (events, spec, seen set); the Spark
job can call it on each micro-batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from analysis._checks import Values, transaction_values
from analysis._rules import quote_ident
from analysis.bundle import Source
from analysis.clean import REASONS
from analysis.clean import _transaction_rules as transaction_rules  # the batch's rule list; see the module doc
from analysis.load import LoadedData
from analysis.stream._spec import StreamSpec

__all__ = ["CleanBatch", "connect", "clean_events", "digest_sql"]

# Reasons checked after 'duplicate': a copy of an earlier row is counted as a duplicate before any of these.
_AFTER_DUPLICATE = tuple(list(REASONS)[list(REASONS).index("duplicate") + 1 :])
# As analysis.clean: an order is the invoice, or one customer's purchases at one timestamp.
_ORDER_ID = "coalesce(invoice, customer_id || '@' || strftime(ts, '%Y-%m-%dT%H:%M:%S'))"

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
    """SQL for two UBIGINT columns ``h1, h2``: the MD5 of the values as a JSON list (null distinct from 'null')."""
    key = f"md5_number(to_json([{', '.join(columns)}]))"
    return f"CAST({key} >> 64 AS UBIGINT) AS h1, CAST({key} & 18446744073709551615 AS UBIGINT) AS h2"


def _raw_view(spec: StreamSpec) -> tuple[str, dict[str, str]]:
    """The SELECT that turns the events (source column names) into ``raw`` (role names), and its types."""
    mapped = set(spec.roles.values())
    parts = [f"{quote_ident(col)} AS {quote_ident(role)}" for role, col in spec.roles.items()]
    extra = [f"{quote_ident(c)} AS _src_{i}" for i, c in enumerate(spec.columns) if c not in mapped]
    types = {"_row": "BIGINT", **dict.fromkeys(spec.roles, "VARCHAR")}
    types.update({f"_src_{i}": "VARCHAR" for i, c in enumerate(spec.columns) if c not in mapped})
    return f"SELECT _line AS _row, {', '.join(parts + extra)} FROM _events", types


def _implausible(ts: str, spec: StreamSpec) -> str:
    # The same comparisons analysis._checks.date_check writes, with the bounds the run computed.
    tests = []
    if spec.low is not None:
        tests.append(f"{ts} < TIMESTAMP '{spec.low.isoformat(sep=' ')}'")
    if spec.high is not None:
        tests.append(f"{ts} > TIMESTAMP '{spec.high.isoformat(sep=' ')}'")
    return f"({' OR '.join(tests)})" if tests else "FALSE"


def _rules(con: duckdb.DuckDBPyConnection, spec: StreamSpec) -> str:
    """The batch's SELECT list over ``raw`` (duplicates off; they are judged with the state) plus the digests."""
    _, types = _raw_view(spec)
    source = Source(name="events", sha256="0" * 64, format="csv", shape="custom", level="transactions")
    data = LoadedData(
        con=con,
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
        values = Values(parsed, values.present, values.numbers)
    config = spec.cleaning.model_copy(update={"drop_duplicates": False})
    select = transaction_rules(data, config, values, _implausible(values.parsed["timestamp"], spec))
    columns = [quote_ident(c) for c in types if c != "_row"]
    return f"{select}, {digest_sql(columns)}"


def _duplicates(con: duckdb.DuckDBPyConnection, seen: Seen) -> tuple[np.ndarray, np.ndarray]:
    """Mark copies of earlier rows (this batch or ``seen``) as duplicates; return the digests to remember."""
    later = ", ".join(f"'{r}'" for r in _AFTER_DUPLICATE)
    cand = con.execute(
        f"SELECT _row, h1, h2 FROM flagged WHERE reason IS NULL OR reason IN ({later}) ORDER BY _row"
    ).fetchnumpy()
    rows, h1, h2 = (np.asarray(cand[c]) for c in ("_row", "h1", "h2"))
    h1, h2 = h1.astype(np.uint64), h2.astype(np.uint64)
    order = np.lexsort((rows, h2, h1))
    first = np.ones(len(rows), dtype=bool)
    same = (h1[order][1:] == h1[order][:-1]) & (h2[order][1:] == h2[order][:-1])
    first[order[1:][same]] = False
    dup = ~first
    if len(rows):
        dup |= seen(h1, h2)
    if dup.any():
        con.register("_dups", pa.table({"_row": pa.array(rows[dup])}))
        con.execute("UPDATE flagged SET reason = 'duplicate' WHERE _row IN (SELECT _row FROM _dups)")
        con.unregister("_dups")
    keep = ~dup
    return h1[keep], h2[keep]


def _aggregates(con: duckdb.DuckDBPyConnection, spec: StreamSpec) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _kept AS SELECT customer_id, {_ORDER_ID} AS order_id, ts, quantity, amount, "
        "product FROM flagged WHERE reason IS NULL"
    )
    customers = con.sql(
        """
        SELECT customer_id, min(epoch_us(ts)) AS first_us, max(epoch_us(ts)) AS last_us,
               CAST(sum(amount) * 1000000 AS BIGINT) AS spend, sum(quantity) AS quantity, count(*) AS lines
        FROM _kept GROUP BY customer_id ORDER BY customer_id
        """
    ).to_arrow_table()
    orders = con.sql(
        f"SELECT DISTINCT customer_id, {digest_sql(['customer_id', 'order_id'])} FROM _kept"
    ).to_arrow_table()
    products = None
    if spec.needs_products:
        digests = digest_sql(["customer_id", "product"])
        products = con.sql(
            f"SELECT DISTINCT customer_id, {digests} FROM _kept WHERE product IS NOT NULL"
        ).to_arrow_table()
    return customers, orders, products


def clean_events(con: duckdb.DuckDBPyConnection, events: pa.Table, *, spec: StreamSpec, seen: Seen) -> CleanBatch:
    """Clean one micro-batch with the batch rules and sum what it adds per customer.

    Parameters
    ----------
    con
        A connection from :func:`connect` (its temp tables are replaced).
    events
        ``_line`` plus the training file's columns as text (:mod:`analysis.stream._events`).
    spec
        The model's input roles and cleaning settings.
    seen
        ``seen(h1, h2) -> bool array``: which row digests an earlier batch already kept
        (ignored when the model does not drop duplicates).

    Returns
    -------
    CleanBatch
    """
    con.register("_events", events)
    view, _ = _raw_view(spec)
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS {view}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE flagged AS SELECT {_rules(con, spec)} FROM raw")
    con.unregister("_events")
    empty = np.zeros(0, dtype=np.uint64)
    lines = _duplicates(con, seen) if spec.dedup else (empty, empty)
    counts = dict(
        con.execute("SELECT reason, count(*) FROM flagged WHERE reason IS NOT NULL GROUP BY reason").fetchall()
    )
    kept = con.execute("SELECT count(*) FROM flagged WHERE reason IS NULL").fetchone()[0]
    customers, orders, products = _aggregates(con, spec)
    return CleanBatch(
        dropped={r: int(counts.get(r, 0)) for r in REASONS},
        kept=int(kept),
        lines=lines,
        customers=customers,
        orders=orders,
        products=products,
    )
