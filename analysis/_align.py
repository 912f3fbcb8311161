"""Joining two per-customer tables on ``customer_id`` without hashing the ids when they already line up.

Every per-customer table of a run (the customer table, the lifetime values,
the forecasts) lists the customers in the same order, so a merge on the id
column (hashing every id, 1.6 s for 1.57M customers) is almost always a
positional join. :func:`join_by_id` checks that with one vectorised compare and
merges only when the orders differ.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

__all__ = ["join_by_id", "same_ids"]


def same_ids(a: pd.Series, b: pd.Series) -> bool:
    """Whether ``a`` and ``b`` hold the same ids (as text) in the same order."""
    if len(a) != len(b):
        return False
    left, right = a.reset_index(drop=True).astype("str"), b.reset_index(drop=True).astype("str")
    return bool((left == right).all())


def join_by_id(
    left: pd.DataFrame, right: pd.DataFrame, *, how: Literal["inner", "left"], on: str = "customer_id"
) -> pd.DataFrame:
    """``left.merge(right, on=on, how=how, validate="one_to_one")``, positionally when the ids line up.

    The result is the merge's: ``left``'s rows in order (those ``right`` also
    holds, for ``how="inner"``), a fresh index, ``left``'s columns then the
    rest of ``right``'s.
    """
    if same_ids(left[on], right[on]) and left[on].is_unique:
        rest = right.drop(columns=on).reset_index(drop=True)
        return pd.concat([left.reset_index(drop=True), rest], axis=1)
    return left.merge(right, on=on, how=how, validate="one_to_one")
