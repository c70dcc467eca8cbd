SELECT
    c.customer_id,
    c.name,
    c.country,
    count(o.order_id) AS orders,
    coalesce(sum(o.amount), 0) AS revenue
FROM raw.customers AS c
LEFT JOIN staging.orders AS o ON o.customer_id = c.customer_id AND o.status <> 'cancelled'
GROUP BY c.customer_id, c.name, c.country
