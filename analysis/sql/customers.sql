-- Per-customer aggregation of the cleaned transactions.
-- Plain ANSI SQL on purpose: the same text runs in DuckDB (default) and in
-- Spark SQL (analysis.engines.spark) over a view named `clean` with columns
-- customer_id, order_id, ts, quantity, unit_price, amount, product, country.
WITH per_customer AS (
    SELECT
        customer_id,
        COUNT(DISTINCT order_id)            AS frequency,
        SUM(amount)                         AS monetary,
        SUM(amount) / NULLIF(SUM(quantity), 0) AS avg_unit_cost,
        CAST(SUM(amount) AS DOUBLE) / COUNT(DISTINCT order_id) AS avg_order_value,
        COUNT(DISTINCT product)             AS distinct_products,
        SUM(quantity)                       AS total_quantity,
        MIN(ts)                             AS first_purchase,
        MAX(ts)                             AS last_purchase
    FROM clean
    GROUP BY customer_id
),
country_counts AS (
    SELECT customer_id, country, COUNT(*) AS n
    FROM clean
    WHERE country IS NOT NULL
    GROUP BY customer_id, country
),
main_country AS (
    SELECT customer_id, country
    FROM (
        SELECT customer_id, country,
               ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY n DESC, country) AS rk
        FROM country_counts
    ) ranked
    WHERE rk = 1
)
SELECT p.*, m.country
FROM per_customer p
LEFT JOIN main_country m ON p.customer_id = m.customer_id
ORDER BY p.customer_id
