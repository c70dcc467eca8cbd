"""Spark once per deploy: a deploy of 5 PySpark and Glue jobs against a deploy of 1 job, both
with the shared Spark driver, and (beside them, not with --smoke) the 5 jobs with one process
each.

    python benchmarks/glue/deploy_jobs.py [--rows N] [--repeat N] [--json FILE] [--smoke]

Builds, in a temporary git repository, two projects over the same CSV source of ``--rows``
rows: ``one`` with one PySpark job, ``five`` with five (each a different aggregate of the
source, each its own dataset with a contract): three PySpark jobs and, between them, two Glue
scripts (getResolvedOptions, GlueContext, Job.init/commit, a DynamicFrame read of the source's
CSV folder and write to ``${output:}``). Every repeat deploys each of them again
(``force_all``: every job recomputes), round-robin, timing the whole ``deploy()`` call: gates,
export to Parquet, Spark, audits, publish. Each deploy opens its own scope, so each starts its
own driver and Spark: start-up is in both numbers, as a user sees it. The jobs count the
SparkContexts they started themselves (a line in a file when ``getOrCreate`` had none to
return), so the count does not trust the driver. Goals of issue 14: one Spark start per
deploy, and the 5-job deploy within 1.5x the 1-job deploy (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from shared import ensure_project_python, load_line  # noqa: E402

GOAL_RATIO = 1.5
STARTS_ENV = "BENCH_SPARK_STARTS_FILE"

JOB = """\
import argparse, os
from pyspark import SparkContext
from pyspark.sql import SparkSession, functions as F

parser = argparse.ArgumentParser()
parser.add_argument("--input", action="append", default=[])
parser.add_argument("--output", action="append", default=[])
parser.add_argument("--param", action="append", default=[])
args = parser.parse_args()
inputs = dict(a.split("=", 1) for a in args.input)
outputs = dict(a.split("=", 1) for a in args.output)
if SparkContext._active_spark_context is None:
    with open(os.environ["{starts}"], "a") as fh:
        fh.write("start\\n")
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2").getOrCreate())
events = spark.read.parquet(inputs["raw.events"])
(events.groupBy((F.col("id") % {modulus}).alias("bucket"))
 .agg(F.count("*").alias("n"), F.sum("amount").alias("total"))
 .write.parquet(outputs["marts.agg_{i}"]))
spark.stop()
"""

GLUE_JOB = """\
import os, sys
from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "EVENTS_PATH", "OUTPUT_PATH"])
if SparkContext._active_spark_context is None:
    with open(os.environ["{starts}"], "a") as fh:
        fh.write("start\\n")
glue = GlueContext(SparkContext.getOrCreate())
job = Job(glue)
job.init(args["JOB_NAME"], args)
events = glue.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={{"paths": [args["EVENTS_PATH"]]}},
    format="csv", format_options={{"withHeader": True}}, transformation_ctx="events").toDF()
agg = (events.groupBy((F.col("id").cast("long") % {modulus}).alias("bucket"))
       .agg(F.count("*").alias("n"), F.sum(F.col("amount").cast("double")).alias("total")))
glue.write_dynamic_frame.from_options(
    frame=DynamicFrame.fromDF(agg, glue, "agg"), connection_type="s3",
    connection_options={{"path": args["OUTPUT_PATH"]}}, format="parquet")
job.commit()
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_project(where: Path, jobs: int, rows: int) -> Path:
    """A git project of ``jobs`` PySpark and Glue jobs over one CSV source, sample data in
    dev."""
    root = where / f"jobs{jobs}"
    (root / "jobs").mkdir(parents=True)
    lines = ["project: bench", "sources:", "  raw.events: {format: csv, path: events/*.csv}",
             "datasets:"]
    for i in range(jobs):
        lines += [f"  marts.agg_{i}:", "    contract:", "      columns:",
                  "        bucket: {type: BIGINT, nullable: false}",
                  "        n: {type: BIGINT, nullable: false}",
                  "        total: {type: DOUBLE}", "      primary_key: [bucket]"]
    lines.append("jobs:")
    for i in range(jobs):
        glue = i % 2 == 1  # in the 5-job project, jobs 1 and 3 are Glue scripts
        lines += [f"  agg_{i}:", f"    type: {'glue' if glue else 'pyspark'}",
                  f"    script: jobs/agg_{i}.py", "    inputs: [raw.events]",
                  f"    outputs: [marts.agg_{i}]"]
        if glue:
            lines += ["    arguments:", "      --EVENTS_PATH: ${input:raw.events}",
                      f"      --OUTPUT_PATH: ${{output:marts.agg_{i}}}"]
        (root / "jobs" / f"agg_{i}.py").write_text(
            (GLUE_JOB if glue else JOB).format(starts=STARTS_ENV, modulus=7 + i, i=i),
            encoding="utf-8")
    lines += ["environments:", "  dev: {target: {type: local}}", ""]
    (root / "sluice.yaml").write_text("\n".join(lines), encoding="utf-8")
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    events = root / ".sluice" / "envs" / "dev" / "objects" / "events"
    events.mkdir(parents=True)
    with (events / "events.csv").open("w", encoding="utf-8") as fh:
        fh.write("id,amount\n")
        fh.writelines(f"{n},{(n * 37) % 1000 / 10}\n" for n in range(rows))
    _git(root, "init", "-q")
    _git(root, "config", "user.name", "bench")
    _git(root, "config", "user.email", "bench@example.com")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    return root


def timed_deploy(root: Path, starts: Path, shared: bool) -> tuple[float, int]:
    """Seconds of one deploy of every job, and the Spark starts the jobs counted."""
    from sluice.deploy.deployer import deploy
    from sluice.deploy.spark_driver import SHARED_ENV
    from sluice.flow.releases import make_release
    from sluice.project.workspace import Workspace

    starts.write_text("")
    os.environ[SHARED_ENV] = "1" if shared else "0"
    ws = Workspace.open(root)
    try:
        manifest, _ = make_release(ws)
        began = time.perf_counter()
        deploy(ws, "dev", manifest.id, actor="bench", force_all=True)
        seconds = time.perf_counter() - began
    finally:
        ws.close()
        os.environ.pop(SHARED_ENV, None)
    return seconds, len(starts.read_text().splitlines())


def main() -> None:
    ensure_project_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true",
                        help="1,000 rows, one repeat, no per-process peer: shows the script "
                             "works (its timings mean little)")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeat = 1_000, 1
    os.environ["SLUICE_USER"] = "bench"
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    contenders = [("deploy 1 job", 1, True), ("deploy 5 jobs", 5, True)]
    if not args.smoke:
        contenders.append(("deploy 5 jobs, a process each", 5, False))
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
    spark_starts: dict[str, list[int]] = {name: [] for name, _, _ in contenders}
    with tempfile.TemporaryDirectory(prefix="sluice-bench-glue-") as tmp:
        starts = Path(tmp) / "spark-starts.log"
        os.environ[STARTS_ENV] = str(starts)
        projects = {n: make_project(Path(tmp), n, args.rows) for n in (1, 5)}
        for _ in range(args.repeat):
            for name, jobs, shared in contenders:
                took, started = timed_deploy(projects[jobs], starts, shared)
                seconds[name].append(took)
                spark_starts[name].append(started)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = medians["deploy 5 jobs"] / medians["deploy 1 job"]
    most_starts = max(spark_starts["deploy 5 jobs"])
    print(load_line())
    print(f"rows {args.rows}, repeats {args.repeat}")
    for name in seconds:
        print(f"{name:30} median {medians[name]:7.2f}s  spark starts "
              f"{'/'.join(map(str, spark_starts[name]))}")
    print(f"spark starts per 5-job deploy   {most_starts}  "
          f"{'PASS' if most_starts == 1 else 'MISS'} (goal 1)")
    print(f"5 jobs / 1 job                  {ratio:.2f}x  "
          f"{'PASS' if ratio <= GOAL_RATIO else 'MISS'} (goal <= {GOAL_RATIO}x)")
    if "deploy 5 jobs, a process each" in medians:
        print(f"a process each / shared driver  "
              f"{medians['deploy 5 jobs, a process each'] / medians['deploy 5 jobs']:.2f}x")
    if args.json:
        results: dict[str, Any] = {"seconds": seconds, "spark_starts": spark_starts,
                                   "ratio": ratio, "rows": args.rows, "smoke": args.smoke,
                                   "load": list(os.getloadavg())}
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
