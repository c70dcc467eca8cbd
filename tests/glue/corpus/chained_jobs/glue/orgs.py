"""Legislative chambers from the raw organizations table."""
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping, Filter
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "RAW_DATABASE", "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

orgs = glueContext.create_dynamic_frame.from_catalog(database=args["RAW_DATABASE"],
                                                     table_name="organizations")
chambers = Filter.apply(frame=orgs, f=lambda r: r["classification"] == "legislature")
out = ApplyMapping.apply(frame=chambers, mappings=[("id", "string", "org_id", "string"),
                                                   ("name", "string", "org_name", "string"),
                                                   ("seat", "string", "chamber", "string")])
glueContext.write_dynamic_frame.from_options(frame=out, connection_type="s3",
                                             connection_options={"path": args["OUTPUT_PATH"]},
                                             format="parquet")
job.commit()
