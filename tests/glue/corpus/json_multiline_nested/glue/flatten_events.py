"""Flatten nested app events read from a multi-line JSON array."""
import sys

from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "EVENTS_PATH", "OUTPUT_PATH"])
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)

events = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["EVENTS_PATH"]]},
    format="json", format_options={"multiLine": True})
events.printSchema()

picked = events.select_fields(["event_id", "kind", "payload.plan", "payload.seats"])
flat = picked.apply_mapping([
    ("event_id", "long", "event_id", "long"),
    ("kind", "string", "kind", "string"),
    ("payload.plan", "string", "plan", "string"),
    ("payload.seats", "long", "seats", "int"),
])

glueContext.write_dynamic_frame.from_options(
    frame=flat, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
    format="parquet")
