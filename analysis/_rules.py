"""SQL expressions that read one raw value, for text and for typed columns alike.

A CSV arrives as text; Parquet and Excel keep their types (numbers, timestamps).
Each helper takes a quoted column and its DuckDB type and returns an expression
with the same meaning for both, so that the cleaning rules in
:mod:`analysis.clean` are written once. Everything here is plain SQL text: a
later engine (Spark SQL) can be given the same expressions.
"""

from __future__ import annotations

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


def quote_ident(name: str) -> str:
    """Quote a column name for SQL (a ``"`` inside the name is doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string literal for SQL (a ``'`` inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"


def is_text(dtype: str) -> bool:
    return dtype == "VARCHAR"


def _is_float(dtype: str) -> bool:
    return dtype in _FLOAT_TYPES


def _is_numeric(dtype: str) -> bool:
    return dtype in _INTEGER_TYPES or dtype in _FLOAT_TYPES or dtype.startswith("DECIMAL")


def is_temporal(dtype: str) -> bool:
    return dtype == "DATE" or dtype.startswith("TIMESTAMP")


def present(col: str, dtype: str) -> str:
    """True where the cell holds a value: not NULL, not blank text, not a float NaN (pandas' missing value)."""
    if is_text(dtype):
        return f"(NULLIF(trim({col}), '') IS NOT NULL)"
    if _is_float(dtype):
        return f"({col} IS NOT NULL AND NOT isnan({col}))"
    return f"({col} IS NOT NULL)"


def text_value(col: str, dtype: str) -> str:
    """The cell as trimmed text, NULL when blank (descriptions, countries, invoice numbers)."""
    if is_text(dtype):
        return f"NULLIF(trim({col}), '')"
    if _is_float(dtype):
        return identifier(col, dtype)
    return f"CAST({col} AS VARCHAR)"


def identifier(col: str, dtype: str) -> str:
    """An ID as text: ``13085.0`` (a float in the export) is the same customer as ``13085``; 'nan' is none."""
    if is_text(dtype):
        missing = ", ".join(quote_literal(t) for t in MISSING_ID_TEXT)
        text = f"NULLIF(trim({col}), '')"
        normalised = f"regexp_replace({text}, '^([0-9]+)\\.0+$', '\\1')"
        return f"CASE WHEN lower({text}) IN ({missing}) THEN NULL ELSE {normalised} END"
    if _is_float(dtype):
        return (
            f"CASE WHEN NOT isfinite({col}) THEN NULL "
            f"WHEN {col} = trunc({col}) AND abs({col}) < 1e15 THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST({col} AS VARCHAR) END"
        )
    return f"CAST({col} AS VARCHAR)"


def number(col: str, dtype: str) -> str:
    """The cell as DOUBLE; NULL when it is not a number. May be infinite (see :func:`out_of_range`)."""
    if is_text(dtype):
        parsed = f"TRY_CAST(replace(NULLIF(trim({col}), ''), '£', '') AS DOUBLE)"
        # Text 'nan' is not a number anyone wrote on purpose: unparseable, not a value.
        return f"CASE WHEN isnan({parsed}) THEN NULL ELSE {parsed} END"
    if _is_float(dtype):
        return f"CASE WHEN isnan({col}) THEN NULL ELSE CAST({col} AS DOUBLE) END"
    if _is_numeric(dtype):
        return f"CAST({col} AS DOUBLE)"
    return f"TRY_CAST(CAST({col} AS VARCHAR) AS DOUBLE)"


def out_of_range(expr: str, limit: float) -> str:
    """True where a parsed number is infinite or larger in size than ``limit``."""
    return f"({expr} IS NOT NULL AND (NOT isfinite({expr}) OR abs({expr}) > {limit!r}))"


def timestamp(col: str, dtype: str, date_format: str | None) -> str:
    """The cell as TIMESTAMP: typed columns as they are, text through ``date_format``."""
    if is_temporal(dtype):
        # TIMESTAMP WITH TIME ZONE becomes UTC wall time (the connection's TimeZone is UTC).
        return f"CAST({col} AS TIMESTAMP)"
    if date_format is None:
        raise ValueError("a text timestamp column needs a date format")
    text = f"NULLIF(trim({col}), '')" if is_text(dtype) else f"CAST({col} AS VARCHAR)"
    return f"try_strptime({text}, {quote_literal(date_format)})"
