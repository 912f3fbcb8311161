"""Purchase events -> one text table per micro-batch, in the training file's columns; malformed events counted.

Events come in the shapes of the batch input, each value read as text (as the
batch reads a CSV):

- **JSON lines**: one object per line whose keys are the training file's
  column names (``{"Invoice": "489434", "Customer ID": "13085", ...}``). Numbers
  may be JSON numbers; they are read as their text. ``{"tick": "2011-12-31"}``
  alone on a line is a clock tick, not a purchase.
- **CSV rows** under the batch file's header line (one row per line; values
  with line breaks are not supported). Only empty fields are missing values.

A line that is not a JSON object (or not UTF-8, or a CSV row with the wrong
number of fields) is counted as ``malformed``; an object lacking a column the
model maps to a role is counted as ``missing_field``. Neither stops the
processor; everything else goes through the batch's own cleaning rules. A
header (CSV) without a column the model's roles need means the model does
not fit the events: that is refused in one line.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from analysis._rules import quote_ident, quote_literal
from analysis.stream._errors import StreamError
from analysis.stream._spec import StreamSpec

__all__ = ["EVENT_REASONS", "EventBatch", "empty_batch", "parse_jsonl", "parse_csv", "csv_header"]

EVENT_REASONS = {
    "malformed": "a line that is not a JSON object (or not UTF-8 text, or a CSV row with the wrong number of fields)",
    "missing_field": "a JSON event without a field the model's input roles map (e.g. no 'Customer ID' key at all)",
}
_DELIMITERS = (",", ";", "\t", "|")
_TICK = "tick"


@dataclass(frozen=True)
class EventBatch:
    """The parseable purchase events of one micro-batch and what was not parseable.

    Attributes
    ----------
    relation
        Name of the DuckDB table (on the connection the batch was parsed with)
        holding ``_line`` (int64: line number in the source, 1-based) and one
        text column per training-file column (missing ones are null).
    malformed
        ``{reason: count}`` over :data:`EVENT_REASONS` (every reason listed).
    first_bad
        ``(line, reason)`` of the first such event, for the report; None when there is none.
    ticks
        Dates of the clock ticks in the batch.
    """

    relation: str
    malformed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_REASONS, 0))
    first_bad: tuple[int, str] | None = None
    ticks: tuple[dt.date, ...] = ()


def _columns_sql(spec: StreamSpec) -> str:
    return ", ".join(quote_ident(c) for c in spec.columns)


def _register(con: duckdb.DuckDBPyConnection, table: pa.Table, spec: StreamSpec) -> str:
    """Show an Arrow table of events to the connection as view ``_events`` (until the next batch); return the name."""
    con.register("_events_arrow", table)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _events AS SELECT _line, {_columns_sql(spec)} FROM _events_arrow")
    return "_events"


def empty_batch(con: duckdb.DuckDBPyConnection, spec: StreamSpec, ticks: tuple[dt.date, ...] = ()) -> EventBatch:
    """A batch without events (a clock tick given on the command line)."""
    columns = {"_line": pa.array([], pa.int64()), **{c: pa.array([], pa.string()) for c in spec.columns}}
    return EventBatch(_register(con, pa.table(columns), spec), ticks=ticks)


def _line_array(data: bytes) -> tuple[pa.Array, np.ndarray]:
    """Every line of ``data`` as one Arrow string (its newline kept: JSON ignores it), without copying.

    Returns the array and a mask of lines that are not valid UTF-8 (all False
    in the common case; then the zero-copy array is used as it is).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if len(data) and data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    array = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        array.validate(full=True)
        return array, np.zeros(len(ends), dtype=bool)
    except pa.ArrowInvalid:
        pass
    # Rare: some line is not UTF-8. Decode line by line; a bad line becomes empty text, flagged.
    texts, bad = [], np.zeros(len(ends), dtype=bool)
    for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
        try:
            texts.append(data[a:b].decode("utf-8"))
        except UnicodeDecodeError:
            texts.append("")
            bad[i] = True
    return pa.array(texts, type=pa.large_string()), bad


def _path(column: str) -> str:
    return quote_literal("$." + json.dumps(column))


def _parse_sql(spec: StreamSpec) -> str:
    """One pass over ``_lines``: each line's values (a JSON object's fields as text), and what kind of line it is."""
    fields = (*spec.columns, _TICK)
    v = {c: f"v[{i + 1}]" for i, c in enumerate(fields)}
    required = spec.required
    # json_exists only where a needed field came back null: a key that is absent differs from a null value.
    missing = " OR ".join(
        f"CASE WHEN {v[c]} IS NULL THEN NOT json_exists(line, {_path(c)}) ELSE FALSE END" for c in required
    )
    no_purchase = " AND ".join(f"{v[c]} IS NULL" for c in required)
    values = ", ".join(f"{v[c]} AS {quote_ident(c)}" for c in spec.columns)
    paths = ", ".join(_path(c) for c in fields)
    return f"""
        SELECT _line, {values}, {v[_TICK]} AS _tick,
               CASE WHEN v IS NULL THEN (CASE WHEN trim(line, e' \\t\\r\\n') = '' THEN 'blank' ELSE 'malformed' END)
                    WHEN {v[_TICK]} IS NOT NULL AND {no_purchase} THEN 'tick'
                    WHEN {missing} THEN 'missing_field' END AS _kind
        FROM (
            SELECT _line, line,
                   CASE WHEN starts_with(ltrim(line), '{{') THEN try(json_extract_string(line, [{paths}])) END AS v
            FROM _lines
        )"""


def parse_jsonl(
    con: duckdb.DuckDBPyConnection, data: bytes, *, first_line: int, spec: StreamSpec, check_shape: bool = True
) -> EventBatch:
    """Parse a block of JSON lines (complete lines only) with DuckDB's JSON functions.

    Parameters
    ----------
    con
        An in-memory DuckDB connection; the events are left in its table ``_events``.
    data
        The lines, UTF-8.
    first_line
        Line number of the block's first line in its source.
    spec
        Which columns to read and which must be present.
    check_shape
        Refuse the block when none of its events has a field the model maps
        (:class:`StreamError`); when False such events are only counted as
        ``missing_field``. The processor checks the first block of each source.
    """
    array, undecodable = _line_array(data)
    lines = np.arange(first_line, first_line + len(array), dtype=np.int64)
    table = pa.table({"_line": pa.array(lines), "line": array})
    con.register("_lines", table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _decoded AS {_parse_sql(spec)}")
    con.unregister("_lines")
    con.register("_lines_parsed", table)  # kept until the next batch, for the rare second look
    if undecodable.any():
        con.execute(
            "UPDATE _decoded SET _kind = 'malformed' WHERE list_contains(?, _line)", [lines[undecodable].tolist()]
        )
    counts, firsts, ticks = dict.fromkeys(EVENT_REASONS, 0), [], []
    kinds = "SELECT _kind, count(*), min(_line) FROM _decoded WHERE _kind IS NOT NULL GROUP BY _kind"
    for kind, n, line in con.execute(kinds).fetchall():
        if kind in EVENT_REASONS:
            counts[kind] += int(n)
            firsts.append((int(line), kind))
    for line, text in con.execute("SELECT _line, _tick FROM _decoded WHERE _kind = 'tick'").fetchall():
        try:
            ticks.append(dt.date.fromisoformat(text))
        except ValueError:  # a tick whose date does not read
            counts["malformed"] += 1
            firsts.append((int(line), "malformed"))
    if counts["missing_field"] and check_shape:
        _check_shape(con, spec)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _events AS SELECT _line, {_columns_sql(spec)} FROM _decoded WHERE _kind IS NULL"
    )
    return EventBatch("_events", counts, min(firsts) if firsts else None, tuple(ticks))


def _check_shape(con: duckdb.DuckDBPyConnection, spec: StreamSpec) -> None:
    """Refuse a batch none of whose events has a field the model maps: the model does not fit these events.

    One event without a field is a malformed event (counted); every event
    without it means the events come in another shape than the training file.
    """
    objects, missing = con.execute(
        "SELECT count(*) FILTER (WHERE _kind IS NULL OR _kind = 'missing_field'), "
        "count(*) FILTER (WHERE _kind = 'missing_field') FROM _decoded"
    ).fetchall()[0]
    if missing < objects:
        return
    tests = ", ".join(f"coalesce(bool_or(try(json_exists(line, {_path(c)}))), FALSE)" for c in spec.required)
    row = con.execute(f"SELECT {tests} FROM _lines_parsed WHERE starts_with(ltrim(line), '{{')").fetchall()[0]
    absent = [c for c, present in zip(spec.required, row, strict=True) if not present]
    if absent:
        roles = [r for r, c in spec.roles.items() if c in absent]
        raise StreamError(
            f"the events lack field(s) {absent!r} that the model maps to role(s) {roles!r} (none of the "
            f"{objects:,} events of the batch has them); use the model of a run on data of this shape."
        )


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_header(line: bytes, *, spec: StreamSpec, source: str) -> tuple[list[str], str]:
    """Read a CSV header line; return (its columns, the delimiter).

    Raises
    ------
    StreamError
        The line is not UTF-8, or lacks a column the model's roles need (the model does not fit the events).
    """
    try:
        text = codecs.decode(line, "utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise StreamError(f"{source}: the CSV header line is not UTF-8 text.") from None
    delim = _delimiter(text)
    columns = next(csv.reader([text], delimiter=delim))
    absent = [c for c in spec.required if c not in columns]
    if absent:
        roles = [r for r, c in spec.roles.items() if c in absent]
        raise StreamError(
            f"{source}: the events lack column(s) {absent!r} that the model maps to role(s) {roles!r}; "
            f"their header has {columns!r}. Use the model of a run on data of this shape."
        )
    return columns, delim


def parse_csv(
    con: duckdb.DuckDBPyConnection, data: bytes, *, header: list[str], delimiter: str, first_line: int, spec: StreamSpec
) -> EventBatch:
    """Parse CSV rows (complete lines, no header) under ``header`` with Arrow's CSV reader, every value as text."""
    bad: list[int] = []

    def invalid(row) -> str:
        bad.append(first_line + (row.number - 1 if row.number else 0))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=header, use_threads=False, block_size=max(1 << 20, len(data))),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return _parse_csv_slowly(con, data, header=header, delimiter=delimiter, first_line=first_line, spec=spec)
    n = table.num_rows
    columns = {"_line": pa.array(np.arange(first_line, first_line + n, dtype=np.int64))}
    for c in spec.columns:
        columns[c] = table.column(c) if c in header else pa.nulls(n, pa.string())
    counts = dict.fromkeys(EVENT_REASONS, 0)
    counts["malformed"] = len(bad)
    return EventBatch(_register(con, pa.table(columns), spec), counts, (min(bad), "malformed") if bad else None)


def _parse_csv_slowly(con, data: bytes, *, header, delimiter, first_line, spec) -> EventBatch:
    """Line by line with Python's csv module: the path for a block holding undecodable text."""
    rows, bad = [], []
    for i, raw in enumerate(data.splitlines()):
        try:
            fields = next(csv.reader([raw.decode("utf-8")], delimiter=delimiter), [])
        except (UnicodeDecodeError, csv.Error):
            fields = None
        if fields == []:
            continue
        if fields is None or len(fields) != len(header):
            bad.append(first_line + i)
            continue
        rows.append((first_line + i, dict(zip(header, fields, strict=True))))
    columns = {"_line": pa.array([r[0] for r in rows], type=pa.int64())}
    for c in spec.columns:
        columns[c] = pa.array([(r[1].get(c) or None) for r in rows], type=pa.string())
    counts = dict.fromkeys(EVENT_REASONS, 0)
    counts["malformed"] = len(bad)
    return EventBatch(_register(con, pa.table(columns), spec), counts, (min(bad), "malformed") if bad else None)
