"""Per-customer summaries for the BG/NBD and Gamma-Gamma models.

The definitions here are deliberately kept apart from the segmentation
customer table (whose ``frequency`` counts orders and whose ``recency`` is
measured back from the snapshot):

* a *purchase occasion* is a calendar day with at least one order, and its
  spend is the sum of that day's order amounts (Fader, Hardie & Lee 2005 use
  per-day purchase records for CDNOW);
* ``frequency`` = number of repeat purchase occasions (occasions after the first);
* ``recency`` = time from the first to the last purchase occasion;
* ``T`` = customer age: time from the first purchase occasion to the end of the period;
* ``monetary_value`` = mean spend per *repeat* occasion (``NaN`` when frequency is 0).

All times are in an explicit unit (day, week or month of 365.25 / 12 days).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.errors import DataError, EmptyDataError

__all__ = ["UNIT_DAYS", "purchase_days", "summarize", "repeat_counts_between"]

UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12.0}

_REQUIRED = ("customer_id", "timestamp", "amount")


def purchase_days(orders: pd.DataFrame) -> pd.DataFrame:
    """Collapse orders into one purchase occasion per customer and calendar day.

    Parameters
    ----------
    orders
        One row per order with columns ``customer_id``, ``timestamp`` (datetime64)
        and ``amount`` (finite, >= 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (str), ``day`` (datetime64, midnight) and ``amount``
        (the day's summed spend), sorted by customer and day.

    Raises
    ------
    DataError
        When a required column is missing, timestamps are not datetimes, or an
        amount is negative or not finite (every bad column is listed).
    EmptyDataError
        When there are no orders.
    """
    missing = [c for c in _REQUIRED if c not in orders.columns]
    if missing:
        raise DataError(
            f"orders must have columns {list(_REQUIRED)!r}; missing {missing!r}.",
            value=list(orders.columns),
        )
    if len(orders) == 0:
        raise EmptyDataError("orders: no rows to fit a lifetime-value model on.")
    if not pd.api.types.is_datetime64_any_dtype(orders["timestamp"]):
        raise DataError(
            "orders: timestamps must be datetime64.", column="timestamp", value=str(orders["timestamp"].dtype)
        )
    amount = pd.to_numeric(orders["amount"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(amount) | (amount < 0)
    if bad.any():
        first = orders["amount"].iloc[int(np.flatnonzero(bad)[0])]
        first = first.item() if hasattr(first, "item") else first
        raise DataError(
            f"orders: amount must be a finite number >= 0; {int(bad.sum())} row(s) are not.",
            column="amount",
            value=first,
        )
    if orders["timestamp"].isna().any() or orders["customer_id"].isna().any():
        col = "timestamp" if orders["timestamp"].isna().any() else "customer_id"
        raise DataError("orders: missing values are not allowed.", column=col, value=None)
    frame = pd.DataFrame(
        {
            "customer_id": orders["customer_id"].astype(str).to_numpy(),
            "day": orders["timestamp"].dt.normalize().to_numpy(),
            "amount": amount,
        }
    )
    days = frame.groupby(["customer_id", "day"], as_index=False, sort=True)["amount"].sum()
    return days.reset_index(drop=True)


def _to_ts(value: dt.date) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def summarize(days: pd.DataFrame, *, end: dt.date, time_unit: str) -> pd.DataFrame:
    """Summarise purchase occasions up to and including ``end``.

    Parameters
    ----------
    days
        Output of :func:`purchase_days`.
    end
        Last day of the observation (or calibration) period, inclusive.
    time_unit
        ``"day"``, ``"week"`` or ``"month"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (customers whose first occasion is on or before
        ``end``), with columns ``frequency``, ``recency``, ``T`` (floats, in
        ``time_unit``), ``monetary_value`` (mean repeat-occasion spend, NaN when
        frequency is 0) and ``first_day``.
    """
    unit = UNIT_DAYS[time_unit]
    end_ts = _to_ts(end)
    kept = days[days["day"] <= end_ts]
    if kept.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=float) for c in ("frequency", "recency", "T", "monetary_value")}
            | {"first_day": pd.Series(dtype="datetime64[ns]")},
            index=pd.Index([], name="customer_id", dtype=str),
        )
    grouped = kept.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped["day"].size()
    total = grouped["amount"].sum()
    first_amount = kept.loc[grouped["day"].idxmin(), ["customer_id", "amount"]].set_index("customer_id")["amount"]
    frequency = (count - 1).astype(float)
    repeat_spend = (total - first_amount.reindex(total.index)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = (repeat_spend / frequency).where(frequency > 0)
    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last - first).dt.days.astype(float) / unit,
            "T": (end_ts - first).dt.days.astype(float) / unit,
            "monetary_value": monetary,
            "first_day": first,
        }
    )
    out.index.name = "customer_id"
    return out


def repeat_counts_between(days: pd.DataFrame, *, after: dt.date, end: dt.date) -> pd.Series:
    """Count purchase occasions in ``(after, end]`` per customer.

    Returns
    -------
    pandas.Series
        Indexed by ``customer_id``; customers without an occasion in the window
        are absent (read them as 0).
    """
    lo, hi = _to_ts(after), _to_ts(end)
    window = days[(days["day"] > lo) & (days["day"] <= hi)]
    return window.groupby("customer_id", sort=True)["day"].size().astype(float)
