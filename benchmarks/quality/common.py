"""What every contender checks: the 8 rules, their bounds and the expected verdicts.

Plain Python with no third-party imports, so that the runners in the peers' own venvs can
import it too (each runner puts this folder on sys.path).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import Any

DEFAULT_ROWS = 5_000_000

# Rule keys in the order of rules.dqdl; every contender reports one verdict per key.
RULES = (
    "row_count",        # RowCount between 0.8*N and 1.2*N
    "complete_customer_id",  # no NULL customer_id
    "complete_order_date",   # no NULL order_date
    "unique_order_id",  # order_id unique
    "amount_range",     # every amount between 0 and 10000
    "status_allowed",   # every status in STATUSES
    "amount_mean",      # mean(amount) between 4500 and 5500
    "ts_freshness",     # max(ts) no older than 24 hours before AS_OF
)

STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")
AMOUNT_MIN, AMOUNT_MAX = 0, 10000
MEAN_MIN, MEAN_MAX = 4500, 5500
# Freshness is judged against a fixed "now" so that the cached tables stay valid forever:
# the newest ts must be at least FRESH_SINCE (24 hours before AS_OF).
AS_OF = dt.datetime(2024, 7, 1, 0, 0, 0)
MAX_AGE = dt.timedelta(hours=24)
FRESH_SINCE = AS_OF - MAX_AGE


def row_bounds(rows: int) -> tuple[int, int]:
    """The RowCount range for a benchmark of ``rows`` rows (4M..6M for the default 5M)."""
    return int(rows * 0.8), int(rows * 1.2)


def fail_rows(rows: int) -> int:
    """The all-failing table is 30% larger, so that its RowCount rule fails too."""
    return int(rows * 1.3)


def expected(table: str) -> dict[str, bool]:
    return {k: table == "pass" for k in RULES}


def run_contender(check: Callable[[dict[str, Any], Any], dict[str, bool]],
                  setup: Callable[[dict[str, Any]], Any] | None = None) -> None:
    """Shared main() of the contender scripts.

    argv[1] is a JSON object: {"data": path, "samples": bool, "rows_min": int, "rows_max": int}.
    ``setup(args)`` builds the checks (parse the ruleset, build the suite or schema): not
    timed, like the imports. ``check(args, state)`` loads the data and evaluates the 8 rules:
    timed. Prints one line, RESULT and a JSON object of the seconds and the verdicts.
    """
    args = json.loads(sys.argv[1])
    state = setup(args) if setup is not None else None
    t0 = time.perf_counter()
    verdicts = check(args, state)
    seconds = time.perf_counter() - t0
    missing = [k for k in RULES if k not in verdicts]
    if missing:
        raise SystemExit(f"contender reported no verdict for {missing}")
    print("RESULT " + json.dumps({"seconds": seconds,
                                   "verdicts": {k: bool(verdicts[k]) for k in RULES}}),
          flush=True)
