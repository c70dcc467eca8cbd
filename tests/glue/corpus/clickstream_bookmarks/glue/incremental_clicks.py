"""Daily click files to Parquet, incrementally: the job bookmark of "clicks_source" makes
each run read only files it has not read before (Job.commit records them)."""
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH"])

sc = SparkContext()
glueContext = GlueContext(sc)
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

clicks = glueContext.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["SOURCE_PATH"]], "recurse": True},
    format="json",
    transformation_ctx="clicks_source")
print("new clicks:", clicks.count())

mapped = ApplyMapping.apply(
    frame=clicks,
    mappings=[("event_id", "string", "event_id", "string"),
              ("user_id", "long", "user_id", "long"),
              ("page", "string", "page", "string"),
              ("ts", "string", "event_time", "string")],
    transformation_ctx="mapped")

glueContext.write_dynamic_frame.from_options(
    frame=mapped, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
    format="parquet", transformation_ctx="clicks_sink")
job.commit()
