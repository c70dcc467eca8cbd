"""The same transformation as a Glue script on sluice's awsglue runtime and as plain PySpark.

    python benchmarks/glue/runtime_overhead.py [--rows N] [--repeat K] [--json FILE] [--smoke]

Both run in ONE local Spark session in this process, alternately, K times each over the same
files: orders (CSV, N rows) joined with customers (JSON), typed, one column dropped, written
as Parquet partitioned by country. The Glue version goes through
``GlueContext.create_dynamic_frame.from_options``, ``ApplyMapping``, ``ResolveChoice``,
``Join``, ``DropFields`` and ``write_dynamic_frame.from_options``; the plain one through
``spark.read``, ``select``/``cast``, ``join`` and ``write.partitionBy``. Spark's start-up is
measured once and reported on its own line: it is excluded from the ratio. Goal of issue 14:
Glue / plain <= 1.2x (medians).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from shared import ensure_project_python, load_line  # noqa: E402

GOAL = 1.2
COUNTRIES = ("DE", "FR", "NL", "SE", "PL", "IT")


def generate(folder: Path, rows: int) -> tuple[Path, Path]:
    rng = random.Random(14)
    orders, customers = folder / "orders", folder / "customers"
    orders.mkdir(parents=True)
    customers.mkdir(parents=True)
    n_customers = max(rows // 20, 10)
    with (orders / "part-0.csv").open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["order_id", "customer_id", "amount", "status"])
        for i in range(rows):
            out.writerow([i, rng.randrange(n_customers), f"{rng.uniform(1, 500):.2f}",
                          rng.choice(("paid", "shipped", "returned"))])
    with (customers / "part-0.json").open("w", encoding="utf-8") as fh:
        for c in range(n_customers):
            fh.write(json.dumps({"id": c, "name": f"customer {c}",
                                 "country": COUNTRIES[c % len(COUNTRIES)]}) + "\n")
    return orders, customers


def glue_version(glue: Any, orders: str, customers: str, out: str) -> None:
    from awsglue.transforms import ApplyMapping, DropFields, Join, ResolveChoice

    frame = glue.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": [orders]}, format="csv",
        format_options={"withHeader": True}, transformation_ctx="orders")
    people = glue.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": [customers]}, format="json",
        transformation_ctx="customers")
    typed = ApplyMapping.apply(frame=frame, mappings=[
        ("order_id", "string", "order_id", "long"),
        ("customer_id", "string", "customer_id", "long"),
        ("amount", "string", "amount", "double"),
        ("status", "string", "status", "string")])
    typed = ResolveChoice.apply(frame=typed, specs=[("amount", "cast:double")])
    joined = Join.apply(typed, people, "customer_id", "id")
    kept = DropFields.apply(frame=joined, paths=["id"])
    glue.write_dynamic_frame.from_options(
        frame=kept, connection_type="s3",
        connection_options={"path": out, "partitionKeys": ["country"]}, format="parquet")


def plain_version(spark: Any, orders: str, customers: str, out: str) -> None:
    from pyspark.sql import functions as f

    frame = spark.read.option("header", True).csv(orders)
    typed = frame.select(f.col("order_id").cast("long"), f.col("customer_id").cast("long"),
                         f.col("amount").cast("double"), f.col("status").cast("string"))
    people = spark.read.json(customers)
    joined = typed.join(people, typed["customer_id"] == people["id"]).drop("id")
    joined.write.mode("append").partitionBy("country").parquet(out)


def timed(fn: Callable[[str], None], out_root: Path, label: str, i: int) -> float:
    out = out_root / f"{label}-{i}"
    started = time.perf_counter()
    fn(str(out))
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def main() -> None:
    ensure_project_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny size, one repeat: shows the script works (timings mean "
                             "nothing)")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeat = 2_000, 1
    from sluice.glue import runtime_path

    sys.path.insert(0, str(runtime_path()))
    print(load_line())
    with tempfile.TemporaryDirectory(prefix="sluice-bench-glue-") as tmp:
        orders, customers = generate(Path(tmp), args.rows)
        started = time.perf_counter()
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master("local[2]").appName("sluice-bench-glue")
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "4").getOrCreate())
        from awsglue.context import GlueContext

        glue = GlueContext(spark.sparkContext)
        startup = time.perf_counter() - started
        src, dim, outs = str(orders), str(customers), Path(tmp) / "out"
        runs: dict[str, list[float]] = {"glue": [], "plain": []}
        # one warm-up of each (JIT, file cache), then alternate so drift hits both alike
        glue_version(glue, src, dim, str(outs / "warm-glue"))
        plain_version(spark, src, dim, str(outs / "warm-plain"))
        for i in range(args.repeat):
            runs["glue"].append(timed(lambda o: glue_version(glue, src, dim, o), outs, "g", i))
            runs["plain"].append(timed(lambda o: plain_version(spark, src, dim, o), outs, "p", i))
        spark.stop()
    glue_s, plain_s = statistics.median(runs["glue"]), statistics.median(runs["plain"])
    ratio = glue_s / plain_s
    verdict = "PASS" if ratio <= GOAL else "MISS"
    print(f"rows {args.rows}, repeats {args.repeat}")
    print(f"spark_startup_s {startup:.2f}s (once, excluded from the ratio)")
    print(f"glue_script_s   median {glue_s:.3f}s  runs "
          f"{' '.join(f'{s:.3f}' for s in runs['glue'])}")
    print(f"plain_pyspark_s median {plain_s:.3f}s  runs "
          f"{' '.join(f'{s:.3f}' for s in runs['plain'])}")
    print(f"glue_vs_plain   {ratio:.2f}x  {verdict} (goal <= {GOAL}x)")
    if args.json:
        args.json.write_text(json.dumps({"smoke": args.smoke, "rows": args.rows,
                                         "startup_s": startup, "runs": runs, "ratio": ratio,
                                         "load": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
