-- Per-customer aggregation of the cleaned transactions.
-- Plain SQL on purpose: the same text runs in DuckDB and in Spark SQL over
-- `kept_parts` (the kept rows of table `_parts`, one row per customer, order,
-- country and calendar day: lines, amount, quantity, first_us / last_us in
-- microseconds since 1970) and `kept_products` (per customer and calendar day,
-- the distinct products first bought that day among the kept lines: the one
-- count that cannot be read from the parts).
WITH per_customer AS (
    SELECT
        customer_id,
        COUNT(DISTINCT order_id)            AS frequency,
        CAST(SUM(amount) AS DOUBLE)         AS monetary,
        SUM(quantity)                       AS total_quantity,
        MIN(first_us)                       AS first_us,
        MAX(last_us)                        AS last_us
    FROM kept_parts
    GROUP BY customer_id
),
products AS (
    SELECT customer_id, CAST(SUM(products) AS BIGINT) AS distinct_products
    FROM kept_products
    GROUP BY customer_id
),
country_counts AS (
    SELECT customer_id, country, SUM(lines) AS n
    FROM kept_parts
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
SELECT p.customer_id, p.frequency, p.monetary,
       p.monetary / NULLIF(p.total_quantity, 0) AS avg_unit_cost,
       p.monetary / p.frequency                 AS avg_order_value,
       COALESCE(d.distinct_products, 0) AS distinct_products, p.total_quantity, p.first_us, p.last_us, m.country
FROM per_customer p
LEFT JOIN products d ON p.customer_id = d.customer_id
LEFT JOIN main_country m ON p.customer_id = m.customer_id
ORDER BY p.customer_id
