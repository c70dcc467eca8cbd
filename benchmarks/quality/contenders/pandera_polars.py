"""pandera (polars backend): the 8 rules as a DataFrameSchema with native and custom checks.

The table is read eagerly with polars.read_parquet (pandera validates data only on an
eager DataFrame) and validated with lazy=True so that every check runs and reports.
Samples off: only the verdict per check is used; samples on: pandera's failure_cases
(every failing value, pandera has no limit) are materialised as well. pandera collects
failure cases in lazy mode either way.

The three aggregate checks (row count, mean, newest ts) are in a second schema: pandera
0.35 with polars 2.1 cannot combine the Boolean failure case of a scalar check with the
string failure cases of row-wise checks (pl.concat SchemaError), so mixing them in one
schema crashes whenever both kinds fail.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandera.polars as pa
import polars as pl
from common import (
    AMOUNT_MAX,
    AMOUNT_MIN,
    FRESH_SINCE,
    MEAN_MAX,
    MEAN_MIN,
    STATUSES,
    run_contender,
)


def setup(args: dict) -> tuple[pa.DataFrameSchema, pa.DataFrameSchema]:
    lo, hi = args["rows_min"], args["rows_max"]

    def row_count(data: pa.PolarsData) -> bool:
        n = data.lazyframe.select(pl.len()).collect().item()
        return lo <= n <= hi

    def mean_in_range(data: pa.PolarsData) -> bool:
        m = data.lazyframe.select(pl.col(data.key).mean()).collect().item()
        return m is not None and MEAN_MIN <= m <= MEAN_MAX

    def fresh(data: pa.PolarsData) -> bool:
        newest = data.lazyframe.select(pl.col(data.key).max()).collect().item()
        return newest is not None and newest >= FRESH_SINCE

    rows = pa.DataFrameSchema({
        "order_id": pa.Column(unique=True, nullable=True),
        "customer_id": pa.Column(nullable=False),
        "order_date": pa.Column(nullable=False),
        "amount": pa.Column(checks=pa.Check.in_range(AMOUNT_MIN, AMOUNT_MAX,
                                                     name="amount_range"), nullable=True),
        "status": pa.Column(checks=pa.Check.isin(list(STATUSES), name="status_allowed"),
                            nullable=True),
    })
    aggregates = pa.DataFrameSchema(
        {
            "amount": pa.Column(checks=pa.Check(mean_in_range, name="amount_mean"),
                                nullable=True),
            "ts": pa.Column(checks=pa.Check(fresh, name="ts_freshness"), nullable=True),
        },
        checks=[pa.Check(row_count, name="row_count")],
    )
    return rows, aggregates


# pandera's name for each failure -> our rule key
# (a built-in check is reported by its own name, e.g. "in_range(0, 10000)")
_FAILURES = {
    (None, "row_count"): "row_count",
    ("customer_id", "not_nullable"): "complete_customer_id",
    ("order_date", "not_nullable"): "complete_order_date",
    ("order_id", "field_uniqueness"): "unique_order_id",
    ("amount", "in_range"): "amount_range",
    ("status", "isin"): "status_allowed",
    ("amount", "amount_mean"): "amount_mean",
    ("ts", "ts_freshness"): "ts_freshness",
}


def _validate(schema: pa.DataFrameSchema, df: pl.DataFrame, samples: bool) -> set:
    """The (column, check) pairs that failed."""
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        if samples and exc.failure_cases.height == 0:
            raise SystemExit("pandera returned no failure cases") from exc
        return {(e.get("column"), str(e.get("check")).split("(")[0])
                for errors in exc.message.values() for err in errors.values() for e in err}
    return set()


def check(args: dict, schemas: tuple[pa.DataFrameSchema, pa.DataFrameSchema]) -> dict[str, bool]:
    df = pl.read_parquet(args["data"])
    failed = set()
    for schema in schemas:
        failed |= _validate(schema, df, args["samples"])
    unknown = failed - set(_FAILURES)
    if unknown:
        raise SystemExit(f"unexpected pandera failures: {sorted(map(str, unknown))}")
    return {rule: key not in failed for key, rule in _FAILURES.items()}


if __name__ == "__main__":
    run_contender(check, setup)
