"""Daily revenue with a 7-day rolling sum (a PySpark job, run in local mode).

sluice runs this script with ``--input NAME=PATH`` / ``--output NAME=PATH`` (Parquet
folders) and ``--param NAME=VALUE``; the same script runs on a cluster with S3 paths.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

DAY_SECONDS = 86_400


def daily_revenue(orders: Any) -> Any:
    """Pure transformation over a Spark DataFrame, unit-tested in tests/."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    days = (
        orders.where(F.col("status") != "cancelled")
        .groupBy(F.to_date("ordered_at").alias("day"))
        .agg(F.count("*").alias("orders"), F.sum("amount").alias("revenue"))
    )
    # the six days before and the day itself, by calendar (days without orders count as 0)
    seconds = F.unix_timestamp(F.col("day").cast("timestamp"))
    week = Window.orderBy(seconds).rangeBetween(-6 * DAY_SECONDS, 0)
    return days.select(
        "day",
        F.col("orders").cast("bigint").alias("orders"),
        F.round("revenue", 2).alias("revenue"),
        F.round(F.sum("revenue").over(week), 2).alias("revenue_7d"),
    )


def spark_session(app: str) -> Any:
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName(app)
        .master(os.environ.get("SPARK_MASTER", "local[1]"))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in os.environ.items():  # jobs.<name>.spark_conf from sluice.yaml
        if key.startswith("SLUICE_SPARK_CONF_"):
            builder = builder.config(key.removeprefix("SLUICE_SPARK_CONF_"), value)
    return builder.getOrCreate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--output", action="append", default=[])
    parser.add_argument("--param", action="append", default=[])
    args = parser.parse_args()
    inputs = dict(a.split("=", 1) for a in args.input)
    outputs = dict(a.split("=", 1) for a in args.output)
    spark = spark_session("retail-daily-revenue")
    try:
        orders = spark.read.parquet(inputs["staging.orders"])
        daily_revenue(orders).write.parquet(outputs["marts.daily_revenue"])
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
