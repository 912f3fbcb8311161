"""Per-customer summaries: purchase occasions, frequency, recency, T and repeat spend, by hand and against pandas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis.clv._data import (
    UNIT_DAYS,
    occasions,
    purchase_days,
    repeat_counts_between,
    summarize,
    summary_arrays,
)
from analysis.clv._rows import distinct_rows, history_rows
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


def _random_orders(seed: int, customers: int = 300) -> pd.DataFrame:
    # Ids of mixed lengths (so string order is not numeric order), several orders on some days.
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, customers, 4000)
    stamp = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 400 * 24, owner.size), unit="h")
    return pd.DataFrame(
        {
            "customer_id": [f"{i}" if i % 3 else f"C-{i}" for i in owner],
            "order_id": [f"o{i}" for i in range(owner.size)],
            "timestamp": stamp,
            "amount": np.round(rng.gamma(2.0, 20.0, owner.size), 2),
        }
    )


def _group_by_days(orders: pd.DataFrame) -> pd.DataFrame:
    # The definition as a plain pandas group-by on string keys.
    frame = pd.DataFrame(
        {
            "customer_id": orders["customer_id"].astype(str),
            "day": orders["timestamp"].dt.normalize(),
            "amount": orders["amount"].astype(float),
        }
    )
    return frame.groupby(["customer_id", "day"], as_index=False, sort=True)["amount"].sum()


def test_occasions_of_sorted_orders_equal_the_pandas_group_by_exactly():
    orders = _random_orders(1).sort_values(["customer_id", "timestamp"], ignore_index=True)
    pd.testing.assert_frame_equal(purchase_days(orders), _group_by_days(orders), check_exact=True)


def test_occasions_of_shuffled_orders_equal_the_pandas_group_by():
    orders = _random_orders(2)
    want = _group_by_days(orders)
    for seed in (0, 1):
        got = purchase_days(orders.sample(frac=1.0, random_state=seed))
        pd.testing.assert_frame_equal(got[["customer_id", "day"]], want[["customer_id", "day"]], check_exact=True)
        # Sums of the same amounts in another row order: equal to rounding.
        np.testing.assert_allclose(got["amount"], want["amount"], rtol=1e-14)


def test_summaries_of_occasions_equal_the_group_by_definition():
    orders = _random_orders(3)
    days = _group_by_days(orders)
    end = dt.date(2020, 10, 31)
    kept = days[days["day"] <= pd.Timestamp(end)]
    by = kept.groupby("customer_id", sort=True)
    first, count = by["day"].min(), by["day"].size()
    first_amount = kept.loc[by["day"].idxmin()].set_index("customer_id")["amount"]
    repeat = count - 1
    table = summarize(occasions(orders), end=end, time_unit="week")
    assert list(table.index) == list(first.index)
    np.testing.assert_array_equal(table["frequency"], repeat.astype(float))
    np.testing.assert_array_equal(table["recency"], (by["day"].max() - first).dt.days / 7.0)
    np.testing.assert_array_equal(table["T"], (pd.Timestamp(end) - first).dt.days / 7.0)
    monetary = ((by["amount"].sum() - first_amount) / repeat).where(repeat > 0)
    np.testing.assert_array_equal(table["monetary_value"], monetary)
    pd.testing.assert_frame_equal(table, summarize(days, end=end, time_unit="week"))


def test_repeat_counts_are_the_same_from_occasions_and_from_the_table():
    orders = _random_orders(4)
    after, end = dt.date(2020, 6, 30), dt.date(2020, 12, 31)
    days = purchase_days(orders)
    counts = repeat_counts_between(occasions(orders), after=after, end=end)
    window = days[(days["day"] > pd.Timestamp(after)) & (days["day"] <= pd.Timestamp(end))]
    assert counts.to_dict() == window.groupby("customer_id")["day"].size().astype(float).to_dict()
    pd.testing.assert_series_equal(counts, repeat_counts_between(days, after=after, end=end))


def test_history_rows_are_the_distinct_rows_of_the_summaries():
    occ = occasions(_random_orders(5))
    for unit in ("day", "week", "month"):
        seen, cols = summary_arrays(occ, end=dt.date(2020, 12, 31), time_unit=unit)
        rows = history_rows(cols, unit_days=UNIT_DAYS[unit])
        direct = distinct_rows(cols["frequency"], cols["recency"], cols["T"])
        for got, want in zip(rows.values, direct.values, strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(rows.inverse, direct.inverse)
        np.testing.assert_array_equal(rows.counts, direct.counts)
        assert seen.sum() == rows.inverse.size


def test_timezone_aware_timestamps_count_in_local_calendar_days():
    # 23:30 in New York is already the next day in UTC; the occasion stays on the local day.
    local = ORDERS.assign(timestamp=ORDERS["timestamp"].dt.tz_localize("America/New_York"))
    local.loc[0, "timestamp"] = pd.Timestamp("2020-01-01 23:30", tz="America/New_York")
    days = purchase_days(local)
    assert list(days["day"]) == list(purchase_days(ORDERS)["day"])
    assert days["day"].dt.tz is None
