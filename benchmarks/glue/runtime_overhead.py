"""The same transformation as a Glue script on sluice's awsglue runtime and as plain PySpark.

    python benchmarks/glue/runtime_overhead.py [--rows N] [--repeat K] [--json FILE] [--smoke]

Both run in ONE local Spark session in this process, alternately, K times each over the same
files: orders (N rows, once as CSV and once as Parquet) joined with customers (JSON), typed,
one column dropped, written as Parquet partitioned by country. The Glue version goes
through ``GlueContext.create_dynamic_frame.from_options``, ``ApplyMapping``,
``ResolveChoice``, ``Join``, ``DropFields`` and ``write_dynamic_frame.from_options``; the
plain one through ``spark.read``, ``select``/``cast``, ``join`` and ``write.partitionBy``.
Spark's start-up is measured once and reported on its own line: it is excluded. Goal of
issue 14: Glue / plain <= 1.2x (medians), per input format. Over CSV the runtime infers each
column's type as Glue's reader does, a pass over the file that the plain script (which reads
strings and casts) does not make: ``csv_profile.py`` beside this file measures that pass
and counts each version's Spark jobs.
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


def parquet_copy(orders: Path) -> Path:
    """The orders as Parquet (typed columns), beside the CSV."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    folder = orders.with_name("orders_parquet")
    folder.mkdir()
    pq.write_table(pcsv.read_csv(orders / "part-0.csv"), folder / "part-0.parquet")
    return folder


def glue_version(glue: Any, orders: str, customers: str, out: str, fmt: str) -> None:
    from awsglue.transforms import ApplyMapping, DropFields, Join, ResolveChoice

    frame = glue.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": [orders]}, format=fmt,
        format_options={"withHeader": True} if fmt == "csv" else {},
        transformation_ctx="orders")
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


def plain_version(spark: Any, orders: str, customers: str, out: str, fmt: str) -> None:
    from pyspark.sql import functions as f

    frame = (spark.read.option("header", True).csv(orders) if fmt == "csv"
             else spark.read.parquet(orders))
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
        dim, outs = str(customers), Path(tmp) / "out"
        sources = {"csv": str(orders), "parquet": str(parquet_copy(orders))}
        runs: dict[str, dict[str, list[float]]] = {}
        for fmt, src in sources.items():
            got: dict[str, list[float]] = {"glue": [], "plain": []}
            # a warm-up of each (JIT, file cache), then alternate so drift hits both alike
            glue_version(glue, src, dim, str(outs / f"warm-glue-{fmt}"), fmt)
            plain_version(spark, src, dim, str(outs / f"warm-plain-{fmt}"), fmt)
            for i in range(args.repeat):
                got["glue"].append(timed(lambda o, s=src, f=fmt: glue_version(glue, s, dim, o, f),
                                         outs, f"g-{fmt}", i))
                got["plain"].append(timed(lambda o, s=src, f=fmt: plain_version(spark, s, dim, o,
                                                                                 f),
                                          outs, f"p-{fmt}", i))
            runs[fmt] = got
        spark.stop()
    print(f"rows {args.rows}, repeats {args.repeat}")
    print(f"spark_startup_s {startup:.2f}s (once, excluded from the ratio)")
    ratios: dict[str, float] = {}
    for fmt, got in runs.items():
        glue_s, plain_s = statistics.median(got["glue"]), statistics.median(got["plain"])
        ratios[fmt] = ratio = glue_s / plain_s
        verdict = "PASS" if ratio <= GOAL else "MISS"
        print(f"orders as {fmt:<8} glue median {glue_s:.3f}s  plain median {plain_s:.3f}s  "
              f"glue_vs_plain {ratio:.2f}x  {verdict} (goal <= {GOAL}x)")
    if args.json:
        args.json.write_text(json.dumps({"smoke": args.smoke, "rows": args.rows,
                                         "startup_s": startup, "runs": runs,
                                         "ratios": ratios, "load": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
