"""Unit test of the PySpark job's transformation, on PySpark in local mode."""

import datetime as dt
import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "daily_revenue", Path(__file__).parents[1] / "jobs" / "daily_revenue.py")
assert spec is not None and spec.loader is not None
daily_revenue = importlib.util.module_from_spec(spec)
spec.loader.exec_module(daily_revenue)


def test_rolling_week_skips_cancelled_orders_and_counts_calendar_days() -> None:
    spark = daily_revenue.spark_session("test-daily-revenue")
    try:
        at = dt.datetime
        orders = spark.createDataFrame(
            [(10.0, "placed", at(2026, 1, 1, 9)), (5.0, "shipped", at(2026, 1, 1, 18)),
             (99.0, "cancelled", at(2026, 1, 2, 9)), (1.0, "placed", at(2026, 1, 7, 9)),
             (2.0, "placed", at(2026, 1, 8, 9))],
            "amount double, status string, ordered_at timestamp")
        rows = {r["day"]: r for r in daily_revenue.daily_revenue(orders).collect()}
    finally:
        spark.stop()
    assert sorted(rows) == [dt.date(2026, 1, 1), dt.date(2026, 1, 7), dt.date(2026, 1, 8)]
    assert rows[dt.date(2026, 1, 1)]["orders"] == 2 and rows[dt.date(2026, 1, 1)]["revenue"] == 15
    assert rows[dt.date(2026, 1, 7)]["revenue_7d"] == 16.0  # Jan 1 .. Jan 7
    assert rows[dt.date(2026, 1, 8)]["revenue_7d"] == 3.0  # Jan 2 .. Jan 8: Jan 1 left
