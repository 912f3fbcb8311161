"""The purchase days of the customer table: one row per customer and calendar day with an order.

What the lifetime-value models and the experiments' back-test read, already
grouped as :class:`analysis.clv._data.Occasions`. Read from table ``_parts``
(through view ``kept_parts`` or a cut of it, ``relations`` as in
:func:`analysis.customers.read_sql`) by :class:`analysis.customers.CustomerTable`
on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from analysis.clean import CleanedData
    from analysis.clv._data import Occasions

__all__ = ["days_sql", "purchase_days"]


def days_sql(data: CleanedData, relations: dict[str, str]) -> str:
    """The orders behind the purchase days, in customer, day, time and order-id order.

    An order counts on the day of its first line. The same text runs on both
    engines; :func:`purchase_days` adds each day's orders in Python, left to
    right in this order, exactly as the orders used to be added (so the models
    see the same bits). One sort of the orders is three times faster than an
    ordered list aggregate per day (1.1 s against 3.8 s for 3.9M purchase days
    of a 100M-line log).
    """
    source = relations.get("kept_parts", "kept_parts")
    return f"""
        SELECT customer_id, day, amount
        FROM (SELECT customer_id, order_id, MIN(day) AS day, MIN(first_us) AS first_us,
                     CAST(SUM(amount) AS DOUBLE) AS amount
              FROM {source} GROUP BY customer_id, order_id) orders
        ORDER BY customer_id, day, first_us, order_id"""


def purchase_days(data: CleanedData, relations: dict[str, str]) -> Occasions:
    """The purchase days of every customer (day and spend) as :class:`~analysis.clv._data.Occasions`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from analysis.clv._data import Occasions  # the lifetime-value package, only for transactions

    orders = data.loaded.engine.arrow(days_sql(data, relations))
    ids = orders.column("customer_id").combine_chunks()
    day = orders.column("day").to_numpy().astype("int64")
    amount = orders.column("amount").to_numpy().astype("float64")
    # A purchase day starts wherever the customer or the day changes from the row before.
    first = np.ones(len(day), dtype=bool)
    if len(day) > 1:
        same = pc.equal(ids.slice(1), ids.slice(0, len(day) - 1)).to_numpy(zero_copy_only=False)
        first[1:] = ~(same & (day[1:] == day[:-1]))
    starts = np.flatnonzero(first)
    # np.add.reduceat adds each day's orders left to right, as Occasions does when it merges orders.
    total = np.add.reduceat(amount, starts) if len(starts) else np.zeros(0)
    frame = pd.DataFrame(
        {
            "customer_id": ids.take(pa.array(starts)).to_pandas(),
            "day": day[starts].astype("datetime64[D]").astype("datetime64[s]"),
            "amount": total,
        }
    )
    return Occasions.from_frame(frame)
