"""Great Expectations (1.x) on pandas: the 8 rules as native expectations.

Samples off: result_format BOOLEAN_ONLY; samples on: SUMMARY (GE's default, which returns
up to 20 unexpected values per expectation).
"""

import logging
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
import pandas as pd  # noqa: E402
from common import (  # noqa: E402
    AMOUNT_MAX,
    AMOUNT_MIN,
    FRESH_SINCE,
    MEAN_MAX,
    MEAN_MIN,
    RULES,
    STATUSES,
    run_contender,
)


def setup(args: dict) -> object:
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas("bench")
    asset = source.add_dataframe_asset("orders")
    batch_def = asset.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name="orders", expectations=[
        gxe.ExpectTableRowCountToBeBetween(min_value=args["rows_min"],
                                           max_value=args["rows_max"]),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="order_date"),
        gxe.ExpectColumnValuesToBeUnique(column="order_id"),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=AMOUNT_MIN,
                                          max_value=AMOUNT_MAX),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(STATUSES)),
        gxe.ExpectColumnMeanToBeBetween(column="amount", min_value=MEAN_MIN, max_value=MEAN_MAX),
        gxe.ExpectColumnMaxToBeBetween(column="ts", min_value=pd.Timestamp(FRESH_SINCE)),
    ]))
    return batch_def, suite


def check(args: dict, state: object) -> dict[str, bool]:
    batch_def, suite = state
    df = pd.read_parquet(args["data"])
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    fmt = "SUMMARY" if args["samples"] else "BOOLEAN_ONLY"
    result = batch.validate(suite, result_format=fmt)
    by_type = [r for r in result.results]
    if len(by_type) != len(RULES):
        raise SystemExit(f"expected {len(RULES)} expectation results, got {len(by_type)}")
    # results come back in suite order; match them by expectation to be safe
    order = [e.id for e in suite.expectations]
    got = {r.expectation_config.id: r for r in result.results}
    errors = [str(got[i].exception_info) for i in order
              if got[i].exception_info and got[i].exception_info.get("raised_exception")]
    if errors:
        raise SystemExit("GE raised: " + "\n".join(errors))
    return {k: bool(got[i].success) for k, i in zip(RULES, order, strict=True)}


if __name__ == "__main__":
    run_contender(check, setup)
