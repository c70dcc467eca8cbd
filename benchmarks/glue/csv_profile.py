"""Where the Glue runtime's extra time over CSV goes: Spark jobs and the inference pass.

    python benchmarks/glue/csv_profile.py [--rows N] [--repeat K] [--json FILE] [--smoke]

Runs the two versions of ``runtime_overhead.py`` (the same functions, unchanged) over its
CSV orders in one local Spark session, alternately, K times each, and counts the Spark jobs
each version starts (one job group per run, ``statusTracker``). Beside them it times the
CSV read alone, as the runtime makes it (``inferSchema``: a job for the header and a job
over the whole file) and as the plain script makes it (strings: the header job only). It
prints the glue - plain gap and how much of it that inference pass is.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from runtime_overhead import generate, glue_version, plain_version  # noqa: E402
from shared import ensure_project_python, load_line  # noqa: E402


def measured(spark: Any, group: str, fn: Callable[[], object]) -> tuple[float, int]:
    """``fn``'s wall time and the number of Spark jobs it started."""
    spark.sparkContext.setJobGroup(group, group)
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    return seconds, len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def main() -> None:
    ensure_project_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="2,000 rows, one repeat")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeat = 2_000, 1
    from sluice.glue import runtime_path

    sys.path.insert(0, str(runtime_path()))
    print(load_line())
    with tempfile.TemporaryDirectory(prefix="sluice-bench-csvprof-") as tmp:
        orders, customers = generate(Path(tmp), args.rows)
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master("local[2]").appName("sluice-bench-csvprof")
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "4").getOrCreate())
        from awsglue.context import GlueContext

        glue = GlueContext(spark.sparkContext)
        src, dim, outs = str(orders), str(customers), Path(tmp) / "out"
        # a fresh reader each time: DataFrameReader.option changes the reader it is called on
        def csv(infer: bool) -> object:
            return spark.read.option("header", True).option("inferSchema", infer).csv(src)

        cases: dict[str, Callable[[int], object]] = {
            "glue script": lambda i: glue_version(glue, src, dim, str(outs / f"g{i}"), "csv"),
            "plain script": lambda i: plain_version(spark, src, dim, str(outs / f"p{i}"), "csv"),
            "csv read, inferSchema": lambda i: csv(True),
            "csv read, strings": lambda i: csv(False),
        }
        got: dict[str, list[tuple[float, int]]] = {name: [] for name in cases}
        for i in range(-1, args.repeat):  # run -1 is the warm-up, not kept
            for name, fn in cases.items():
                seconds, jobs = measured(spark, f"{name}-{i}", lambda f=fn, n=i: f(n))
                if i >= 0:
                    got[name].append((seconds, jobs))
        spark.stop()
    print(f"rows {args.rows}, repeats {args.repeat}")
    medians = {name: statistics.median(s for s, _ in runs) for name, runs in got.items()}
    for name, runs in got.items():
        jobs = sorted({j for _, j in runs})
        print(f"{name:<24} median {medians[name]:.3f}s  spark jobs {'/'.join(map(str, jobs))}")
    gap = medians["glue script"] - medians["plain script"]
    infer = medians["csv read, inferSchema"] - medians["csv read, strings"]
    share = f"{infer / gap:.0%} of the gap" if gap > 0 else "no gap"
    print(f"glue - plain {gap:.3f}s; inference pass {infer:.3f}s ({share})")
    if args.json:
        args.json.write_text(json.dumps({"smoke": args.smoke, "rows": args.rows, "runs": got,
                                         "load": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
