"""A Glue script written against the real ``awsglue`` API, deployed on the local target:
catalog reads through the aws target's database names, ApplyMapping, a partitioned write to
``${output:}``, a catalog write to the second output, and Glue's own job bookmarks (the
second run reads only the new day's file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sluice.deploy.deployer import deploy
from sluice.flow.releases import make_release
from tests.deploy.test_glue_job import day, make_project, open_ws

CONFIG = """\
project: gluey
sources:
  raw.sales:
    format: csv
    path: sales/*.csv
    contract:
      columns: {day: VARCHAR, store: VARCHAR, currency: VARCHAR, amount: DOUBLE}
datasets:
  curated.sales:
    contract:
      columns: {store: VARCHAR, amount: DOUBLE, day: VARCHAR}
    rules: quality/sales.dqdl
  curated.stores:
    contract:
      columns: {store: VARCHAR, n: BIGINT}
jobs:
  sales:
    type: glue
    script: glue/sales.py
    inputs: [raw.sales]
    outputs: [curated.sales, curated.stores]
    arguments:
      --DATABASE: ${env}_raw
      --OUTPUT_PATH: ${output:curated.sales}
      --job-bookmark-option: job-bookmark-enable
environments:
  dev: {target: {type: local}}
"""

RULES = 'Rules = [ RowCount > 0, ColumnValues "amount" >= 0 ]\n'

SCRIPT = """\
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "DATABASE", "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
sales = glueContext.create_dynamic_frame.from_catalog(
    database=args["DATABASE"], table_name="sales", transformation_ctx="sales")
sales = ApplyMapping.apply(frame=sales, mappings=[
    ("store", "string", "store", "string"), ("amount", "double", "amount", "double"),
    ("day", "string", "day", "string")], transformation_ctx="mapped")
glueContext.write_dynamic_frame.from_options(
    frame=sales, connection_type="s3", format="parquet",
    connection_options={"path": args["OUTPUT_PATH"], "partitionKeys": ["day"]})
stores = sales.toDF().groupBy("store").count().withColumnRenamed("count", "n")
glueContext.write_dynamic_frame.from_catalog(
    frame=DynamicFrame.fromDF(stores, glueContext, "stores"),
    database="curated", table_name="stores")
job.commit()
"""

@pytest.mark.spark
@pytest.mark.slow
def test_a_glue_script_runs_as_written_with_glues_bookmarks(tmp_path: Path,
                                                             spark_runtime: None) -> None:
    saved = {k: os.environ.pop(k) for k in ("SLUICE_HOME", "SLUICE_STATE_URL")
             if k in os.environ}
    root = make_project(tmp_path / "gluey", {"sluice.yaml": CONFIG, "glue/sales.py": SCRIPT,
                                             "quality/sales.dqdl": RULES})
    objects = root / ".sluice" / "envs" / "dev" / "objects"
    (objects / "sales").mkdir(parents=True)
    day(objects, "2024-01-01", [("lyon", "EUR", 10.0), ("nice", "EUR", 4.0)])
    try:
        with open_ws(root) as ws:
            release, _ = make_release(ws)
            first = deploy(ws, "dev", release.id, actor="ann")
            assert first.rows == {"curated.sales": 2, "curated.stores": 2}
            con = ws.target("dev").engine().con
            assert con.execute("SELECT day, store, amount FROM curated.sales "
                               "ORDER BY store").fetchall() == [
                ("2024-01-01", "lyon", 10.0), ("2024-01-01", "nice", 4.0)]
            day(objects, "2024-01-02", [("lyon", "EUR", 7.0)])
            deploy(ws, "dev", release.id, actor="ann", kind="run", force_all=True)
            con = ws.target("dev").engine().con
            assert con.execute("SELECT day, store, amount FROM curated.sales").fetchall() == [
                ("2024-01-02", "lyon", 7.0)]
            assert con.execute("SELECT store, n FROM curated.stores").fetchall() == [
                ("lyon", 1)]
    finally:
        os.environ.update(saved)
