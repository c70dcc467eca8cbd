SELECT order_id, amount, status
FROM raw.orders
WHERE amount >= ${min_amount}
