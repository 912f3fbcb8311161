"""Checks on the loaded values before rows are flagged: readable, in range, plausibly dated, one currency.

Every value is parsed once, into relation ``_parsed`` (:func:`parse_once`).
One pass over it (:func:`profile`) counts, per calendar day, the rows
whose date parses, and for every checked column the cells present, the cells
that do not parse or are out of range, and the first such row; the per-day
counts are added up here. The same histogram of days gives the ranks of the
date quartiles, and a second, small query reads the exact quartile values
within the (at most two) days that hold them, so the date fence is exactly
DuckDB's ``quantile_disc`` without holding every date in memory, on either
engine. The other functions turn the profile into one-line errors or SQL for
:mod:`analysis.clean`.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass

from analysis import _rules as rules
from analysis._dates import date_bounds, detect_date_format, quartile_ranks, value_at_rank
from analysis.config import CleaningConfig
from analysis.errors import DataError
from analysis.load import LoadedData

__all__ = [
    "Values",
    "Profile",
    "PARSED_ROLES",
    "column",
    "currency_sql",
    "parse_once",
    "profile",
    "check_values",
    "check_currency",
    "date_format",
    "transaction_values",
    "date_check",
    "implausible_sql",
    "warn_implausible",
]

_ISO_CODE = re.compile(r"^[A-Z]{3}$")
_SHOWN_CODES = 5


@dataclass(frozen=True)
class Values:
    """The parsed form of each checked role, when its cell holds something, and its parsed column's name."""

    parsed: dict[str, str]
    present: dict[str, str]
    numbers: tuple[str, ...]
    columns: dict[str, str]

    def layer(self) -> str:
        """The SELECT list of the parsed values and of their ``has_<column>`` flags."""
        values = [f"{expr} AS {self.columns[role]}" for role, expr in self.parsed.items()]
        flags = [f"{self.present[role]} AS has_{self.columns[role]}" for role in self.parsed]
        return ", ".join(values + flags)

    def unparseable(self) -> str:
        """True for a row with a cell that holds something but does not parse (over the parsed columns)."""
        checks = [f"(has_{c} AND {c} IS NULL)" for c in self.columns.values()]
        return " OR ".join(checks) or "FALSE"

    def out_of_range(self, d, limit: float, *extra: str) -> str:
        """True for a row with a number out of range (over the parsed columns, and ``extra`` ones)."""
        checks = [rules.out_of_range(d, self.columns[r], limit) for r in self.numbers]
        checks += [rules.out_of_range(d, e, limit) for e in extra]
        return " OR ".join(checks) or "FALSE"


@dataclass(frozen=True)
class Profile:
    """What :func:`profile` found: per check (role, words) the cells present, bad, and the first bad row."""

    checks: list[tuple[str, str]]
    counts: list[tuple[int, int, int | None]]
    quartiles: tuple[int, int] | None
    currencies: tuple[str, ...]


def column(data: LoadedData, role: str) -> tuple[str, str]:
    return data.engine.dialect.ident(role), data.types[role]


def parse_once(data: LoadedData, select: str) -> None:
    """Relation ``_parsed``: ``SELECT {select} FROM raw``, the layer every later pass reads.

    Text columns (a CSV) are parsed once into a table: a text number is a regular
    expression and a cast, a text date a pattern, and an engine's optimiser may
    repeat an expression wherever a rule reads it (DuckDB did: 3 s instead of
    0.3 s for one rule on Online Retail II). Typed columns (Parquet) are only
    cast, so ``_parsed`` is a view and the file is read where it lies.
    """
    d = data.engine.dialect
    query = f"SELECT {select} FROM raw"
    if any(rules.is_text(t) for name, t in data.types.items() if name in PARSED_ROLES):
        data.engine.run(d.materialize("_parsed", query))
    else:
        data.engine.execute(f"CREATE OR REPLACE TEMP VIEW _parsed AS {query}")


# The roles whose parsing is worth doing once (every other text column is only trimmed).
PARSED_ROLES = frozenset({"timestamp", "quantity", "unit_price", "amount", "customer", "monetary", "frequency"})
PARSED_ROLES |= {"recency", "avg_unit_cost"}


def _tests(values: Values, d, limit: float) -> list[tuple[str, str, str]]:
    """``(role, words, SQL true for a bad cell)`` of every check, in the order errors are looked for."""
    out = []
    for role, col in values.columns.items():
        kind = "date" if role == "timestamp" else "number"
        out.append((role, f"not a valid {kind}", f"(has_{col} AND {col} IS NULL)"))
        if role in values.numbers:
            words = f"out of range (above {limit:g} in size, or infinite)"
            out.append((role, words, rules.out_of_range(d, col, limit)))
    return out


def currency_sql(data: LoadedData) -> str | None:
    """The currency code of a row (upper-case, trimmed), when the file has a currency column."""
    if "currency" not in data.roles:
        return None
    return f"upper({rules.text_value(data.engine.dialect, *column(data, 'currency'))})"


def _day_rows(data: LoadedData, values: Values, tests) -> list[tuple]:
    """One row per calendar day (and one for rows without a date): the counts of :func:`profile`."""
    d = data.engine.dialect
    aggregates = ["count(*)"]
    for role, _, bad in tests:
        has = f"has_{values.columns[role]}"
        aggregates += [f"count(*) FILTER (WHERE {has})", f"count(*) FILTER (WHERE {bad})"]
        aggregates.append(f"min(_row) FILTER (WHERE {bad})")
    if "currency" in data.roles:
        aggregates += ["min(_cur)", "max(_cur)"]
    day = d.epoch_day("ts") if "timestamp" in values.columns else "CAST(NULL AS BIGINT)"
    dated = f"SELECT *, {day} AS _day FROM _parsed"
    return data.engine.rows(f"SELECT _day, {', '.join(aggregates)} FROM ({dated}) dated GROUP BY _day")


def _quartiles(data: LoadedData, days: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The exact first and third quartiles (epoch microseconds) of the parsed dates, from their day histogram."""
    n = sum(count for _, count in days)
    if n == 0:
        return None
    d = data.engine.dialect
    located = [value_at_rank(days, r) for r in quartile_ranks(n)]
    wanted = ", ".join(str(day) for day in sorted({day for day, _ in located}))
    stamps = data.engine.rows(
        f"SELECT _day, _us, count(*) AS n FROM (SELECT {d.epoch_day('ts')} AS _day, {d.epoch_us('ts')} AS _us "
        f"FROM _parsed) stamped WHERE _day IN ({wanted}) GROUP BY _day, _us"
    )
    out = []
    for day, within in located:
        histogram = sorted((int(t), int(c)) for k, t, c in stamps if k == day)
        out.append(value_at_rank(histogram, within)[0])
    return out[0], out[1]


def profile(data: LoadedData, values: Values, limit: float, *, quartiles: bool) -> Profile:
    """One pass over ``_parsed``: the counts :func:`check_values` judges, the date quartiles, the currencies.

    Parameters
    ----------
    quartiles
        Whether the date fence needs the quartiles (a second, small query).
    """
    d = data.engine.dialect
    tests = _tests(values, d, limit)
    by_day = _day_rows(data, values, tests)
    counts = []
    for i in range(len(tests)):
        cells = [row[2 + 3 * i : 5 + 3 * i] for row in by_day]
        firsts = [c[2] for c in cells if c[2] is not None]
        counts.append((sum(int(c[0]) for c in cells), sum(int(c[1]) for c in cells), min(firsts, default=None)))
    days = sorted((int(row[0]), int(row[1])) for row in by_day if row[0] is not None)
    codes: tuple[str, ...] = ()
    if "currency" in data.roles:
        low = [row[-2] for row in by_day if row[-2] is not None]
        high = [row[-1] for row in by_day if row[-1] is not None]
        if low and min(low) == max(high):
            codes = (min(low),)
        elif low:
            found = data.engine.rows("SELECT DISTINCT _cur FROM _parsed WHERE _cur IS NOT NULL")
            codes = tuple(sorted(str(r[0]) for r in found))
    return Profile(
        checks=[(role, words) for role, words, _ in tests],
        counts=counts,
        quartiles=_quartiles(data, days) if quartiles else None,
        currencies=codes,
    )


def check_values(data: LoadedData, found: Profile, limit: float, max_share: float) -> None:
    """Stop with a one-line error when a column is mostly unreadable or out of range, not just a few cells."""
    for (role, words), (present, bad, first_row) in zip(found.checks, found.counts, strict=True):
        if bad and bad / max(present, 1) > max_share:
            col = column(data, role)[0]
            value = data.engine.rows(f"SELECT {col} FROM raw WHERE _row = {int(first_row)}")[0][0]
            raise DataError(
                f"{bad:,} of {present:,} values are {words} "
                f"(more than the allowed {max_share:.1%}; first at {data.where(first_row)}).",
                path=data.path,
                column=data.roles[role],
                value=value,
            )


def check_currency(data: LoadedData, found: Profile) -> str | None:
    """The one ISO 4217 code of the currency column (``None`` without one); several codes stop the run."""
    if "currency" not in data.roles or not found.currencies:
        return None
    codes = found.currencies
    shown = ", ".join(codes[:_SHOWN_CODES]) + (f" and {len(codes) - _SHOWN_CODES} more" if len(codes) > 5 else "")
    if len(codes) > 1:
        raise DataError(
            f"holds amounts in {len(codes)} currencies ({shown}); amounts in different currencies cannot be "
            "summed: split the file by currency or convert the amounts first.",
            path=data.path,
            column=data.roles["currency"],
        )
    if not _ISO_CODE.match(codes[0]):
        raise DataError(
            "the currency column must hold an ISO 4217 code such as 'GBP' or 'EUR'.",
            path=data.path,
            column=data.roles["currency"],
            value=codes[0],
        )
    return codes[0]


def date_format(data: LoadedData) -> str | None:
    """The strptime format of a text date column (configured or detected); None for a typed one."""
    col, dtype = column(data, "timestamp")
    if rules.is_temporal(dtype):
        return None
    if data.date_format is not None:
        return data.date_format
    text = rules.trimmed(col) if rules.is_text(dtype) else f"CAST({col} AS STRING)"
    return detect_date_format(data.engine.rows, text, data.rows_in, path=data.path, column=data.roles["timestamp"])


def transaction_values(data: LoadedData, fmt: str | None) -> Values:
    d = data.engine.dialect
    col, dtype = column(data, "timestamp")
    parsed = {"timestamp": rules.timestamp(d, col, dtype, fmt)}
    present = {"timestamp": rules.present(d, col, dtype)}
    numbers = tuple(r for r in ("quantity", "unit_price", "amount") if r in data.roles)
    for role in numbers:
        col, dtype = column(data, role)
        parsed[role], present[role] = rules.number(d, col, dtype), rules.present(d, col, dtype)
    names = {"timestamp": "ts", "quantity": "quantity", "unit_price": "unit_price", "amount": "amount_in"}
    return Values(parsed, present, numbers, {role: names[role] for role in parsed})


def implausible_sql(ts: str, low: dt.datetime | None, high: dt.datetime | None) -> str:
    """SQL that is true for a timestamp ``ts`` outside ``low`` .. ``high`` (``None``: an open side)."""
    tests = []
    if low is not None:
        tests.append(f"{ts} < TIMESTAMP '{low.isoformat(sep=' ')}'")
    if high is not None:
        tests.append(f"{ts} > TIMESTAMP '{high.isoformat(sep=' ')}'")
    return f"({' OR '.join(tests)})" if tests else "FALSE"


def date_check(
    found: Profile, ts: str, config: CleaningConfig
) -> tuple[str, tuple[dt.datetime | None, dt.datetime | None]]:
    """SQL that is true for an implausible date, and the (lowest, highest) plausible timestamp it uses."""
    low, high = date_bounds(
        found.quartiles, fence=config.date_fence, min_date=config.min_date, max_date=config.max_date
    )
    return implausible_sql(ts, low, high), (low, high)


def warn_implausible(
    data: LoadedData, count: int, first: int | None, bounds: tuple[dt.datetime | None, dt.datetime | None]
) -> None:
    if not count:
        return
    low, high = (side.date().isoformat() if side else "-" for side in bounds)
    ts = column(data, "timestamp")[0]
    value = data.engine.rows(f"SELECT {ts} FROM raw WHERE _row = {int(first)}")[0][0]
    warnings.warn(
        f"{data.path.name}: {count:,} row(s) dated outside {low} .. {high} were dropped as "
        f"implausible_date (first at {data.where(first)}: {str(value)!r}); "
        "set [cleaning] min_date / max_date to change the bounds.",
        stacklevel=3,
    )
