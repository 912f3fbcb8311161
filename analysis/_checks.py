"""Checks on the loaded values before rows are flagged: readable, in range, plausibly dated.

Each returns SQL (or stops the run with a one-line error); :mod:`analysis.clean`
puts the pieces into its single flagging query.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from analysis import _rules as rules
from analysis._dates import date_bounds, detect_date_format
from analysis.config import CleaningConfig
from analysis.errors import DataError
from analysis.load import LoadedData

__all__ = ["Values", "column", "check_values", "date_format", "transaction_values", "date_check", "warn_implausible"]


@dataclass(frozen=True)
class Values:
    """The parsed form of each checked role, and when its cell holds something."""

    parsed: dict[str, str]
    present: dict[str, str]
    numbers: tuple[str, ...]

    def unparseable(self) -> str:
        return " OR ".join(f"({self.present[r]} AND {e} IS NULL)" for r, e in self.parsed.items()) or "FALSE"

    def out_of_range(self, limit: float, *extra: str) -> str:
        checks = [rules.out_of_range(self.parsed[r], limit) for r in self.numbers]
        checks += [rules.out_of_range(e, limit) for e in extra]
        return " OR ".join(checks) or "FALSE"


def column(data: LoadedData, role: str) -> tuple[str, str]:
    return rules.quote_ident(role), data.types[role]


def check_values(data: LoadedData, values: Values, limit: float, max_share: float) -> None:
    """Stop with a one-line error when a column is mostly unreadable or out of range, not just a few cells."""
    aggregates, checks = [], []
    for role, expr in values.parsed.items():
        col = rules.quote_ident(role)
        kind = "date" if role == "timestamp" else "number"
        tests = [(f"({values.present[role]} AND {expr} IS NULL)", f"not a valid {kind}")]
        if role in values.numbers:
            tests.append((rules.out_of_range(expr, limit), f"out of range (above {limit:g} in size, or infinite)"))
        for test, words in tests:
            aggregates += [
                f"count(*) FILTER (WHERE {values.present[role]})",
                f"count(*) FILTER (WHERE {test})",
                f"min(_row) FILTER (WHERE {test})",
                f"arg_min({col}, _row) FILTER (WHERE {test})",
            ]
            checks.append((role, words))
    row = data.con.execute(f"SELECT {', '.join(aggregates)} FROM raw").fetchone()
    for i, (role, words) in enumerate(checks):
        present, bad, first_row, first_value = row[4 * i : 4 * i + 4]
        if bad and bad / max(present, 1) > max_share:
            raise DataError(
                f"{bad:,} of {present:,} values are {words} "
                f"(more than the allowed {max_share:.1%}; first at {data.where(first_row)}).",
                path=data.path,
                column=data.roles[role],
                value=first_value,
            )


def date_format(data: LoadedData) -> str | None:
    """The strptime format of a text date column (configured or detected); None for a typed one."""
    col, dtype = column(data, "timestamp")
    if rules.is_temporal(dtype):
        return None
    if data.date_format is not None:
        return data.date_format
    text = f"NULLIF(trim({col}), '')" if rules.is_text(dtype) else f"CAST({col} AS VARCHAR)"
    return detect_date_format(data.con, text, data.rows_in, path=data.path, column=data.roles["timestamp"])


def transaction_values(data: LoadedData, fmt: str | None) -> Values:
    col, dtype = column(data, "timestamp")
    parsed = {"timestamp": rules.timestamp(col, dtype, fmt)}
    present = {"timestamp": rules.present(col, dtype)}
    numbers = tuple(r for r in ("quantity", "unit_price", "amount") if r in data.roles)
    for role in numbers:
        col, dtype = column(data, role)
        parsed[role], present[role] = rules.number(col, dtype), rules.present(col, dtype)
    return Values(parsed, present, numbers)


def date_check(data: LoadedData, ts: str, config: CleaningConfig) -> tuple[str, tuple[str, str] | None]:
    """SQL that is true for an implausible date, and the bounds used (ISO text) when there are any."""
    low, high = date_bounds(data.con, ts, fence=config.date_fence, min_date=config.min_date, max_date=config.max_date)
    tests = []
    if low is not None:
        tests.append(f"{ts} < TIMESTAMP '{low.isoformat(sep=' ')}'")
    if high is not None:
        tests.append(f"{ts} > TIMESTAMP '{high.isoformat(sep=' ')}'")
    if not tests:
        return "FALSE", None
    shown = (low.date().isoformat() if low else "-", high.date().isoformat() if high else "-")
    return f"({' OR '.join(tests)})", shown


def warn_implausible(data: LoadedData, bounds: tuple[str, str] | None) -> None:
    count, first = data.con.execute(
        "SELECT count(*), min(_row) FROM flagged WHERE reason = 'implausible_date'"
    ).fetchone()
    if count:
        value = data.con.execute("SELECT timestamp FROM raw WHERE _row = ?", [first]).fetchone()[0]
        warnings.warn(
            f"{data.path.name}: {count:,} row(s) dated outside {bounds[0]} .. {bounds[1]} were dropped as "
            f"implausible_date (first at {data.where(first)}: {str(value)!r}); "
            "set [cleaning] min_date / max_date to change the bounds.",
            stacklevel=3,
        )
