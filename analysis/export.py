"""The private per-customer export (``assignments.csv``), safe to open in a spreadsheet.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return as a formula, so a customer id such as
``=HYPERLINK("http://evil", "x")`` in the source data would become a live link
in a CRM user's spreadsheet (CSV injection). Following the OWASP guidance,
every *text* cell starting with one of those characters gets a leading single
quote (``'``), which spreadsheets show as text and do not evaluate; numeric
columns are written as numbers and left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "spreadsheet_safe", "csv_writer"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells cannot be read as spreadsheet formulas."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_neutralise)
    return out


def csv_writer(frame: pd.DataFrame) -> Callable[[BinaryIO], None]:
    """A writer (for :func:`analysis.outputs.commit_outputs`) of ``frame`` as spreadsheet-safe CSV."""
    safe = spreadsheet_safe(frame)

    def write(fh: BinaryIO) -> None:
        safe.to_csv(fh, index=False, float_format="%.10g", lineterminator="\n", encoding="utf-8")

    return write
