"""Supplier products with consistent types: prices as double, stock as int."""
import sys

from awsglue.context import GlueContext
from awsglue.transforms import DropFields, RenameField, ResolveChoice
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "FEED_PATH", "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())

feed = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["FEED_PATH"]]}, format="json")
feed.printSchema()  # price and stock: choice types

resolved = ResolveChoice.apply(frame=feed,
                               specs=[("price", "cast:double"), ("stock", "cast:int")],
                               transformation_ctx="resolved")
tidy = DropFields.apply(frame=resolved, paths=["internal_note"], transformation_ctx="tidy")
renamed = RenameField.apply(frame=tidy, old_name="name", new_name="title",
                            transformation_ctx="renamed")

glueContext.write_dynamic_frame.from_options(
    frame=renamed, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
    format="parquet")
