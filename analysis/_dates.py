"""Dates: which strptime format a text date column is written in, and which dates are plausible.

Format detection never guesses. Candidate formats are tried on a sample of the
column's distinct values (every k-th row, so that the whole file is sampled and
the choice does not depend on thread scheduling). A format that reads every
sampled value is taken when it is the only one, or when every other such format
reads each value to the same instant. When two formats both read every value
but disagree (``03/04/2011`` as 3 April or 4 March), the full column is checked
too; if it still reads both ways the run stops and asks for
``[columns] date_format``, showing both readings of one value.

Plausible dates are those inside the *date fence*: ``k * max(IQR, 365 days)``
beyond the first and third quartiles of the file's parsed dates (``k`` is
``[cleaning] date_fence``, 3 by default; 0 turns it off), or inside ``[cleaning] min_date`` /
``max_date`` where those are set (each replaces the fence on its side).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from analysis._rules import quote_literal
from analysis.errors import DataError, EmptyDataError

__all__ = ["DATE_FORMATS", "detect_date_format", "date_bounds", "quartile_ranks", "value_at_rank"]

DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
)
SAMPLE_ROWS = 50_000
PROBE_VALUES = 256
_DAY_US = 86_400 * 1_000_000


def _fails(con: duckdb.DuckDBPyConnection, values_sql: str, formats: tuple[str, ...]) -> list[int]:
    """Failures of each format over ``values_sql`` (column v), in one scan."""
    counts = ", ".join(f"count(*) FILTER (WHERE try_strptime(v, {quote_literal(f)}) IS NULL)" for f in formats)
    return [int(n) for n in con.execute(f"SELECT {counts} FROM ({values_sql})").fetchone()]


def _probe_sql(values_sql: str) -> str:
    """:data:`PROBE_VALUES` of the values, the same ones on every run and engine (by hash, then text)."""
    return f"SELECT v FROM ({values_sql}) ORDER BY hash(v), v LIMIT {PROBE_VALUES}"


def _fewest_fails(con: duckdb.DuckDBPyConnection, values_sql: str, formats: tuple[str, ...]) -> tuple[int, dict]:
    """(distinct values, failures of every format that may have the fewest), without trying every format on all.

    A value that does not parse costs DuckDB's ``try_strptime`` ten times one that does, so trying
    18 formats on 25,000 values took a third of a second, nearly all of it the formats that fit no
    value. Each format is first tried on :data:`PROBE_VALUES` of the values (a fixed pseudo-random
    choice): a format fails at least as often on all of them as on those. The formats that failed
    least on the probe are tried on all values; their fewest failures bound the rest, and only a
    format that failed no more often than that on the probe is tried on all as well. Any format
    left out fails more often than the best, so the formats with the fewest failures, and their
    count, are the same as when every format is tried on every value.
    """
    n = int(con.execute(f"SELECT count(*) FROM ({values_sql})").fetchone()[0])
    on_probe = dict(zip(formats, _fails(con, _probe_sql(values_sql), formats), strict=True))
    least = min(on_probe.values())
    first = tuple(f for f in formats if on_probe[f] == least)
    fails = dict(zip(first, _fails(con, values_sql, first), strict=True))
    rest = tuple(f for f in formats if f not in fails and on_probe[f] <= min(fails.values()))
    if rest:
        fails |= dict(zip(rest, _fails(con, values_sql, rest), strict=True))
    return n, fails


def _disagreement(con: duckdb.DuckDBPyConnection, values_sql: str, a: str, b: str) -> str | None:
    """The first value (in sort order) that formats ``a`` and ``b`` read to different instants, if any."""
    row = con.execute(
        f"SELECT v FROM ({values_sql}) WHERE try_strptime(v, {quote_literal(a)}) "
        f"IS DISTINCT FROM try_strptime(v, {quote_literal(b)}) ORDER BY v LIMIT 1"
    ).fetchone()
    return None if row is None else row[0]


def _reading(value: str, fmt: str) -> str:
    parsed = duckdb.execute("SELECT try_strptime(?, ?)", [value, fmt]).fetchone()[0]
    return f"{parsed.day} {parsed:%b %Y}"


def _best(con, values_sql: str, formats: tuple[str, ...]) -> tuple[int, list[str]]:
    """Return (distinct values, the formats with the fewest failures), skipping formats that read like one before."""
    n, fails = _fewest_fails(con, values_sql, formats)
    fewest = min(fails.values())
    tied = [f for f in formats if fails.get(f) == fewest]
    if fewest == n:
        return n, []
    distinct: list[str] = []
    for fmt in tied:
        # Two formats that read every value to the same instant are one reading, not an ambiguity.
        if all(_disagreement(con, values_sql, kept, fmt) is not None for kept in distinct):
            distinct.append(fmt)
    return n, distinct


class _Values:
    """Distinct text values of the date column, fetched from the engine into a local DuckDB table.

    The candidate formats are tried by DuckDB's strptime whichever engine holds
    the data, so the choice of format is the same on both; only the sampled
    distinct values (and, when the sample reads two ways, all distinct values)
    cross into Python.
    """

    def __init__(self, fetch, text_sql: str) -> None:
        self._fetch, self._text, self._con = fetch, text_sql, duckdb.connect(":memory:")

    def table(self, name: str, step: int) -> str:
        """Query of the distinct values of every ``step``-th row (every row for 1), as table ``name``."""
        if name not in {r[0] for r in self._con.execute("SHOW TABLES").fetchall()}:
            where = f"_row % {step} = 0 AND " if step > 1 else ""
            rows = self._fetch(f"SELECT DISTINCT {self._text} AS v FROM raw WHERE {where}{self._text} IS NOT NULL")
            values = pa.table({"v": pa.array([r[0] for r in rows], pa.string())})
            self._con.register("_fetched", values)
            self._con.execute(f"CREATE TABLE {name} AS SELECT v FROM _fetched")
            self._con.unregister("_fetched")
        return f"SELECT v FROM {name}"

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self._con


def detect_date_format(fetch, text_sql: str, rows: int, *, path: object, column: str) -> str:
    """Choose the strptime format of a text date column, or stop when the choice would be a guess.

    Parameters
    ----------
    fetch
        Runs a query on the engine holding view ``raw`` and returns its rows
        (:meth:`analysis.engines.Engine.rows`).
    text_sql
        SQL expression of the column's trimmed text (NULL when blank).
    rows
        Rows in ``raw`` (sets the sampling step).
    path, column
        For error messages.

    Raises
    ------
    EmptyDataError
        Every value of the column is blank.
    DataError
        No format reads any value, or two formats read every value differently.
    """
    values = _Values(fetch, text_sql)
    con = values.con
    step = max(1, rows // SAMPLE_ROWS)
    sample = values.table("every" if step == 1 else "sampled", step)
    n, best = _best(con, sample, DATE_FORMATS)
    if n == 0 and step > 1:
        sample, step = values.table("every", 1), 1
        n, best = _best(con, sample, DATE_FORMATS)
    if n == 0:
        raise EmptyDataError("every value of the date column is empty.", path=path, column=column)
    if len(best) > 1 and step > 1:
        # The sample reads both ways; the whole column may not (a 13th day later in the file).
        n, best = _best(con, values.table("every", 1), tuple(best))
    if not best:
        example = con.execute(f"SELECT min(v) FROM ({sample})").fetchone()[0]
        raise DataError(
            f"no date format fits the date column (tried {len(DATE_FORMATS)} formats, set [columns] date_format).",
            path=path,
            column=column,
            value=example,
        )
    if len(best) > 1:
        a, b = best[0], best[1]
        value = _disagreement(con, values.table("every", 1), a, b)
        raise DataError(
            f"the dates read two ways: {value!r} reads as {_reading(value, a)} ({a}) or {_reading(value, b)} ({b}); "
            "set [columns] date_format.",
            path=path,
            column=column,
        )
    return best[0]


def quartile_ranks(n: int) -> tuple[int, int]:
    """0-based ranks of the first and third quartiles of ``n`` sorted values, as DuckDB's ``quantile_disc``.

    ``quantile_disc(x, q)`` is the value at rank ``ceil(q * n) - 1``; in integers, so that the
    rank is the same for any ``n`` and on any engine.
    """
    return (n + 3) // 4 - 1, (3 * n + 3) // 4 - 1


def value_at_rank(counts: list[tuple[int, int]], rank: int) -> tuple[int, int]:
    """``(key, rank within it)`` of the 0-based ``rank``-th value of a histogram of ``(key, count)`` sorted by key."""
    seen = 0
    for key, count in counts:
        if rank < seen + count:
            return key, rank - seen
        seen += count
    raise ValueError(f"rank {rank} is beyond the {seen} values of the histogram")


def date_bounds(
    quartiles: tuple[int, int] | None,
    *,
    fence: float,
    min_date: dt.date | None,
    max_date: dt.date | None,
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the (lowest, highest) plausible timestamp, ``None`` for an open side.

    ``quartiles`` are the first and third quartiles (``quantile_disc``, in
    microseconds since 1970) of every parsed date of the file, ``None`` when it
    has none. The fence is ``fence * max(IQR, 365 days)`` beyond them; a
    configured ``min_date`` / ``max_date`` (the whole day) replaces it on its side.
    """
    low = None if min_date is None else dt.datetime.combine(min_date, dt.time())
    high = None if max_date is None else dt.datetime.combine(max_date, dt.time.max)
    if fence > 0 and (low is None or high is None) and quartiles is not None:
        q1, q3 = quartiles
        reach = fence * max(q3 - q1, 365 * _DAY_US)
        low = low or _from_epoch_us(q1 - reach)
        high = high or _from_epoch_us(q3 + reach)
    return low, high


def _from_epoch_us(us: float) -> dt.datetime | None:
    """The instant ``us`` microseconds after 1970, or ``None`` (an open side) beyond datetime's years 1-9999."""
    try:
        return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(us))
    except OverflowError:
        return None
