"""Members per chamber: the curated chambers (a catalog table) joined with memberships."""
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "CURATED_DATABASE", "MEMBERSHIPS_PATH",
                                     "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

orgs = glueContext.create_dynamic_frame.from_catalog(database=args["CURATED_DATABASE"],
                                                     table_name="orgs")
memberships = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["MEMBERSHIPS_PATH"]]},
    format="json")

joined = orgs.join(["org_id"], ["organization_id"], memberships)
counts = joined.toDF().groupBy("org_name", "chamber").count() \
    .withColumnRenamed("count", "members")

glueContext.write_dynamic_frame.from_options(
    frame=DynamicFrame.fromDF(counts, glueContext, "counts"), connection_type="s3",
    connection_options={"path": args["OUTPUT_PATH"]}, format="parquet")
job.commit()
