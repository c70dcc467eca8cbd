"""Glue benchmark: the performance goals of issue 14, measured side by side in one run.

    python benchmarks/glue/run.py [--rows N] [--repeat K] [--json FILE]

1. Runtime overhead: the same transformation (read Parquet, rename and cast columns, write
   Parquet partitioned by day) as a Glue script on sluice's ``awsglue`` runtime
   (``create_dynamic_frame.from_options``, ``ApplyMapping``, ``write_dynamic_frame``) and as
   plain PySpark DataFrame calls, alternated in ONE SparkSession, K times each: the medians'
   ratio must be ≤ 1.2. Spark's start-up is measured once and reported apart.
2. Spark once per deploy: a project with one glue job and one with five jobs (three glue,
   two pyspark) over the same source, each deployed on the local target. Every job writes its
   SparkContext's ``applicationId`` into its output, so the number of Spark starts is read
   from the data; the five-job deploy must take ≤ 1.5x the one-job deploy.

Prints a table with PASS/MISS per goal; ``--json FILE`` saves every measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shared import ensure_project_python

OVERHEAD_MAX = 1.2
DEPLOY_RATIO_MAX = 1.5
GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
MAPPINGS = [("event_id", "long", "id", "long"), ("amount", "double", "amount_eur", "double"),
            ("status", "string", "state", "string"), ("day", "string", "day", "string")]

# ----------------------------------------------------------------- 1. runtime overhead


def _source(folder: Path, rows: int) -> Path:
    import duckdb

    folder.mkdir(parents=True)
    path = folder / "events.parquet"
    duckdb.sql(f"""COPY (SELECT range AS event_id, ((range * 7919) % 100000) / 100.0 AS amount,
                   CASE range % 3 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' ELSE 'shipped' END
                   AS status, '2024-01-' || lpad(CAST(range % 28 + 1 AS VARCHAR), 2, '0')
                   AS day FROM range({rows})) TO '{path}' (FORMAT parquet)""")
    return folder


def overhead(work: Path, rows: int, repeat: int) -> dict[str, Any]:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from sluice.glue import runtime_path

    src = _source(work / "src", rows)
    t0 = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").appName("sluice-glue-bench")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()
    startup = time.perf_counter() - t0
    sys.path.insert(0, str(runtime_path()))
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.transforms import ApplyMapping  # type: ignore[import-not-found]

    glue_context = GlueContext(spark.sparkContext)

    def plain(out: str) -> None:
        df = spark.read.parquet(str(src))
        df.select(*(F.col(a).cast(t).alias(b) for a, _, b, t in MAPPINGS)) \
            .write.partitionBy("day").parquet(out)

    def glue(out: str) -> None:
        frame = glue_context.create_dynamic_frame.from_options(
            connection_type="s3", connection_options={"paths": [str(src)]}, format="parquet")
        frame = ApplyMapping.apply(frame=frame, mappings=MAPPINGS)
        glue_context.write_dynamic_frame.from_options(
            frame=frame, connection_type="s3", format="parquet",
            connection_options={"path": out, "partitionKeys": ["day"]})

    samples: dict[str, list[float]] = {"plain": [], "glue": []}
    for i in range(repeat + 1):  # the first round warms the JIT and the caches: not counted
        for name, fn in (("plain", plain), ("glue", glue)):
            out = work / f"{name}-{i}"
            t = time.perf_counter()
            fn(str(out))
            if i:
                samples[name].append(time.perf_counter() - t)
            shutil.rmtree(out)
    spark.stop()
    ratio = statistics.median(samples["glue"]) / statistics.median(samples["plain"])
    return {"rows": rows, "spark_startup_s": startup, "samples": samples,
            "plain_s": statistics.median(samples["plain"]),
            "glue_s": statistics.median(samples["glue"]), "ratio": ratio,
            "pass": ratio <= OVERHEAD_MAX}


# ----------------------------------------------------------------- 2. Spark once per deploy

GLUE_SCRIPT = """\
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
frame = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["SOURCE_PATH"]]}, format="csv",
    format_options={"withHeader": True})
df = (frame.toDF().groupBy("kind").count()
      .withColumn("app", F.lit(glueContext.spark_session.sparkContext.applicationId)))
glueContext.write_dynamic_frame.from_options(
    frame=DynamicFrame.fromDF(df, glueContext, "out"), connection_type="s3",
    connection_options={"path": args["OUTPUT_PATH"]}, format="parquet")
job.commit()
"""

PYSPARK_SCRIPT = """\
import argparse

from pyspark.sql import SparkSession, functions as F

parser = argparse.ArgumentParser()
for flag in ("--input", "--output", "--param"):
    parser.add_argument(flag, action="append", default=[])
args = parser.parse_args()
inputs = dict(a.split("=", 1) for a in args.input)
outputs = dict(a.split("=", 1) for a in args.output)
spark = SparkSession.builder.master("local[1]").getOrCreate()
(spark.read.parquet(inputs["raw.events"]).groupBy("kind").count()
 .withColumn("app", F.lit(spark.sparkContext.applicationId))
 .write.parquet(outputs[next(iter(outputs))]))
"""


def _project(root: Path, jobs: int) -> Path:
    lines = ["project: gluebench", "sources:",
             "  raw.events: {format: csv, path: events/*.csv}", "jobs:"]
    for i in range(jobs):
        out = f"marts.counts_{i}"
        if i % 5 in (3, 4):
            lines += [f"  counts_{i}:", "    type: pyspark", "    script: jobs/counts.py",
                      "    inputs: [raw.events]", f"    outputs: [{out}]"]
        else:
            lines += [f"  counts_{i}:", "    type: glue", "    script: glue/counts.py",
                      "    inputs: [raw.events]", f"    outputs: [{out}]", "    arguments:",
                      "      --SOURCE_PATH: ${input:raw.events}",
                      f"      --OUTPUT_PATH: ${{output:{out}}}"]
    lines += ["datasets:", *(f"  marts.counts_{i}: {{}}" for i in range(jobs)),
              "environments:", "  dev: {target: {type: local}}"]
    root.mkdir(parents=True)
    (root / "sluice.yaml").write_text("\n".join(lines) + "\n")
    for rel, text in (("glue/counts.py", GLUE_SCRIPT), ("jobs/counts.py", PYSPARK_SCRIPT)):
        (root / rel).parent.mkdir(exist_ok=True)
        (root / rel).write_text(text)
    (root / ".gitignore").write_text(".sluice/\n")
    events = root / ".sluice" / "envs" / "dev" / "objects" / "events"
    events.mkdir(parents=True)
    (events / "e.csv").write_text("kind,at\n" + "".join(f"k{i % 7},{i}\n" for i in range(1000)))
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                       env={**os.environ, **GIT_ENV})
    return root


def _deploy(root: Path) -> tuple[float, int]:
    from sluice.deploy.deployer import deploy
    from sluice.flow.releases import make_release
    from sluice.project.workspace import Workspace

    ws = Workspace.open(root)
    try:
        release, _ = make_release(ws, actor="bench")
        t0 = time.perf_counter()
        outcome = deploy(ws, "dev", release.id, actor="bench")
        seconds = time.perf_counter() - t0
        con = ws.target("dev").engine().con  # type: ignore[attr-defined]
        apps = {row[0] for d in outcome.versions
                for row in con.execute(f"SELECT DISTINCT app FROM {d}").fetchall()}
        return seconds, len(apps)
    finally:
        ws.close()


def spark_once(work: Path) -> dict[str, Any]:
    one_s, one_starts = _deploy(_project(work / "one", 1))
    five_s, five_starts = _deploy(_project(work / "five", 5))
    ratio = five_s / one_s
    return {"one_job_s": one_s, "five_jobs_s": five_s, "ratio": ratio,
            "spark_starts_one": one_starts, "spark_starts_five": five_starts,
            "pass": ratio <= DEPLOY_RATIO_MAX and five_starts == 1}


def main() -> None:
    ensure_project_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.pop("SLUICE_HOME", None)
    with tempfile.TemporaryDirectory(prefix="sluice-glue-bench-") as tmp:
        work = Path(tmp)
        print(f"[1/2] runtime overhead: {args.rows:,} rows, {args.repeat} rounds", flush=True)
        first = overhead(work / "overhead", args.rows, args.repeat)
        print(f"      glue {first['glue_s']:.2f}s, plain {first['plain_s']:.2f}s", flush=True)
        print("[2/2] one deploy of 5 jobs vs of 1 job", flush=True)
        second = spark_once(work / "deploys")
    print(f"\n{'goal':<52} {'measured':>28}  result")
    print(f"{'glue runtime vs plain PySpark, ≤ ' + str(OVERHEAD_MAX) + 'x':<52} "
          f"{first['glue_s']:.2f}s / {first['plain_s']:.2f}s = {first['ratio']:.2f}x  "
          f"{'PASS' if first['pass'] else 'MISS'}")
    print(f"{'  (Spark start-up, excluded)':<52} {first['spark_startup_s']:>27.2f}s")
    print(f"{'deploy of 5 jobs vs 1 job, ≤ ' + str(DEPLOY_RATIO_MAX) + 'x, Spark once':<52} "
          f"{second['five_jobs_s']:.1f}s / {second['one_job_s']:.1f}s = "
          f"{second['ratio']:.2f}x, {second['spark_starts_five']} starts  "
          f"{'PASS' if second['pass'] else 'MISS'}")
    if args.json:
        args.json.write_text(json.dumps({"overhead": first, "spark_once": second}, indent=2))


if __name__ == "__main__":
    main()
