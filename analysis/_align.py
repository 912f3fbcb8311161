"""Joining two per-customer tables on ``customer_id`` without hashing the ids when they already line up.

Every per-customer table of a run (the customer table, the lifetime values,
the forecasts) lists the customers in the same order, so a merge on the id
column (hashing every id, 1.6 s for 1.57M customers) is almost always a
positional join. :func:`join_by_id` checks that with one vectorised compare and
merges only when the orders differ; :func:`ids_unique` proves a sorted id
column unique the same way.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

__all__ = ["ids_unique", "join_by_id", "same_ids"]


def _text(ids: pd.Series) -> pd.Series:
    return ids.reset_index(drop=True).astype("str")


def same_ids(a: pd.Series, b: pd.Series) -> bool:
    """Whether ``a`` and ``b`` hold the same ids (as text) in the same order."""
    return len(a) == len(b) and bool((_text(a) == _text(b)).all())


def ids_unique(ids: pd.Series) -> bool:
    """Whether no id repeats; a vectorised compare when they are sorted (the tables of a run are), else a hash."""
    text = _text(ids)
    if text.isna().any():
        return not bool(ids.duplicated().any())
    if len(text) < 2 or bool((text.iloc[1:].reset_index(drop=True) > text.iloc[:-1].reset_index(drop=True)).all()):
        return True
    return bool(ids.is_unique)


def join_by_id(
    left: pd.DataFrame, right: pd.DataFrame, *, how: Literal["inner", "left"], on: str = "customer_id"
) -> pd.DataFrame:
    """``left.merge(right, on=on, how=how, validate="one_to_one")``, positionally when the ids line up.

    The result is the merge's: ``left``'s rows in order (those ``right`` also
    holds, for ``how="inner"``), a fresh index, ``left``'s columns then the
    rest of ``right``'s.
    """
    if same_ids(left[on], right[on]) and ids_unique(left[on]):
        rest = right.drop(columns=on).reset_index(drop=True)
        return pd.concat([left.reset_index(drop=True), rest], axis=1)
    return left.merge(right, on=on, how=how, validate="one_to_one")
