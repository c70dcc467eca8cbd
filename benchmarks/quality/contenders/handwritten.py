"""The bar: one hand-written DuckDB SELECT computing all 8 measures in a single scan."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import duckdb
from common import (
    AMOUNT_MAX,
    AMOUNT_MIN,
    FRESH_SINCE,
    MEAN_MAX,
    MEAN_MIN,
    STATUSES,
    run_contender,
)

SQL = """
SELECT
    count(*)                                                 AS n,
    count(*) - count(customer_id)                            AS null_customer_id,
    count(*) - count(order_date)                             AS null_order_date,
    count(order_id) - count(DISTINCT order_id)               AS duplicate_order_ids,
    count(*) FILTER (WHERE NOT amount BETWEEN {amin} AND {amax}) AS bad_amounts,
    count(*) FILTER (WHERE status NOT IN ({statuses}))       AS bad_statuses,
    avg(amount)                                              AS mean_amount,
    max(ts) >= TIMESTAMP '{fresh}'                           AS fresh
FROM read_parquet(?)
"""


def check(args: dict, _state: object) -> dict[str, bool]:
    sql = SQL.format(amin=AMOUNT_MIN, amax=AMOUNT_MAX,
                     statuses=", ".join(f"'{s}'" for s in STATUSES),
                     fresh=f"{FRESH_SINCE:%Y-%m-%d %H:%M:%S}")
    con = duckdb.connect()
    try:
        n, null_c, null_d, dups, bad_a, bad_s, mean, fresh = con.execute(
            sql, [args["data"]]).fetchone()
    finally:
        con.close()
    return {
        "row_count": args["rows_min"] <= n <= args["rows_max"],
        "complete_customer_id": null_c == 0,
        "complete_order_date": null_d == 0,
        "unique_order_id": dups == 0,
        "amount_range": bad_a == 0,
        "status_allowed": bad_s == 0,
        "amount_mean": mean is not None and MEAN_MIN <= mean <= MEAN_MAX,
        "ts_freshness": bool(fresh),
    }


if __name__ == "__main__":
    run_contender(check)
