import re
import sys
from awsglue.transforms import *
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from awsglue.context import GlueContext
from awsglue.job import Job

args = getResolvedOptions(sys.argv, ["JOB_NAME", "CRM_DATABASE", "TARGET_PATH", "COUNTRIES"])
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

# Script generated for node AWS Glue Data Catalog
AWSGlueDataCatalog_node1 = glueContext.create_dynamic_frame.from_catalog(
    database=args["CRM_DATABASE"], table_name="customers",
    transformation_ctx="AWSGlueDataCatalog_node1")

# Script generated for node Select Fields
SelectFields_node2 = SelectFields.apply(
    frame=AWSGlueDataCatalog_node1,
    paths=["id", "name", "email", "phone", "country", "legacy_code"],
    transformation_ctx="SelectFields_node2")

# Script generated for node Drop Null Fields
DropNullFields_node3 = DropNullFields.apply(frame=SelectFields_node2,
                                            transformation_ctx="DropNullFields_node3")

# Script generated for node Filter
Filter_node4 = Filter.apply(
    frame=DropNullFields_node3,
    f=lambda row: (bool(re.match(args["COUNTRIES"], row["country"]))),
    transformation_ctx="Filter_node4")

# Script generated for node Amazon S3
AmazonS3_node5 = glueContext.write_dynamic_frame.from_options(
    frame=Filter_node4, connection_type="s3", format="glueparquet",
    connection_options={"path": args["TARGET_PATH"], "partitionKeys": []},
    format_options={"compression": "snappy"}, transformation_ctx="AmazonS3_node5")
job.commit()
