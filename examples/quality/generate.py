"""Sample data for orders.dqdl: `python examples/quality/generate.py [OUT]` (default
.sluice/demo) writes OUT/orders.parquet (5,000 orders, the last 300 days) and
OUT/customers.parquet (500 customers, the reference of its ReferentialIntegrity rule).
`make demo` runs it, so the README's first `sluice quality check` has its data."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb


def generate(out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    orders, customers = out / "orders.parquet", out / "customers.parquet"
    con = duckdb.connect()
    try:
        con.execute("SELECT setseed(0.42)")
        con.execute(f"""
            COPY (SELECT i AS customer_id, 'customer ' || i AS name FROM range(1, 501) t(i))
            TO '{customers}' (FORMAT parquet)""")
        # ordered_at is relative to today: the ruleset's DataFreshness rule keeps passing
        con.execute(f"""
            COPY (
              SELECT i AS order_id,
                     1 + (i * 7) % 500 AS customer_id,
                     CASE WHEN i % 3 = 0 THEN 'SAVE10' END AS coupon,
                     ['placed', 'shipped', 'delivered', 'returned'][1 + i % 4] AS status,
                     round(5 + (i * 37) % 400 + random(), 2) AS amount,
                     'user' || (i % 4990) || '@example.com' AS email,
                     ['DE', 'FR', 'US', 'JP'][1 + i % 4] AS country,
                     now()::TIMESTAMP - (i % 300) * INTERVAL 1 DAY AS ordered_at
              FROM range(1, 5001) t(i)
            ) TO '{orders}' (FORMAT parquet)""")
    finally:
        con.close()
    return orders, customers


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".sluice") / "demo"
    for path in generate(folder):
        print(f"wrote {path}")
