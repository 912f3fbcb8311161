"""Per-customer summaries: purchase occasions, frequency, recency, T and repeat spend, by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis.clv._data import purchase_days, repeat_counts_between, summarize
from analysis.errors import DataError, EmptyDataError


def _orders(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame["order_id"] = [f"o{i}" for i in range(len(frame))]
    return frame


ORDERS = _orders(
    [
        ("A", "2020-01-01 09:00", 10.0),
        ("A", "2020-01-01 17:30", 5.0),  # same day: one occasion worth 15
        ("A", "2020-01-08 10:00", 20.0),
        ("A", "2020-01-22 10:00", 40.0),
        ("A", "2020-02-05 10:00", 7.0),  # after the calibration end below
        ("B", "2020-01-15 12:00", 30.0),
        ("C", "2020-01-29 08:00", 12.0),  # first seen after the calibration end
    ]
)


def test_orders_on_one_day_make_one_occasion():
    days = purchase_days(ORDERS)
    a = days[days["customer_id"] == "A"]
    assert len(a) == 4
    assert a["amount"].iloc[0] == 15.0


def test_summary_by_hand_in_weeks():
    table = summarize(purchase_days(ORDERS), end=dt.date(2020, 1, 28), time_unit="week")
    assert list(table.index) == ["A", "B"]
    a, b = table.loc["A"], table.loc["B"]
    # A: occasions on Jan 1, 8, 22 -> 2 repeats; last - first = 21 days = 3 weeks;
    # age = Jan 28 - Jan 1 = 27 days; repeat spend (20 + 40) / 2 = 30.
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (2.0, 3.0, 27 / 7, 30.0)
    # B: one occasion on Jan 15 -> no repeat, age 13 days, no repeat spend.
    assert (b["frequency"], b["recency"], b["T"]) == (0.0, 0.0, 13 / 7)
    assert np.isnan(b["monetary_value"])


@pytest.mark.parametrize(("unit", "days"), [("day", 1.0), ("week", 7.0), ("month", 365.25 / 12)])
def test_time_unit_scales_every_duration(unit, days):
    table = summarize(purchase_days(ORDERS), end=dt.date(2020, 2, 5), time_unit=unit)
    assert table.loc["A", "recency"] == pytest.approx(35 / days)
    assert table.loc["C", "T"] == pytest.approx(7 / days)


def test_holdout_counts_occasions_after_the_cut():
    counts = repeat_counts_between(purchase_days(ORDERS), after=dt.date(2020, 1, 28), end=dt.date(2020, 2, 5))
    assert counts.to_dict() == {"A": 1.0, "C": 1.0}


def test_bad_orders_are_refused_naming_the_column():
    with pytest.raises(DataError, match="missing \\['amount'\\]"):
        purchase_days(ORDERS.drop(columns="amount"))
    bad = ORDERS.copy()
    bad.loc[2, "amount"] = -3.0
    with pytest.raises(DataError, match="column 'amount'.*Got -3.0"):
        purchase_days(bad)
    with pytest.raises(EmptyDataError):
        purchase_days(ORDERS.iloc[0:0])
    text = ORDERS.assign(timestamp=ORDERS["timestamp"].astype(str))
    with pytest.raises(DataError, match="column 'timestamp'"):
        purchase_days(text)
