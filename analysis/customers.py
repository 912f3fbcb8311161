"""Aggregate cleaned transactions into one row per customer, and per customer and purchase day.

The aggregations are plain SQL (``analysis/sql/customers.sql``,
``orders.sql`` and the purchase days' query in :mod:`analysis._days`) over the
kept parts of orders that :mod:`analysis.clean` stored, so the same text runs
on DuckDB and Spark. Only customer-level rows cross into Python: the customer
table, and the purchase days (one row per customer and day with an order)
that the lifetime-value models and the experiments' back-test read, already
grouped as :class:`analysis.clv._data.Occasions`. The purchase days and the
per-order frame are read on first access (:attr:`CustomerTable.occasions`,
:attr:`CustomerTable.orders`). The date arithmetic that SQL
dialects spell differently (recency, tenure) is done here, in pandas.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analysis._days import purchase_days
from analysis.clean import CleanedData
from analysis.config import CustomersConfig
from analysis.errors import DataError

if TYPE_CHECKING:
    from analysis.clv._data import Occasions

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
    """The per-customer table, the purchase days, and what they were measured against.

    ``occasions`` (purchase days grouped by customer) and ``order_count`` are
    ``None`` for pre-aggregated (customer-level) input; so is ``orders``, the
    per-order frame. Both are read from the engine on first access only (the
    days are a customer-day table, the orders one row per order: millions at
    scale, and a table cut at the calibration date needs neither). ``currency``
    is the ISO 4217 code of the amounts when the data or the configuration says it.
    """

    customers: pd.DataFrame
    order_count: int | None
    snapshot_date: dt.date | None
    first_date: dt.date | None
    last_date: dt.date | None
    currency: str | None = None
    read_orders: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    read_occasions: Callable[[], Occasions] | None = field(default=None, repr=False, compare=False)

    @property
    def has_occasions(self) -> bool:
        """Whether there are purchase days (transaction input), without reading them."""
        return self.read_occasions is not None

    @cached_property
    def occasions(self) -> Occasions | None:
        """The purchase days of every customer (day and spend), for the lifetime-value models."""
        return None if self.read_occasions is None else self.read_occasions()

    @cached_property
    def orders(self) -> pd.DataFrame | None:
        """One row per order: customer_id, order_id, timestamp, amount (sorted by customer, time, order)."""
        return None if self.read_orders is None else self.read_orders()


_SOURCE = re.compile(r"\bFROM (clean|kept_parts|kept_products)\b")
_RELATIONS = {"clean", "kept_parts", "kept_products"}


def read_sql(name: str, *, relations: dict[str, str] | None = None) -> str:
    """Return the text of ``analysis/sql/<name>.sql``, reading other relations than the default ones.

    The queries read relations named ``clean``, ``kept_parts`` and
    ``kept_products``; ``relations`` (``{"kept_parts": "kept_parts_until",
    ...}``) lets the same text run over filtered views (the table as it was at
    a date, say).
    """
    text = resources.files("analysis").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    relations = relations or {}
    bad = [v for v in relations.values() if not v.isidentifier()]
    if bad or set(relations) - _RELATIONS:
        raise ValueError(
            f"The 'relations' parameter must map {' / '.join(sorted(_RELATIONS))} to SQL identifiers. "
            f"Got {relations!r} instead."
        )
    return _SOURCE.sub(lambda m: f"FROM {relations.get(m.group(1), m.group(1))}", text)


def _timestamps(us: pd.Series) -> pd.Series:
    return pd.to_datetime(us.astype("Int64"), unit="us")


def _views(data: CleanedData, until: dt.date | None) -> dict[str, str]:
    """Create the relations the queries read (``kept_parts``, and both cut at ``until`` when given)."""
    engine = data.loaded.engine
    engine.execute("CREATE OR REPLACE TEMP VIEW kept_parts AS SELECT * FROM _parts WHERE reason IS NULL")
    engine.execute("CREATE OR REPLACE TEMP VIEW kept_products AS SELECT * FROM _products")
    if until is None:
        return {}
    # A part holds the lines of one calendar day, so cutting parts by day is cutting lines by date.
    last_day = (until - dt.date(1970, 1, 1)).days
    stop = (until + dt.timedelta(days=1)).isoformat()
    # Named by the day, so a table read lazily later still sees its own cut whatever other cuts were made since.
    names = {r: f"{r}_until_{last_day}" for r in ("clean", "kept_parts", "kept_products")}
    engine.execute(
        f"CREATE OR REPLACE TEMP VIEW {names['kept_parts']} AS SELECT * FROM kept_parts WHERE day <= {last_day}"
    )
    engine.execute(f"CREATE OR REPLACE TEMP VIEW {names['clean']} AS SELECT * FROM clean WHERE ts < TIMESTAMP '{stop}'")
    engine.execute(
        f"CREATE OR REPLACE TEMP VIEW {names['kept_products']} AS SELECT * FROM _products WHERE day <= {last_day}"
    )
    return names


def _orders_reader(data: CleanedData, relations: dict[str, str]) -> Callable[[], pd.DataFrame]:
    engine, query = data.loaded.engine, read_sql("orders", relations=relations)

    def read() -> pd.DataFrame:
        orders = engine.arrow(query).to_pandas()
        orders["ts"] = _timestamps(orders["ts"])
        orders = orders.rename(columns={"ts": "timestamp"})
        return OrderSchema.validate(orders).reset_index(drop=True)

    return read


def _from_transactions(data: CleanedData, config: CustomersConfig, until: dt.date | None) -> CustomerTable:
    relations = _views(data, until)
    frame = data.loaded.engine.arrow(read_sql("customers", relations=relations)).to_pandas()
    if frame.empty:
        raise DataError("no customer has a kept purchase by the cut-off date.", path=data.loaded.path)
    frame["first_purchase"] = _timestamps(frame.pop("first_us"))
    frame["last_purchase"] = _timestamps(frame.pop("last_us"))
    table = table_from_frames(
        frame,
        None,
        config=config,
        has_quantity="quantity" in data.loaded.roles,
        has_product="product" in data.loaded.roles,
    )
    return CustomerTable(
        customers=table.customers,
        order_count=int(table.customers["frequency"].sum()),
        snapshot_date=table.snapshot_date,
        first_date=table.first_date,
        last_date=table.last_date,
        currency=_currency(data, config),
        read_orders=_orders_reader(data, relations),
        read_occasions=lambda: purchase_days(data, relations),
    )


def _currency(data: CleanedData, config: CustomersConfig) -> str | None:
    """The amounts' currency: the data's currency column, else ``[customers] currency``, else the known layout's."""
    from analysis._shapes import KNOWN_CURRENCIES

    found, configured = data.currency, config.currency
    if found is not None and configured is not None and found != configured:
        raise DataError(
            f"[customers] currency is {configured!r} but the currency column holds {found!r}; "
            "remove the setting or correct it.",
            path=data.loaded.path,
            column=data.loaded.roles.get("currency"),
        )
    return found or configured or KNOWN_CURRENCIES.get(data.loaded.source.shape)


def table_from_frames(
    frame: pd.DataFrame,
    orders: pd.DataFrame | None,
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
        One row per order (column ``ts`` or ``timestamp``), or ``None``.
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
    checked = None if orders is None else OrderSchema.validate(orders.rename(columns={"ts": "timestamp"}))
    return CustomerTable(
        customers=CustomerSchema.validate(frame).reset_index(drop=True),
        order_count=None if checked is None else len(checked),
        snapshot_date=snapshot,
        first_date=first,
        last_date=last,
        read_orders=None if checked is None else (lambda: checked.reset_index(drop=True)),
    )


def _from_customer_level(data: CleanedData, config: CustomersConfig) -> CustomerTable:
    query = "SELECT customer_id, recency, frequency, monetary, avg_unit_cost FROM clean ORDER BY customer_id"
    frame = data.loaded.engine.arrow(query).to_pandas()
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
        order_count=None,
        snapshot_date=None,
        first_date=None,
        last_date=None,
        currency=config.currency,
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
        Sorted by customer_id. ``occasions``: the purchase days of every
        customer (day and spend), for the lifetime-value models. ``orders``
        (read on first access): customer_id, order_id, timestamp, amount.
        The snapshot date is the last purchase date + 1 day unless configured;
        never today's date.
    """
    if data.loaded.level == "customers":
        if until is not None:
            raise DataError("a customer-level input has no dates, so it cannot be cut at a date.")
        return _from_customer_level(data, config)
    if until is not None and config.snapshot_date is None:
        config = config.model_copy(update={"snapshot_date": until + dt.timedelta(days=1)})
    return _from_transactions(data, config, until)
