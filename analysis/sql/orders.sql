-- One row per order (invoice, or one customer's purchases at one timestamp when
-- the data has no invoice), timestamped by its first line (microseconds since 1970).
SELECT customer_id, order_id, MIN(first_us) AS ts, CAST(SUM(amount) AS DOUBLE) AS amount
FROM kept_parts
GROUP BY customer_id, order_id
ORDER BY customer_id, ts, order_id
