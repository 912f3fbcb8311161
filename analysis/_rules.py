"""SQL expressions that read one raw value, for text and for typed columns alike, on either engine.

A CSV arrives as text; Parquet and Excel keep their types (numbers, timestamps).
Each helper takes the engine's :class:`~analysis.engines.Dialect`, a quoted
column and its type (DuckDB's type names, which every engine reports) and
returns an expression with the same meaning for both kinds of column and both
engines, so that the cleaning rules in :mod:`analysis.clean` are written once.

A text number is a number only when it is written as one: an optional sign,
digits with an optional decimal point, an optional exponent, or ``inf`` /
``infinity`` / ``nan``. The engines' own casts disagree beyond that (DuckDB
reads ``1_000``, Spark reads ``1.5d``), so both are given only such text.
"""

from __future__ import annotations

from analysis.engines._dialect import DUCKDB, Dialect

__all__ = [
    "quote_ident",
    "quote_literal",
    "is_text",
    "is_temporal",
    "present",
    "text_value",
    "identifier",
    "number",
    "timestamp",
    "out_of_range",
]

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_INTEGER_TYPES |= {"UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}

# Text that spreadsheet and pandas exports write for "no value" in an ID column;
# read as an ID it would become one fake customer holding every such row.
MISSING_ID_TEXT = ("nan", "none", "null", "n/a", "#n/a")

_NUMBER_TEXT = (
    r"^[+-]?(([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?|[iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
)


def quote_ident(name: str) -> str:
    """Quote a column name for DuckDB SQL (a ``"`` inside the name is doubled)."""
    return DUCKDB.ident(name)


def quote_literal(text: str) -> str:
    """Quote a string literal for DuckDB SQL (a ``'`` inside is doubled)."""
    return DUCKDB.literal(text)


def is_text(dtype: str) -> bool:
    return dtype == "VARCHAR"


def _is_float(dtype: str) -> bool:
    return dtype in _FLOAT_TYPES


def _is_numeric(dtype: str) -> bool:
    return dtype in _INTEGER_TYPES or dtype in _FLOAT_TYPES or dtype.startswith("DECIMAL")


def is_temporal(dtype: str) -> bool:
    return dtype == "DATE" or dtype.startswith("TIMESTAMP")


def trimmed(col: str) -> str:
    """Text trimmed of spaces, NULL when blank."""
    return f"NULLIF(trim({col}), '')"


def present(d: Dialect, col: str, dtype: str) -> str:
    """True where the cell holds a value: not NULL, not blank text, not a float NaN (pandas' missing value)."""
    if is_text(dtype):
        return f"({trimmed(col)} IS NOT NULL)"
    if _is_float(dtype):
        return f"({col} IS NOT NULL AND NOT isnan({col}))"
    return f"({col} IS NOT NULL)"


def text_value(d: Dialect, col: str, dtype: str) -> str:
    """The cell as trimmed text, NULL when blank (descriptions, countries, invoice numbers)."""
    if is_text(dtype):
        return trimmed(col)
    if _is_float(dtype):
        return identifier(d, col, dtype)
    return f"CAST({col} AS STRING)"


def identifier(d: Dialect, col: str, dtype: str) -> str:
    """An ID as text: ``13085.0`` (a float in the export) is the same customer as ``13085``; 'nan' is none."""
    if is_text(dtype):
        missing = ", ".join(d.literal(t) for t in MISSING_ID_TEXT)
        text = trimmed(col)
        normalised = f"regexp_replace({text}, {d.literal('^([0-9]+)[.]0+$')}, {d.literal(d.group_ref(1))})"
        return f"CASE WHEN lower({text}) IN ({missing}) THEN NULL ELSE {normalised} END"
    if _is_float(dtype):
        # The branches are evaluated in order, so the cast to BIGINT only sees values it can hold.
        return (
            f"CASE WHEN NOT {d.is_finite(col)} THEN NULL "
            f"WHEN abs({col}) >= 1e15 THEN CAST({col} AS STRING) "
            f"WHEN {col} = CAST(CAST({col} AS BIGINT) AS DOUBLE) THEN CAST(CAST({col} AS BIGINT) AS STRING) "
            f"ELSE CAST({col} AS STRING) END"
        )
    return f"CAST({col} AS STRING)"


def _text_number(d: Dialect, text: str) -> str:
    return f"CASE WHEN {d.matches(text, _NUMBER_TEXT)} THEN TRY_CAST({text} AS DOUBLE) END"


def number(d: Dialect, col: str, dtype: str) -> str:
    """The cell as DOUBLE; NULL when it is not a number. May be infinite (see :func:`out_of_range`)."""
    if is_text(dtype):
        parsed = _text_number(d, f"replace({trimmed(col)}, '£', '')")
        # Text 'nan' is not a number anyone wrote on purpose: unparseable, not a value.
        return f"CASE WHEN isnan({parsed}) THEN NULL ELSE {parsed} END"
    if _is_float(dtype):
        return f"CASE WHEN isnan({col}) THEN NULL ELSE CAST({col} AS DOUBLE) END"
    if _is_numeric(dtype):
        return f"CAST({col} AS DOUBLE)"
    return _text_number(d, f"CAST({col} AS STRING)")


def out_of_range(d: Dialect, expr: str, limit: float) -> str:
    """True where a parsed number is infinite or larger in size than ``limit``."""
    return f"({expr} IS NOT NULL AND (NOT {d.is_finite(expr)} OR abs({expr}) > {limit!r}))"


def timestamp(d: Dialect, col: str, dtype: str, date_format: str | None) -> str:
    """The cell as TIMESTAMP: typed columns as they are, text through ``date_format``."""
    if is_temporal(dtype):
        # TIMESTAMP WITH TIME ZONE becomes UTC wall time (the session's time zone is UTC).
        return f"CAST({col} AS TIMESTAMP)"
    if date_format is None:
        raise ValueError("a text timestamp column needs a date format")
    text = trimmed(col) if is_text(dtype) else f"CAST({col} AS STRING)"
    return d.strptime(text, date_format)
