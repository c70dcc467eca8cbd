"""Stock at or below its reorder level, as a CSV extract for the purchasing team."""
import sys

from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "INVENTORY_PATH", "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())

inventory = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["INVENTORY_PATH"]]},
    format="csv", format_options={"withHeader": True, "separator": "|", "quoteChar": '"'})

typed = inventory.apply_mapping([
    ("sku", "string", "sku", "string"),
    ("warehouse", "string", "warehouse", "string"),
    ("on_hand", "string", "on_hand", "long"),
    ("reorder_level", "string", "reorder_level", "long"),
])
low = typed.filter(lambda rec: rec["on_hand"] < rec["reorder_level"])

glueContext.write_dynamic_frame.from_options(
    frame=low.coalesce(1), connection_type="s3",
    connection_options={"path": args["OUTPUT_PATH"]}, format="csv",
    format_options={"separator": ",", "writeHeader": True})
