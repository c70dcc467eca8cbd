-- Typed, deduplicated orders; the latest row of an order wins.
SELECT
    CAST(order_id AS BIGINT) AS order_id,
    CAST(customer_id AS BIGINT) AS customer_id,
    CAST(product_id AS BIGINT) AS product_id,
    CAST(quantity AS INTEGER) AS quantity,
    CAST(amount AS DOUBLE) AS amount,
    lower(status) AS status,
    CAST(ordered_at AS TIMESTAMP) AS ordered_at
FROM raw.orders
WHERE CAST(amount AS DOUBLE) >= ${min_amount}
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY ordered_at DESC) = 1
