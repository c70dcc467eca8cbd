"""Stores to a partitioned table whose catalog entry the sink keeps up to date."""
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH",
                                     "TARGET_DATABASE"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

stores = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["SOURCE_PATH"]]}, format="csv",
    format_options={"withHeader": True}, transformation_ctx="stores")
typed = ApplyMapping.apply(frame=stores, mappings=[
    ("store_id", "string", "store_id", "long"),
    ("name", "string", "name", "string"),
    ("country", "string", "country", "string"),
    ("opened", "string", "opened", "date"),
    ("sqm", "string", "sqm", "int"),
], transformation_ctx="typed")

sink = glueContext.getSink(
    path=args["OUTPUT_PATH"], connection_type="s3", updateBehavior="UPDATE_IN_DATABASE",
    partitionKeys=["country"], enableUpdateCatalog=True, transformation_ctx="sink")
sink.setCatalogInfo(catalogDatabase=args["TARGET_DATABASE"], catalogTableName="stores")
sink.setFormat("glueparquet")
sink.writeFrame(typed)
job.commit()
