"""Checks on the loaded values before rows are flagged: readable, in range, plausibly dated, one currency.

One pass over ``raw`` (:func:`profile`) counts, per calendar day, the rows
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
    "column",
    "profile",
    "check_values",
    "check_currency",
    "date_format",
    "transaction_values",
    "date_check",
    "warn_implausible",
]

_ISO_CODE = re.compile(r"^[A-Z]{3}$")
_SHOWN_CODES = 5


@dataclass(frozen=True)
class Values:
    """The parsed form of each checked role, and when its cell holds something."""

    parsed: dict[str, str]
    present: dict[str, str]
    numbers: tuple[str, ...]

    def unparseable(self) -> str:
        return " OR ".join(f"({self.present[r]} AND {e} IS NULL)" for r, e in self.parsed.items()) or "FALSE"

    def out_of_range(self, d, limit: float, *extra: str) -> str:
        checks = [rules.out_of_range(d, self.parsed[r], limit) for r in self.numbers]
        checks += [rules.out_of_range(d, e, limit) for e in extra]
        return " OR ".join(checks) or "FALSE"


@dataclass(frozen=True)
class Profile:
    """What :func:`profile` found: per check (role, words) the cells present, bad, and the first bad one."""

    checks: list[tuple[str, str]]
    counts: list[tuple[int, int, int | None, object]]
    quartiles: tuple[int, int] | None
    currencies: tuple[str, ...]


def column(data: LoadedData, role: str) -> tuple[str, str]:
    return data.engine.dialect.ident(role), data.types[role]


def _tests(data: LoadedData, values: Values, limit: float) -> list[tuple[str, str, str]]:
    """``(role, words, SQL true for a bad cell)`` of every check, in the order errors are looked for."""
    d, out = data.engine.dialect, []
    for role, expr in values.parsed.items():
        kind = "date" if role == "timestamp" else "number"
        out.append((role, f"not a valid {kind}", f"({values.present[role]} AND {expr} IS NULL)"))
        if role in values.numbers:
            out.append(
                (role, f"out of range (above {limit:g} in size, or infinite)", rules.out_of_range(d, expr, limit))
            )
    return out


def _currency_sql(data: LoadedData) -> str | None:
    if "currency" not in data.roles:
        return None
    return f"upper({rules.text_value(data.engine.dialect, *column(data, 'currency'))})"


def _day_rows(data: LoadedData, values: Values, tests, currency: str | None) -> list[tuple]:
    """One row per calendar day (and one for rows without a date): the counts of :func:`profile`."""
    d = data.engine.dialect
    aggregates = ["count(*)"]
    for role, _, bad in tests:
        col = d.ident(role)
        aggregates += [
            f"count(*) FILTER (WHERE {values.present[role]})",
            f"count(*) FILTER (WHERE {bad})",
            f"min(_row) FILTER (WHERE {bad})",
            f"min_by({col}, _row) FILTER (WHERE {bad})",
        ]
    if currency is not None:
        aggregates += ["min(_cur)", "max(_cur)"]
    ts = values.parsed.get("timestamp", "CAST(NULL AS TIMESTAMP)")
    inner = f"SELECT *, {ts} AS _ts{'' if currency is None else f', {currency} AS _cur'} FROM raw"
    dated = f"SELECT *, {d.epoch_day('_ts')} AS _day FROM ({inner}) parsed"
    return data.engine.rows(f"SELECT _day, {', '.join(aggregates)} FROM ({dated}) dated GROUP BY _day")


def _quartiles(data: LoadedData, ts: str, days: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The exact first and third quartiles (epoch microseconds) of the parsed dates, from their day histogram."""
    n = sum(count for _, count in days)
    if n == 0:
        return None
    d = data.engine.dialect
    ranks = quartile_ranks(n)
    located = [value_at_rank(days, r) for r in ranks]
    before = {day: sum(c for k, c in days if k < day) for day, _ in located}
    wanted = ", ".join(str(day) for day in sorted(before))
    stamps = data.engine.rows(
        f"SELECT {d.epoch_day('_ts')} AS day, {d.epoch_us('_ts')} AS t, count(*) AS n "
        f"FROM (SELECT {ts} AS _ts FROM raw) parsed WHERE {d.epoch_day('_ts')} IN ({wanted}) "
        f"GROUP BY {d.epoch_day('_ts')}, {d.epoch_us('_ts')}"
    )
    out = []
    for day, within in located:
        histogram = sorted((int(t), int(c)) for k, t, c in stamps if k == day)
        out.append(value_at_rank(histogram, within)[0])
    return out[0], out[1]


def profile(data: LoadedData, values: Values, limit: float, *, quartiles: bool) -> Profile:
    """One pass over ``raw``: the counts :func:`check_values` judges, the date quartiles, the currencies.

    Parameters
    ----------
    quartiles
        Whether the date fence needs the quartiles (a second, small query).
    """
    tests = _tests(data, values, limit)
    currency = _currency_sql(data)
    by_day = _day_rows(data, values, tests, currency)
    counts = []
    for i in range(len(tests)):
        cells = [row[2 + 4 * i : 6 + 4 * i] for row in by_day]
        present = sum(int(c[0]) for c in cells)
        bad = sum(int(c[1]) for c in cells)
        firsts = [(c[2], c[3]) for c in cells if c[2] is not None]
        first_row, first_value = min(firsts, key=lambda f: f[0]) if firsts else (None, None)
        counts.append((present, bad, first_row, first_value))
    days = sorted((int(row[0]), int(row[1])) for row in by_day if row[0] is not None)
    codes: tuple[str, ...] = ()
    if currency is not None:
        low = [row[-2] for row in by_day if row[-2] is not None]
        high = [row[-1] for row in by_day if row[-1] is not None]
        if low and min(low) == max(high):
            codes = (min(low),)
        elif low:
            found = data.engine.rows(f"SELECT DISTINCT {currency} AS c FROM raw WHERE {currency} IS NOT NULL")
            codes = tuple(sorted(str(r[0]) for r in found))
    return Profile(
        checks=[(role, words) for role, words, _ in tests],
        counts=counts,
        quartiles=_quartiles(data, values.parsed["timestamp"], days) if quartiles else None,
        currencies=codes,
    )


def check_values(data: LoadedData, found: Profile, limit: float, max_share: float) -> None:
    """Stop with a one-line error when a column is mostly unreadable or out of range, not just a few cells."""
    for (role, words), (present, bad, first_row, first_value) in zip(found.checks, found.counts, strict=True):
        if bad and bad / max(present, 1) > max_share:
            raise DataError(
                f"{bad:,} of {present:,} values are {words} "
                f"(more than the allowed {max_share:.1%}; first at {data.where(first_row)}).",
                path=data.path,
                column=data.roles[role],
                value=first_value,
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
    return Values(parsed, present, numbers)


def date_check(found: Profile, ts: str, config: CleaningConfig) -> tuple[str, tuple[str, str] | None]:
    """SQL that is true for an implausible date, and the bounds used (ISO text) when there are any."""
    low, high = date_bounds(
        found.quartiles, fence=config.date_fence, min_date=config.min_date, max_date=config.max_date
    )
    tests = []
    if low is not None:
        tests.append(f"{ts} < TIMESTAMP '{low.isoformat(sep=' ')}'")
    if high is not None:
        tests.append(f"{ts} > TIMESTAMP '{high.isoformat(sep=' ')}'")
    if not tests:
        return "FALSE", None
    shown = (low.date().isoformat() if low else "-", high.date().isoformat() if high else "-")
    return f"({' OR '.join(tests)})", shown


def warn_implausible(data: LoadedData, count: int, first: int | None, bounds: tuple[str, str] | None) -> None:
    if not count:
        return
    ts = column(data, "timestamp")[0]
    value = data.engine.rows(f"SELECT {ts} FROM raw WHERE _row = {int(first)}")[0][0]
    warnings.warn(
        f"{data.path.name}: {count:,} row(s) dated outside {bounds[0]} .. {bounds[1]} were dropped as "
        f"implausible_date (first at {data.where(first)}: {str(value)!r}); "
        "set [cleaning] min_date / max_date to change the bounds.",
        stacklevel=3,
    )
