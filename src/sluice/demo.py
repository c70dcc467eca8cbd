"""``make demo``: generate a small orders dataset and gate it with a DQDL ruleset.

Runs entirely on the embedded default (DuckDB, files under ``.sluice/demo``).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from sluice.console import RichReporter
from sluice.quality import EvaluationOptions, MetricHistory, check_dataset

ROOT = Path(__file__).resolve().parents[2]


def make_data(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    orders, customers = folder / "orders.parquet", folder / "customers.parquet"
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(f"""
        COPY (SELECT i AS customer_id, 'customer ' || i AS name FROM range(1, 501) t(i))
        TO '{customers}' (FORMAT parquet)""")
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
    con.close()
    return orders, customers


def main() -> int:
    home = Path(os.environ.get("SLUICE_HOME", ".sluice"))
    orders, customers = make_data(home / "demo")
    reporter = RichReporter()
    rules = ROOT / "examples" / "quality" / "orders.dqdl"
    reporter.info(f"sluice demo: {rules.relative_to(ROOT)} on {orders} (DuckDB)")
    history = MetricHistory(home / "state.db")
    result = check_dataset(
        rules, str(orders), history=history,
        options=EvaluationOptions(references={"customers": str(customers)}, sample_limit=5),
    )
    history.close()
    reporter.ruleset_result(result)
    reporter.info(
        "Try: sluice quality check examples/quality/orders.dqdl "
        f"--data {orders} --ref customers={customers} --json"
    )
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
