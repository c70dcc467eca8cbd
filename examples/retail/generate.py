"""Deterministic sample data for the retail example: `python generate.py [ORDERS] [OUT]`.

The small default (500 orders) is what lives in data/; pass a larger count for load tests.
`--bad` writes a broken batch (negative amounts, unknown status) for the audit-failure story.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

STATUSES = ["placed", "shipped", "delivered", "cancelled"]
COUNTRIES = ["DE", "FR", "US", "JP", "BR"]


def generate(orders: int, out: Path, *, bad: bool = False, seed: int = 7) -> None:
    rng = random.Random(seed)
    customers = max(10, orders // 10)
    products = 20
    (out / "raw" / "orders").mkdir(parents=True, exist_ok=True)
    (out / "raw" / "customers").mkdir(parents=True, exist_ok=True)
    (out / "raw" / "products").mkdir(parents=True, exist_ok=True)
    with open(out / "raw" / "customers" / "customers.json", "w", encoding="utf-8") as f:
        for c in range(1, customers + 1):
            f.write(json.dumps({"customer_id": c, "name": f"Customer {c}",
                                "country": rng.choice(COUNTRIES)}) + "\n")
    with open(out / "raw" / "products" / "products.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["product_id", "product", "price"])
        for p in range(1, products + 1):
            w.writerow([p, f"Product {p}", round(2 + p * 3.5, 2)])
    start = datetime(2026, 1, 1)
    name = "orders_bad.csv" if bad else "orders.csv"
    with open(out / "raw" / "orders" / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "product_id", "quantity", "amount", "status",
                    "ordered_at"])
        base = 1_000_000 if bad else 1
        for i in range(orders):
            qty = rng.randint(1, 5)
            amount = round(qty * (2 + rng.randint(1, 20) * 3.5), 2)
            status = rng.choice(STATUSES)
            if bad and i % 3 == 0:
                # a broken upstream export: unknown statuses and absurd quantities
                qty, status = qty * 1000, "lost"
            w.writerow([base + i, rng.randint(1, customers), rng.randint(1, products), qty,
                        amount, status.upper() if i % 7 == 0 else status,
                        (start + timedelta(minutes=17 * i)).isoformat(sep=" ")])


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--bad"]
    n = int(args[0]) if args else 500
    dest = Path(args[1]) if len(args) > 1 else Path(__file__).parent / "data"
    generate(n, dest, bad="--bad" in sys.argv)
