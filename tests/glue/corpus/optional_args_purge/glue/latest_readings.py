"""The most recent readings of one country; the row limit is an optional argument."""
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH", "COUNTRY"])
max_rows = None
if "--MAX_ROWS" in sys.argv:
    max_rows = int(getResolvedOptions(sys.argv, ["MAX_ROWS"])["MAX_ROWS"])
dry_run = "--DRY_RUN" in sys.argv  # not passed by this project: stays False

glueContext = GlueContext(SparkContext.getOrCreate())
logger = glueContext.get_logger()
logger.info(f"country={args['COUNTRY']} max_rows={max_rows} dry_run={dry_run}")

readings = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["SOURCE_PATH"]]}, format="csv",
    format_options={"withHeader": True}).repartition(2)
readings.printSchema()
readings.show(3)

ours = readings.filter(f=lambda r: r["country"] == args["COUNTRY"])
df = ours.toDF().selectExpr("sensor", "country", "CAST(reading AS DOUBLE) AS reading",
                            "CAST(taken_at AS TIMESTAMP) AS taken_at") \
    .orderBy("taken_at", ascending=False)
if max_rows is not None:
    df = df.limit(max_rows)
latest = DynamicFrame.fromDF(df, glueContext, "latest").coalesce(1)
logger.info(f"writing {latest.count()} readings")

if not dry_run:
    glueContext.purge_s3_path(args["OUTPUT_PATH"], {"retentionPeriod": 0})
    glueContext.write_dynamic_frame.from_options(
        frame=latest, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
        format="parquet")
