"""What a segment's members are expected to do over the test window without the action.

Two sources: the lifetime-value models' forecast for the window after the end
of the data (``"bgnbd"``, preferred), or a back-test on the window one window
earlier (``"history"``, when no reliable model exists). Both give one row per
member; :func:`summarise` turns any group of rows (a segment, or segments
pooled together) into a :class:`Baseline`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._align import join_by_id
from analysis.clv import ClvResult, window_forecast
from analysis.clv._data import Occasions, day_number

__all__ = ["Baseline", "model_problem", "member_table", "summarise"]

# A conversion baseline below this is treated as 0: a relative lift of it means nothing to anyone.
NEAR_ZERO = 1e-3


@dataclass(frozen=True)
class Baseline:
    """One group's baseline figures, from whichever source."""

    source: str
    customers: int
    conversion: float | None
    revenue: float | None
    revenue_sd: float | None

    def of(self, metric: str) -> tuple[float | None, float | None]:
        return (self.conversion, None) if metric == "conversion" else (self.revenue, self.revenue_sd)


def model_problem(clv: ClvResult | None, metric: str) -> str | None:
    """Why the lifetime-value forecast cannot give the baselines (a code), or ``None`` when it can."""
    if clv is None:
        return "no_model"
    section = clv.section
    if not section.reliable or not section.forecast_params:
        return "model_unreliable"
    if len(clv.per_customer) == 0:
        return "no_forecasts"
    if metric == "revenue" and not section.forecast_params.get("q", 0.0) > 2.0:
        return "revenue_spread_undefined"
    return None


def _history_rows(members: pd.DataFrame, orders, *, start, stop) -> pd.DataFrame:
    # Members who had bought by `start`: did they buy in [start, stop), and for how much.
    if isinstance(orders, Occasions):
        return _history_from_days(members, orders, start=start, stop=stop)
    ts = orders["timestamp"]
    first = orders.groupby("customer_id", sort=False)["timestamp"].min()
    window = orders[(ts >= start) & (ts < stop)]
    spent = window.groupby("customer_id", sort=False)["amount"].sum()
    table = members[["customer_id", "segment"]].copy()
    table["eligible"] = table["customer_id"].map(first).lt(start).fillna(False).astype(bool)
    table["revenue"] = table["customer_id"].map(spent).fillna(0.0).astype(float)
    table["converted"] = table["revenue"].gt(0) | table["customer_id"].isin(window["customer_id"])
    table["second_moment"] = table["revenue"] ** 2
    return table[table["eligible"]].drop(columns="eligible")


def _history_from_days(members: pd.DataFrame, days: Occasions, *, start, stop) -> pd.DataFrame:
    """:func:`_history_rows` from purchase days: ``start`` and ``stop`` are midnights, so a day is in the
    window exactly when its orders are, and a customer's first day is before ``start`` exactly when their
    first order is."""
    first_day, stop_day = day_number(start.date()), day_number(stop.date())
    inside = (days.day >= first_day) & (days.day < stop_day)
    n = len(days.customer_ids)
    spent = np.bincount(days.owner[inside], weights=days.amount[inside], minlength=n)
    bought = np.bincount(days.owner[inside], minlength=n) > 0
    position = days.customer_ids.get_indexer(members["customer_id"].astype(str))
    known = position >= 0
    at = np.where(known, position, 0)
    eligible = known & (days.first_days()[at] < first_day)
    table = members[["customer_id", "segment"]].copy()
    table["revenue"] = np.where(known, spent[at], 0.0)
    table["converted"] = (table["revenue"].to_numpy() > 0) | (known & bought[at])
    table["second_moment"] = table["revenue"] ** 2
    return table[eligible]


def _model_rows(members: pd.DataFrame, clv: ClvResult, *, window_days: int) -> pd.DataFrame:
    section = clv.section
    forecast = window_forecast(
        clv.per_customer, params=section.forecast_params, window=window_days / section.time_unit_days
    )
    keys = pd.DataFrame({"customer_id": members["customer_id"].astype(str), "segment": members["segment"].to_numpy()})
    rows = join_by_id(keys, forecast, how="inner")
    return rows.rename(
        columns={"p_purchase": "converted", "expected_revenue": "revenue", "revenue_second_moment": "second_moment"}
    )[["customer_id", "segment", "converted", "revenue", "second_moment"]]


def member_table(members, *, source: str, orders=None, clv=None, window_days: int, start=None, stop=None):
    """One row per member with a baseline: ``converted`` (0/1 or a probability), ``revenue``, ``second_moment``.

    ``orders`` is one row per order (``customer_id``, ``timestamp``, ``amount``) or the purchase days of
    :class:`~analysis.clv._data.Occasions`; both give the same rows.
    """
    if source == "bgnbd":
        return _model_rows(members, clv, window_days=window_days)
    return _history_rows(members, orders, start=start, stop=stop)


def summarise(rows: pd.DataFrame, source: str) -> Baseline:
    """The baseline of a group of member rows (see :func:`member_table`).

    The revenue spread is the law of total variance over members: the mean of
    each member's E[Y^2] minus the squared mean (for the back-test, Y is known,
    so this is the plain variance, with n - 1).
    """
    n = len(rows)
    if not n:
        return Baseline(source, 0, None, None, None)
    mean = float(rows["revenue"].mean())
    if source == "history":
        sd = float(rows["revenue"].std(ddof=1)) if n > 1 else None
    else:
        var = float(rows["second_moment"].mean()) - mean**2
        sd = math.sqrt(var) if math.isfinite(var) and var > 0 else None
    return Baseline(source, n, float(rows["converted"].mean()), mean, sd)
