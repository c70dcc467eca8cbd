"""Soda Core (SodaCL) on a DuckDB connection reading the Parquet file.

Samples off: every check has `samples limit: 0` (no failed-rows queries); samples on:
`samples limit: 20` (Soda's failed-rows samples, the same count as sluice's).
Freshness: freshness(ts, NOW) < 1d with NOW = the fixed as-of time (common.AS_OF).
"""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
logging.disable(logging.WARNING)

import duckdb  # noqa: E402
from common import (  # noqa: E402
    AMOUNT_MAX,
    AMOUNT_MIN,
    AS_OF,
    MEAN_MAX,
    MEAN_MIN,
    RULES,
    STATUSES,
    run_contender,
)
from soda.scan import Scan  # noqa: E402

CHECKS = """
checks for orders:
  - row_count between {rows_min} and {rows_max}:
      name: row_count
  - missing_count(customer_id) = 0:
      name: complete_customer_id
      samples limit: {limit}
  - missing_count(order_date) = 0:
      name: complete_order_date
      samples limit: {limit}
  - duplicate_count(order_id) = 0:
      name: unique_order_id
      samples limit: {limit}
  - invalid_count(amount) = 0:
      name: amount_range
      valid min: {amin}
      valid max: {amax}
      samples limit: {limit}
  - invalid_count(status) = 0:
      name: status_allowed
      valid values: [{statuses}]
      samples limit: {limit}
  - avg(amount) between {mmin} and {mmax}:
      name: amount_mean
  - freshness(ts, NOW) < 1d:
      name: ts_freshness
"""


def setup(args: dict) -> str:
    return CHECKS.format(rows_min=args["rows_min"], rows_max=args["rows_max"],
                         limit=20 if args["samples"] else 0, amin=AMOUNT_MIN,
                         amax=AMOUNT_MAX, statuses=", ".join(STATUSES), mmin=MEAN_MIN,
                         mmax=MEAN_MAX)


def check(args: dict, checks_yaml: str) -> dict[str, bool]:
    con = duckdb.connect()
    try:
        path = str(args["data"]).replace("'", "''")
        con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{path}')")
        scan = Scan()
        scan.set_scan_definition_name("sluice-benchmark")
        scan.set_data_source_name("duckdb")
        scan.add_duckdb_connection(con)
        scan.add_variables({"NOW": f"{AS_OF:%Y-%m-%d %H:%M:%S}"})
        scan.add_sodacl_yaml_str(checks_yaml)
        scan.execute()
        if scan.has_error_logs():
            raise SystemExit("Soda scan errors:\n" + scan.get_error_logs_text())
        results = scan.get_scan_results()
    finally:
        con.close()
    outcomes = {c["name"]: c["outcome"] for c in results["checks"]}
    odd = {k: v for k, v in outcomes.items() if v not in ("pass", "fail")}
    if odd or sorted(outcomes) != sorted(RULES):
        raise SystemExit(f"unexpected Soda outcomes: {outcomes}")
    return {k: outcomes[k] == "pass" for k in RULES}


if __name__ == "__main__":
    run_contender(check, setup)
