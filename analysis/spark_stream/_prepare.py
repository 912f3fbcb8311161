"""Stage one of the Spark job (``mapInArrow``, no state): event lines -> routed rows, counts and clock rows.

Each Arrow batch of event lines (the ``value`` column of any Spark source) is
parsed by the local core's :func:`analysis.stream.parse_jsonl` and passed
through :func:`analysis.stream.clean_events` with no memory of earlier
batches, only to learn three things per event (from the rows it flags):

- ``customer``: the cleaned customer ID (``13085.0`` is ``13085``), which
  decides the state bucket the event goes to;
- ``route``: for an event without a customer, a bucket from its digest over
  every column, so that exact copies meet in the same bucket (a copy counts
  as ``duplicate`` before ``missing_customer``, as in the batch);
- the event's time, if it is kept (a copy of an event of an earlier batch
  has that event's time, so counting it changes nothing). Only the
  batch's maximum of those goes out, on one ``clock`` row, which drives
  Spark's event-time watermark (the stream's as-of clock). Event rows carry no
  time, so Spark never drops an event as late: a purchase older than the
  watermark is applied like any other.

Events keep their values as text, in columns ``c0, c1, ...`` (the training
file's columns in order); the stateful stage cleans them again, with the
duplicate rule, through :func:`analysis.stream.clean_events`. Unreadable lines
leave as ``count`` rows (reason and number) and clock ticks
(``{"tick": "2012-01-31"}``) as ``clock`` rows whose time makes that date the as-of.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from analysis._rules import quote_ident
from analysis.spark_stream._context import DAY_MS, JobSpec, context
from analysis.stream._clean import clean_events
from analysis.stream._events import parse_jsonl
from analysis.stream._spec import StreamSpec

__all__ = ["prepared_schema", "prepare", "prepare_batch", "value_columns"]

_EPOCH = dt.date(1970, 1, 1)
_TIMESTAMP = pa.timestamp("us", tz="UTC")


def _nothing_seen(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    return np.zeros(len(h1), dtype=bool)


def value_columns(spec: StreamSpec) -> list[str]:
    """Names of the text columns carrying the training file's columns, in order."""
    return [f"c{i}" for i in range(len(spec.columns))]


def prepared_schema(spec: StreamSpec) -> pa.Schema:
    """kind ('event', 'count' or 'clock'), customer, route, wm, reason, rows, then the value columns."""
    fields = [
        ("kind", pa.string()),
        ("customer", pa.string()),
        ("route", pa.int64()),
        ("wm", _TIMESTAMP),
        ("reason", pa.string()),
        ("rows", pa.int64()),
    ]
    return pa.schema(fields + [(c, pa.string()) for c in value_columns(spec)])


def _lines(values: pa.Array) -> bytes:
    # One event per line: a line break inside a value (pretty-printed JSON from Kafka) is JSON whitespace.
    texts = (("" if v is None else v).replace("\r", " ").replace("\n", " ") for v in values.to_pylist())
    return "".join(t + "\n" for t in texts).encode("utf-8")


def _extra_rows(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    columns = {f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in schema if f.name != "wm"}
    # Epoch microseconds, cast without a detour through floats (exact to the microsecond).
    columns["wm"] = pa.array([r.get("wm") for r in rows], type=pa.int64()).cast(_TIMESTAMP)
    return pa.table({f.name: columns[f.name] for f in schema}, schema=schema)


def prepare_batch(job: JobSpec, values: pa.Array) -> pa.Table:
    """One Arrow batch of event lines -> the stage's rows (see the module doc)."""
    ctx = context(job)
    spec, con = ctx.spec, ctx.con("prepare")
    schema = prepared_schema(spec)
    # A stream job never stops for its input: events of another shape are counted as missing_field.
    events = parse_jsonl(con, _lines(values), first_line=1, spec=spec, check_shape=False)
    # The core's own cleaning, with no memory of earlier batches: only its row flags are used here
    # (its working table ``flagged``: _row, customer_id, ts, reason, h1, ...); the bucket cleans again with memory.
    clean_events(con, events.relation, spec=spec, seen=_nothing_seen)
    con.execute("CREATE OR REPLACE TEMP TABLE _routed AS SELECT _row, customer_id, reason, ts, h1 FROM flagged")
    picked = ", ".join(f"e.{quote_ident(c)} AS {v}" for c, v in zip(spec.columns, value_columns(spec), strict=True))
    routed = con.sql(
        f"SELECT 'event' AS kind, r.customer_id AS customer, CAST(r.h1 % {job.buckets} AS BIGINT) AS route, "
        f"NULL::TIMESTAMPTZ AS wm, NULL::VARCHAR AS reason, NULL::BIGINT AS rows, {picked} "
        f"FROM {events.relation} e JOIN _routed r ON e._line = r._row ORDER BY e._line"
    ).to_arrow_table()
    extra = [{"kind": "count", "reason": r, "rows": n} for r, n in events.malformed.items() if n]
    newest = con.execute("SELECT max(epoch_us(ts)) FROM _routed WHERE reason IS NULL").fetchall()[0][0]
    # A tick's date is the as-of: the clock stands at the start of the day before it.
    clocks = [newest] if newest is not None else []
    clocks += [((t - _EPOCH).days - 1) * DAY_MS * 1000 for t in events.ticks]
    if clocks:
        extra.append({"kind": "clock", "wm": int(max(clocks))})
    return pa.concat_tables([routed.cast(schema), _extra_rows(schema, extra)])


def prepare(job: JobSpec) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function of stage one, for ``job``."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield from prepare_batch(job, batch.column(0)).to_batches()

    return run
