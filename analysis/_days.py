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
    """Purchase days: per customer and calendar day, that day's order amounts in time order.

    An order counts on the day of its first line. The amounts of a day are
    added in Python, in order of time and order id, exactly as the orders
    used to be added (so the models see the same bits); only the list
    aggregate is spelt differently by the engines.
    """
    amounts = data.loaded.engine.dialect.ordered_list("amount", ["first_us", "order_id"])
    source = relations.get("kept_parts", "kept_parts")
    return f"""
        SELECT customer_id, day, {amounts} AS amounts
        FROM (SELECT customer_id, order_id, MIN(day) AS day, MIN(first_us) AS first_us,
                     CAST(SUM(amount) AS DOUBLE) AS amount
              FROM {source} GROUP BY customer_id, order_id) orders
        GROUP BY customer_id, day
        ORDER BY customer_id, day"""


def purchase_days(data: CleanedData, relations: dict[str, str]) -> Occasions:
    """The purchase days of every customer (day and spend) as :class:`~analysis.clv._data.Occasions`."""
    import pyarrow.compute as pc

    from analysis.clv._data import Occasions  # the lifetime-value package, only for transactions

    days = data.loaded.engine.arrow(days_sql(data, relations))
    amounts = days.column("amounts").combine_chunks()
    lengths = pc.list_value_length(amounts).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    # np.add.reduceat adds each day's orders left to right, as Occasions does when it merges orders.
    total = np.add.reduceat(pc.list_flatten(amounts).to_numpy(zero_copy_only=False), starts) if len(starts) else []
    frame = pd.DataFrame(
        {
            "customer_id": days.column("customer_id").to_pandas(),
            "day": days.column("day").to_numpy().astype("int64").astype("datetime64[D]").astype("datetime64[s]"),
            "amount": np.asarray(total, dtype=float),
        }
    )
    return Occasions.from_frame(frame)
