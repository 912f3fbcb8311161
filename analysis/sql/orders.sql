-- One row per order (invoice, or one customer's purchases at one timestamp when
-- the data has no invoice): the input of the CLV models and experiment baselines.
SELECT customer_id, order_id, MIN(ts) AS ts, SUM(amount) AS amount
FROM clean
GROUP BY customer_id, order_id
ORDER BY customer_id, ts, order_id
