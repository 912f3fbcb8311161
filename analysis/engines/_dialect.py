"""The few SQL spellings that DuckDB and Spark SQL do not share, in one place.

The log stage (loading, every cleaning rule and its row accounting, the
customer table and the purchase days) is SQL written once over views with the
same names and columns on both engines. It keeps to what both accept (ANSI
``CASE``, ``CAST``, ``TRY_CAST``, ``NULLIF``, ``count(*) FILTER (WHERE ...)``,
``min_by``, window functions, ``||``, ``substr``) and asks a :class:`Dialect`
for everything else: quoting, a try-parse of a date, finiteness, a row hash,
epoch arithmetic, materialising a small intermediate table, and the query
that finds repeated row hashes (a sort in DuckDB, a shuffle aggregation in
Spark: same set of hashes, each engine's cheap way). Each method is a one-line
translation, so the list of differences is this file.

Why not transpile DuckDB SQL with sqlglot: the differences that matter are in
semantics, not syntax (how a string literal treats a backslash, which date
pattern letters read unpadded numbers, how a regexp replacement names a
group), and they need choosing and testing either way; with a dozen methods the
choice is explicit and the SQL stays readable on both engines.
"""

from __future__ import annotations

import re

from analysis.errors import ConfigError

__all__ = ["Dialect", "DUCKDB", "SPARK"]

# strptime code -> (Spark pattern when a separator follows, pattern when a number follows directly).
# One-letter patterns read one or two digits, as DuckDB's strptime does; two adjacent numbers
# ('%Y%m%d') need fixed widths to be told apart.
_SPARK_CODES = {
    "%Y": ("yyyy", "yyyy"),
    "%m": ("M", "MM"),
    "%d": ("d", "dd"),
    "%H": ("H", "HH"),
    "%M": ("m", "mm"),
    "%S": ("s", "ss"),
    "%f": ("SSSSSS", "SSSSSS"),
}
_NUMERIC_START = re.compile(r"%[YmdHMSf]")


def _spark_pattern(fmt: str) -> str:
    """A strptime format as a Spark (Java DateTimeFormatter) pattern; refuses codes without an equivalent."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            code = fmt[i : i + 2]
            if code not in _SPARK_CODES:
                raise ConfigError(
                    f"the date format {fmt!r} uses {code!r}, which the Spark engine cannot read; allowed codes: "
                    f"{', '.join(_SPARK_CODES)} (or use the DuckDB engine)."
                )
            # A number run straight against another ('%Y%m%d') is read at fixed widths on both sides.
            adjacent = bool(_NUMERIC_START.match(fmt, i + 2)) or (i >= 2 and bool(_NUMERIC_START.match(fmt, i - 2)))
            out.append(_SPARK_CODES[code][adjacent])
            i += 2
            continue
        char = fmt[i]
        # Letters are pattern letters in Java unless quoted; a quote is written twice.
        out.append("''" if char == "'" else f"'{char}'" if char.isalpha() else char)
        i += 1
    return "".join(out)


class Dialect:
    """SQL spellings of one engine (see the module docstring)."""

    name = "duckdb"
    # Whether a materialized table holds its own copy of the rows, so the tables it was read from can go.
    # A cached Spark table is a view over its sources, so those stay.
    owns_copy = True

    def ident(self, name: str) -> str:
        """Quote a column or table name."""
        return '"' + name.replace('"', '""') + '"'

    def literal(self, text: str) -> str:
        """Quote a string literal."""
        return "'" + text.replace("'", "''") + "'"

    def is_finite(self, expr: str) -> str:
        """True for a finite double (neither infinite nor NaN); NULL for NULL."""
        return f"isfinite({expr})"

    def group_ref(self, n: int) -> str:
        """How a regexp replacement refers to capture group ``n``."""
        return f"\\{n}"

    def matches(self, text: str, pattern: str) -> str:
        """True where ``text`` contains a match of the regular expression ``pattern`` (anchor it to match all)."""
        return f"regexp_matches({text}, {self.literal(pattern)})"

    def strptime(self, text: str, fmt: str) -> str:
        """The text read as a TIMESTAMP with strptime format ``fmt``; NULL when it does not fit."""
        return f"try_strptime({text}, {self.literal(fmt)})"

    def epoch_us(self, ts: str) -> str:
        """Microseconds since 1970-01-01 00:00 of a TIMESTAMP (no time zone), as BIGINT."""
        return f"epoch_us({ts})"

    def epoch_day(self, ts: str) -> str:
        """Days since 1970-01-01 of a TIMESTAMP's calendar day, as BIGINT."""
        return f"CAST(CAST({ts} AS DATE) - DATE '1970-01-01' AS BIGINT)"

    def format_ts(self, ts: str) -> str:
        """A TIMESTAMP as text ``YYYY-MM-DDTHH:MM:SS``."""
        return f"strftime({ts}, '%Y-%m-%dT%H:%M:%S')"

    def row_hash(self, exprs: list[str]) -> str:
        """A 64-bit hash of several values (NULLs included); equal values give equal hashes."""
        return f"hash({', '.join(exprs)})"

    def list_of(self, expr: str) -> str:
        """The aggregate listing a group's values of ``expr`` in no set order (filter out NULLs: Spark drops them)."""
        return f"list({expr})"

    def unnest(self, expr: str) -> str:
        """One output row per element of the list ``expr`` (in a SELECT list; none for an empty or NULL list)."""
        return f"unnest({expr})"

    def repeated(self, expr: str, source: str) -> str:
        """Query of the distinct values of ``expr`` that occur more than once in ``source``."""
        # A sort of one 64-bit column is about twice as fast as a hash aggregation with one group per
        # row, and needs a third of the memory (measured on 10M and 100M rows).
        return (
            f"SELECT DISTINCT h FROM (SELECT h, lag(h) OVER (ORDER BY h) AS p FROM "
            f"(SELECT {expr} AS h FROM {source}) hashed) sorted WHERE h = p"
        )

    def materialize(self, name: str, query: str) -> list[str]:
        """Statements that store the result of ``query`` as table ``name`` (replacing it)."""
        return [f"CREATE OR REPLACE TEMP TABLE {name} AS {query}"]

    def drop(self, name: str) -> list[str]:
        """Statements that remove table or view ``name`` if it exists."""
        return [f"DROP TABLE IF EXISTS {name}", f"DROP VIEW IF EXISTS {name}"]


class SparkDialect(Dialect):
    """Spark SQL (3.5+ / 4.x, ANSI mode or not)."""

    name = "spark"
    owns_copy = False

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def literal(self, text: str) -> str:
        # Spark reads a backslash in a literal as an escape, and two adjacent literals as one.
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def is_finite(self, expr: str) -> str:
        return f"(NOT isnan({expr}) AND abs({expr}) != double('infinity'))"

    def group_ref(self, n: int) -> str:
        return f"${n}"

    def matches(self, text: str, pattern: str) -> str:
        return f"({text} RLIKE {self.literal(pattern)})"

    def strptime(self, text: str, fmt: str) -> str:
        return f"try_to_timestamp({text}, {self.literal(_spark_pattern(fmt))})"

    def epoch_us(self, ts: str) -> str:
        return f"unix_micros(CAST({ts} AS TIMESTAMP))"

    def epoch_day(self, ts: str) -> str:
        return f"CAST(unix_date(CAST({ts} AS DATE)) AS BIGINT)"

    def format_ts(self, ts: str) -> str:
        return f"date_format({ts}, \"yyyy-MM-dd'T'HH:mm:ss\")"

    def row_hash(self, exprs: list[str]) -> str:
        return f"xxhash64({', '.join(exprs)})"

    def list_of(self, expr: str) -> str:
        return f"collect_list({expr})"

    def unnest(self, expr: str) -> str:
        return f"explode({expr})"

    def repeated(self, expr: str, source: str) -> str:
        # A global sort would put every row in one partition; a shuffle aggregation scales out.
        return f"SELECT h FROM (SELECT {expr} AS h FROM {source}) hashed GROUP BY h HAVING count(*) > 1"

    def materialize(self, name: str, query: str) -> list[str]:
        return [*self.drop(name), f"CACHE TABLE {name} AS {query}"]

    def drop(self, name: str) -> list[str]:
        return [f"UNCACHE TABLE IF EXISTS {name}", f"DROP VIEW IF EXISTS {name}"]


DUCKDB = Dialect()
SPARK = SparkDialect()
