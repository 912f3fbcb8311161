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


def _injective(data: LoadedData, column: str, source: str) -> bool:
    """Whether no two distinct values of ``column`` in ``source`` share a 64-bit hash."""
    h = data.engine.dialect.row_hash([column])
    distinct, hashes = data.engine.rows(f"SELECT count(DISTINCT {column}), count(DISTINCT {h}) FROM {source}")[0]
    return distinct == hashes


def materialize_products(data: LoadedData) -> None:
    """Table ``_products``: per customer and day, how many of the customer's distinct products were first bought then.

    The one per-customer count that cannot be read from ``_parts``. Summing
    ``products`` over a customer's days gives the distinct products; over the
    days up to a date, the distinct products bought by then. Stored per day
    rather than per (customer, product) pair: the pairs are nearly as many as
    the kept lines (7.7M of 7.8M on a 10M-line synthetic log), the days about
    one in twenty of them, so the table stays small in memory however large
    the log.

    The pairs are grouped by the 64-bit hashes of the customer and the product
    (two integers instead of two texts: 21.5 s instead of 25.6 s for the 77M
    pairs of a 100M-line log, checks included) when that is exact, which two
    small queries prove: no two kept customers and no two products of the file
    share a hash. When some do (a collision: practically never), by the texts.
    """
    d = data.engine.dialect
    day = d.epoch_day("ts")
    hc, hp = d.row_hash(["customer_id"]), d.row_hash(["product"])
    if _injective(data, "customer_id", "_parts WHERE reason IS NULL") and _injective(data, "product", "_parsed"):
        query = f"""
            SELECT c.customer_id, p.day, p.products
            FROM (SELECT hc, day, count(*) AS products
                  FROM (SELECT {hc} AS hc, min({day}) AS day FROM clean
                        WHERE product IS NOT NULL GROUP BY {hc}, {hp}) pairs
                  GROUP BY hc, day) p
            JOIN (SELECT DISTINCT customer_id, {hc} AS hc FROM _parts WHERE reason IS NULL) c ON p.hc = c.hc"""
    else:
        query = f"""
            SELECT customer_id, day, count(*) AS products
            FROM (SELECT customer_id, product, min({day}) AS day FROM clean
                  WHERE product IS NOT NULL GROUP BY customer_id, product) pairs
            GROUP BY customer_id, day"""
    data.engine.run(d.materialize("_products", query))
