"""The two small tables the row accounting and the customer table read instead of the lines.

``_parts`` groups view ``lines`` by reason, customer, order, country and
calendar day (the row accounting, the orders, the purchase days and most
per-customer figures are sums over it); ``_products`` counts, per customer and
calendar day, the distinct products the customer bought for the first time that
day (among the kept lines). Both are written by
:func:`analysis.clean.clean_transactions` in the engine of the loaded data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.load import LoadedData

__all__ = ["materialize_parts", "materialize_products"]


def materialize_parts(data: LoadedData) -> None:
    """Table ``_parts``: ``lines`` grouped by reason, customer, order, country and calendar day."""
    d = data.engine.dialect
    day = d.epoch_day("ts")
    data.engine.run(
        d.materialize(
            "_parts",
            f"""SELECT reason, customer_id, order_id, country, {day} AS day, count(*) AS lines,
                       min(_row) AS first_row, sum(amount) AS amount, sum(quantity) AS quantity,
                       min({d.epoch_us("ts")}) AS first_us, max({d.epoch_us("ts")}) AS last_us,
                       count(CASE WHEN quantity < 0 THEN 1 END) AS return_lines,
                       sum(CASE WHEN quantity < 0 THEN abs(amount) END) AS return_value
                FROM lines GROUP BY reason, customer_id, order_id, country, {day}""",
        )
    )


def materialize_products(data: LoadedData) -> None:
    """Table ``_products``: per customer and day, how many of the customer's distinct products were first bought then.

    The one per-customer count that cannot be read from ``_parts``. Summing
    ``products`` over a customer's days gives the distinct products; over the
    days up to a date, the distinct products bought by then. Stored per day
    rather than per (customer, product) pair: the pairs are nearly as many as
    the kept lines (7.7M of 7.8M on a 10M-line synthetic log), the days about
    one in twenty of them, so the table stays small in memory however large
    the log.
    """
    d = data.engine.dialect
    data.engine.run(
        d.materialize(
            "_products",
            f"""SELECT customer_id, day, count(*) AS products
                FROM (SELECT customer_id, product, min({d.epoch_day("ts")}) AS day FROM clean
                      WHERE product IS NOT NULL GROUP BY customer_id, product) pairs
                GROUP BY customer_id, day""",
        )
    )
