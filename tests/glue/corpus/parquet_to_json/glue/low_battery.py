"""Devices whose battery is below the threshold, as JSON lines for the field team."""
import sys

from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "TELEMETRY_PATH", "OUTPUT_PATH",
                                     "THRESHOLD"])
threshold = int(args["THRESHOLD"])
glueContext = GlueContext(SparkContext.getOrCreate())

telemetry = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["TELEMETRY_PATH"]],
                                              "recurse": True},
    format="parquet")

low = (telemetry.select_fields(["device_id", "fw", "battery_pct", "site"])
       .rename_field("device_id", "device")
       .rename_field("fw", "firmware")
       .filter(lambda r: r["battery_pct"] < threshold))

glueContext.write_dynamic_frame.from_options(
    frame=low, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
    format="json")
