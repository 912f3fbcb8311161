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

Millions of orders are grouped with sort-based numpy code rather than pandas
group-bys on string keys: customer ids become integer codes once (through
pyarrow, in sorted order), occasions are kept customer by customer in one flat
array (:class:`Occasions`), and every summary is a slice or a ``reduceat`` of
it. Sums add each group's values in row order with ``np.add.reduceat``, which
is what pandas' group-by does for sorted keys, so results do not change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.errors import DataError, EmptyDataError

__all__ = [
    "UNIT_DAYS",
    "Occasions",
    "counts_between",
    "day_number",
    "summary_arrays",
    "occasions",
    "purchase_days",
    "summarize",
    "repeat_counts_between",
]

UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12.0}

_REQUIRED = ("customer_id", "timestamp", "amount")
_SUMMARY = ("frequency", "recency", "T", "monetary_value")


@dataclass(frozen=True)
class Occasions:
    """Purchase occasions grouped by customer, in one flat array per field.

    Attributes
    ----------
    customer_ids
        Distinct customer ids (str), sorted.
    offsets
        ``int64`` array of ``len(customer_ids) + 1``: customer ``i``'s occasions
        are rows ``offsets[i]:offsets[i + 1]`` of ``day`` and ``amount``.
    day
        ``int64`` day numbers (days since 1970-01-01), ascending within each customer.
    amount
        Spend of each occasion.
    unit
        The datetime64 unit of the input timestamps (``"ns"``, ``"us"``, ...),
        used when days are turned back into datetimes.
    """

    customer_ids: pd.Index
    offsets: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    unit: str = "ns"

    @classmethod
    def from_frame(cls, days: pd.DataFrame) -> Occasions:
        """Group a ``customer_id, day, amount`` table (such as :func:`purchase_days` returns)."""
        unit, day = _day_numbers(days["day"])
        codes, ids = _sorted_codes(days["customer_id"].astype(str))
        return cls._build(codes, ids, day, days["amount"].to_numpy(dtype=float, copy=True), unit, merge=False)

    @classmethod
    def _build(cls, key: np.ndarray, ids: pd.Index, day: np.ndarray, amount, unit: str, *, merge: bool) -> Occasions:
        # `key` holds each row's customer code on entry and is turned into a (customer, day)
        # key in place, which is sorted (when it is not already) and, to merge orders, reduced.
        low = int(day.min()) if day.size else 0
        span = int(day.max()) - low + 1 if day.size else 1
        key *= span
        key += day
        key -= low
        del day
        if key.size > 1 and bool(np.any(key[1:] < key[:-1])):
            order = np.argsort(key, kind="stable")
            key, amount = key[order], amount[order]
            del order
        if merge and key.size:
            new = np.ones(key.size, dtype=bool)
            np.not_equal(key[1:], key[:-1], out=new[1:])
            starts = np.flatnonzero(new)
            del new
            key, amount = key[starts], np.add.reduceat(amount, starts)
            del starts
        codes, day = np.divmod(key, span)
        del key
        day += low
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes, minlength=len(ids)), out=offsets[1:])
        return cls(customer_ids=ids, offsets=offsets, day=day, amount=amount, unit=unit)

    @cached_property
    def owner(self) -> np.ndarray:
        """Position in ``customer_ids`` of the customer of each occasion."""
        return np.repeat(np.arange(len(self.customer_ids)), np.diff(self.offsets))

    def frame(self) -> pd.DataFrame:
        """Return the occasions as a ``customer_id, day, amount`` table, sorted by customer and day."""
        return pd.DataFrame(
            {
                "customer_id": self.customer_ids.take(self.owner).array,
                "day": self._datetimes(self.day),
                "amount": self.amount,
            }
        )

    def _datetimes(self, day: np.ndarray) -> np.ndarray:
        per_day = np.timedelta64(1, "D") // np.timedelta64(1, self.unit)
        return (day * per_day).astype(f"datetime64[{self.unit}]")

    def first_days(self) -> np.ndarray:
        """Day number of each customer's first occasion."""
        return self.day[self.offsets[:-1]]


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01 of a date."""
    return int((np.datetime64(pd.Timestamp(value).date(), "D") - np.datetime64(0, "D")).astype(np.int64))


def _day_numbers(stamps: pd.Series) -> tuple[str, np.ndarray]:
    # Calendar day of each timestamp; timezone-aware stamps count in their local wall-clock time.
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    values = stamps.to_numpy()
    unit = np.datetime_data(values.dtype)[0]
    per_day = np.timedelta64(1, "D") // np.timedelta64(1, unit)
    return unit, values.view(np.int64) // per_day


def _sorted_codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of string ids, numbered in sorted id order, and the sorted distinct ids.

    Runs in pyarrow (binary order, which for UTF-8 is Python's string order); when
    the ids are already sorted, as the orders query returns them, no sort is needed.
    """
    arr = pa.array(ids.array) if hasattr(ids.array, "__arrow_array__") else None
    if arr is None:
        arr = pa.array(np.asarray(ids, dtype=object), type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64), pd.Index(arr.to_pandas(), name="customer_id")
    if not pc.any(pc.less(arr[1:], arr[:-1])).as_py():
        change = pc.not_equal(arr[1:], arr[:-1]).to_numpy(zero_copy_only=False)
        codes = np.zeros(len(arr), dtype=np.int64)
        np.cumsum(change, out=codes[1:])
        uniques = arr.take(pa.array(np.flatnonzero(np.r_[True, change])))
    else:
        encoded = pc.dictionary_encode(arr)
        order = pc.sort_indices(encoded.dictionary).to_numpy()
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        codes = rank[encoded.indices.to_numpy()].astype(np.int64)
        uniques = encoded.dictionary.take(pa.array(order))
    return codes, pd.Index(uniques.to_pandas(), name="customer_id")


def _validate(orders: pd.DataFrame) -> np.ndarray:
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
    return amount


def occasions(orders: pd.DataFrame) -> Occasions:
    """Collapse orders into purchase occasions (one per customer and calendar day), grouped by customer.

    Parameters
    ----------
    orders
        One row per order with columns ``customer_id``, ``timestamp`` (datetime64)
        and ``amount`` (finite, >= 0).

    Returns
    -------
    Occasions

    Raises
    ------
    DataError
        When a required column is missing, timestamps are not datetimes, or an
        amount is negative or not finite (every bad column is listed).
    EmptyDataError
        When there are no orders.
    """
    amount = _validate(orders)
    unit, day = _day_numbers(orders["timestamp"])
    return Occasions._build(*_sorted_codes(orders["customer_id"].astype(str)), day, amount, unit, merge=True)


def purchase_days(orders: pd.DataFrame) -> pd.DataFrame:
    """Collapse orders into one purchase occasion per customer and calendar day.

    Parameters
    ----------
    orders
        As for :func:`occasions`.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (str), ``day`` (datetime64, midnight) and ``amount``
        (the day's summed spend), sorted by customer and day.

    Raises
    ------
    DataError, EmptyDataError
        As :func:`occasions`.
    """
    return occasions(orders).frame()


def _as_occasions(days: pd.DataFrame | Occasions) -> Occasions:
    return days if isinstance(days, Occasions) else Occasions.from_frame(days)


def summary_arrays(occ: Occasions, *, end: dt.date, time_unit: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Summaries as arrays: ``(seen, columns)``.

    ``seen`` flags the customers of ``occ`` whose first occasion is on or before
    ``end``; ``columns`` holds ``frequency``, ``recency``, ``T``,
    ``monetary_value`` and ``first_day`` (day numbers) for those customers, in
    ``occ.customer_ids`` order, and the integers behind them: ``repeats``,
    ``recency_days`` and ``T_days``.
    """
    unit = UNIT_DAYS[time_unit]
    end_day = day_number(end)
    # Days ascend within each customer, so the kept rows are a prefix of every customer's rows.
    kept = occ.day <= end_day
    count = np.bincount(occ.owner[kept], minlength=len(occ.customer_ids))
    seen = count > 0
    count = count[seen]
    start = occ.offsets[:-1][seen]
    first = occ.day[start]
    last = occ.day[start + count - 1]
    total = np.add.reduceat(occ.amount[kept], np.cumsum(count) - count) if count.size else np.zeros(0)
    frequency = (count - 1).astype(float)
    repeat_spend = total - occ.amount[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_spend / frequency, np.nan)
    columns = {
        "frequency": frequency,
        "recency": (last - first).astype(float) / unit,
        "T": (end_day - first).astype(float) / unit,
        "monetary_value": monetary,
        "first_day": first,
        "repeats": count - 1,
        "recency_days": last - first,
        "T_days": end_day - first,
    }
    return seen, columns


def summarize(days: pd.DataFrame | Occasions, *, end: dt.date, time_unit: str) -> pd.DataFrame:
    """Summarise purchase occasions up to and including ``end``.

    Parameters
    ----------
    days
        Output of :func:`purchase_days` (or the :class:`Occasions` of :func:`occasions`).
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
    occ = _as_occasions(days)
    seen, cols = summary_arrays(occ, end=end, time_unit=time_unit)
    out = pd.DataFrame({c: cols[c] for c in _SUMMARY}, index=occ.customer_ids[seen])
    out["first_day"] = occ._datetimes(cols["first_day"])
    out.index.name = "customer_id"
    return out


def counts_between(occ: Occasions, *, after: dt.date, end: dt.date) -> np.ndarray:
    """Occasions in ``(after, end]`` of every customer of ``occ`` (zeros included), as floats."""
    inside = (occ.day > day_number(after)) & (occ.day <= day_number(end))
    return np.bincount(occ.owner[inside], minlength=len(occ.customer_ids)).astype(float)


def repeat_counts_between(days: pd.DataFrame | Occasions, *, after: dt.date, end: dt.date) -> pd.Series:
    """Count purchase occasions in ``(after, end]`` per customer.

    Returns
    -------
    pandas.Series
        Indexed by ``customer_id``; customers without an occasion in the window
        are absent (read them as 0).
    """
    occ = _as_occasions(days)
    counts = counts_between(occ, after=after, end=end)
    some = counts > 0
    return pd.Series(counts[some], index=occ.customer_ids[some], name="day")
