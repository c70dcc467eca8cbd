"""Units and revenue per product (a python job: reads DuckDB relations, writes pandas)."""

from __future__ import annotations

from typing import Any


def summarise(orders: Any, products: Any) -> Any:
    """Pure function over pandas frames, unit-tested in tests/test_product_sales.py."""
    valid = orders[orders["status"] != "cancelled"]
    sales = (
        valid.groupby("product_id", as_index=False)
        .agg(units=("quantity", "sum"), revenue=("amount", "sum"))
    )
    merged = products.merge(sales, on="product_id", how="left")
    merged["units"] = merged["units"].fillna(0).astype("int64")
    merged["revenue"] = merged["revenue"].fillna(0.0).astype("float64")
    merged["product_id"] = merged["product_id"].astype("int64")
    return merged[["product_id", "product", "units", "revenue"]]


def run(ctx: Any) -> None:
    orders = ctx.read("staging.orders").df()
    products = ctx.read("raw.products").df()
    ctx.write("marts.product_sales", summarise(orders, products))
