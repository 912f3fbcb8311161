"""Aggregate cleaned transactions into one row per customer.

The aggregation is plain SQL (``analysis/sql/customers.sql``) so that another
engine can run the same text; only the date arithmetic that SQL dialects spell
differently (recency, tenure) is done here, in pandas.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analysis.clean import CleanedData
from analysis.config import CustomersConfig
from analysis.errors import DataError

__all__ = ["CustomerTable", "CustomerSchema", "OrderSchema", "customer_table", "read_sql", "table_from_frames"]


class CustomerSchema(pa.DataFrameModel):
    """One row per customer; the contract between aggregation and every model."""

    customer_id: str = pa.Field(unique=True)
    recency: float = pa.Field(ge=0)
    frequency: int = pa.Field(ge=1)
    monetary: float = pa.Field(ge=0)
    avg_unit_cost: float = pa.Field(nullable=True)
    avg_order_value: float = pa.Field(nullable=True)
    tenure: float = pa.Field(nullable=True, ge=0)
    distinct_products: float = pa.Field(nullable=True)
    total_quantity: float = pa.Field(nullable=True)
    first_purchase: pd.Timestamp = pa.Field(nullable=True)
    last_purchase: pd.Timestamp = pa.Field(nullable=True)
    country: str = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True
        ordered = True


class OrderSchema(pa.DataFrameModel):
    """One row per order: the input of CLV and of experiment baselines."""

    customer_id: str
    order_id: str
    timestamp: pd.Timestamp
    amount: float = pa.Field(ge=0)

    class Config:
        strict = True
        coerce = True


@dataclass(frozen=True)
class CustomerTable:
    """The per-customer table and what it was measured against.

    ``orders`` is ``None`` for pre-aggregated (customer-level) input.
    """

    customers: pd.DataFrame
    orders: pd.DataFrame | None
    snapshot_date: dt.date | None
    first_date: dt.date | None
    last_date: dt.date | None


_SOURCE = re.compile(r"\bFROM clean\b")


def read_sql(name: str, *, source: str = "clean") -> str:
    """Return the text of ``analysis/sql/<name>.sql``, reading the relation ``source`` instead of ``clean``.

    The queries read one relation named ``clean``; another name lets the same
    text run over a filtered view (the calibration period of the lifetime-value
    check, say).
    """
    text = resources.files("analysis").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    if source == "clean":
        return text
    if not source.isidentifier():
        raise ValueError(f"The 'source' parameter must be an SQL identifier. Got {source!r} instead.")
    return _SOURCE.sub(f"FROM {source}", text)


def _from_transactions(data: CleanedData, config: CustomersConfig, until: dt.date | None) -> CustomerTable:
    con = data.loaded.con
    source = "clean"
    if until is not None:
        source = "clean_until"
        stop = (until + dt.timedelta(days=1)).isoformat()
        con.execute(f"CREATE OR REPLACE TEMP VIEW clean_until AS SELECT * FROM clean WHERE ts < TIMESTAMP '{stop}'")
    return table_from_frames(
        con.execute(read_sql("customers", source=source)).fetch_df(),
        con.execute(read_sql("orders", source=source)).fetch_df(),
        config=config,
        has_quantity="quantity" in data.loaded.roles,
        has_product="product" in data.loaded.roles,
    )


def table_from_frames(
    frame: pd.DataFrame,
    orders: pd.DataFrame,
    *,
    config: CustomersConfig,
    has_quantity: bool = True,
    has_product: bool = True,
) -> CustomerTable:
    """Finish the per-customer table from the results of ``customers.sql`` and ``orders.sql``.

    The engine-independent half of :func:`customer_table`: whichever engine ran
    the two queries (DuckDB, Spark SQL), recency and tenure, the columns of
    absent roles and the schema checks are the same code.

    Parameters
    ----------
    frame
        The result of ``read_sql("customers")`` (one row per customer, sorted).
        Not modified.
    orders
        The result of ``read_sql("orders")`` (column ``ts``, renamed to ``timestamp``).
    config
        Optional fixed snapshot date.
    has_quantity, has_product
        Whether the source had a quantity / product column; without one the
        columns derived from it are NaN.

    Returns
    -------
    CustomerTable
        As :func:`customer_table`.

    Raises
    ------
    DataError
        A configured snapshot date on or before the last purchase.
    """
    frame = frame.copy()
    orders = orders.rename(columns={"ts": "timestamp"})
    first = pd.Timestamp(frame["first_purchase"].min()).date()
    last = pd.Timestamp(frame["last_purchase"].max()).date()
    snapshot = config.snapshot_date or (last + dt.timedelta(days=1))
    if snapshot <= last:
        raise DataError(
            f"snapshot_date must be after the last purchase ({last.isoformat()}).",
            column="customers.snapshot_date",
            value=snapshot.isoformat(),
        )
    snap = pd.Timestamp(snapshot)
    frame["recency"] = (snap - frame["last_purchase"].dt.normalize()).dt.days.astype(float)
    frame["tenure"] = (snap - frame["first_purchase"].dt.normalize()).dt.days.astype(float)
    if not has_quantity:
        frame[["avg_unit_cost", "total_quantity"]] = np.nan
    if not has_product:
        frame["distinct_products"] = np.nan
    frame = frame[list(CustomerSchema.to_schema().columns)]
    return CustomerTable(
        customers=CustomerSchema.validate(frame).reset_index(drop=True),
        orders=OrderSchema.validate(orders).reset_index(drop=True),
        snapshot_date=snapshot,
        first_date=first,
        last_date=last,
    )


def _from_customer_level(data: CleanedData) -> CustomerTable:
    frame = data.loaded.con.execute("SELECT * FROM clean ORDER BY customer_id").fetch_df()
    frame["frequency"] = frame["frequency"].round().astype(int)
    frame["avg_order_value"] = frame["monetary"] / frame["frequency"]
    for col in ("tenure", "distinct_products", "total_quantity"):
        frame[col] = np.nan
    frame["first_purchase"] = pd.NaT
    frame["last_purchase"] = pd.NaT
    frame["country"] = None
    frame = frame[list(CustomerSchema.to_schema().columns)]
    return CustomerTable(
        customers=CustomerSchema.validate(frame).reset_index(drop=True),
        orders=None,
        snapshot_date=None,
        first_date=None,
        last_date=None,
    )


def customer_table(data: CleanedData, *, config: CustomersConfig, until: dt.date | None = None) -> CustomerTable:
    """Build the per-customer table from cleaned rows.

    Parameters
    ----------
    data
        Cleaned rows (table ``clean``).
    config
        Optional fixed snapshot date.
    until
        Use only the rows dated on or before this day (transactions only): the
        table as it was at the end of a calibration period. The snapshot is
        then the day after ``until`` unless ``config`` fixes one.

    Returns
    -------
    CustomerTable
        ``customers`` columns: customer_id, recency (days from the last purchase
        day to the snapshot date), frequency (distinct orders), monetary (spend
        of kept lines), avg_unit_cost (spend / units), avg_order_value, tenure
        (days from the first purchase day to the snapshot), distinct_products,
        total_quantity, first_purchase, last_purchase, country (most frequent).
        Sorted by customer_id. ``orders``: customer_id, order_id, timestamp, amount.
        The snapshot date is the last purchase date + 1 day unless configured;
        never today's date.
    """
    if data.loaded.level == "customers":
        if until is not None:
            raise DataError("a customer-level input has no dates, so it cannot be cut at a date.")
        return _from_customer_level(data)
    if until is not None and config.snapshot_date is None:
        config = config.model_copy(update={"snapshot_date": until + dt.timedelta(days=1)})
    return _from_transactions(data, config, until)
