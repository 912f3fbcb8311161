"""The two small tables the row accounting and the customer table read instead of the lines.

``_parts`` groups view ``lines`` by reason, customer, order, country and
calendar day (the row accounting, the orders, the purchase days and most
per-customer figures are sums over it); ``_products`` holds each customer's
distinct products among the kept lines. Both are written by
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
    """Table ``_products``: each customer's distinct products among the kept lines, with the first day bought.

    The one per-customer count that cannot be read from ``_parts``; kept as a
    table so that the customer table, and the one cut at a calibration date,
    do not each read every line again.
    """
    d = data.engine.dialect
    data.engine.run(
        d.materialize(
            "_products",
            f"SELECT customer_id, product, min({d.epoch_day('ts')}) AS day FROM clean "
            "WHERE product IS NOT NULL GROUP BY customer_id, product",
        )
    )
