import sys
from awsglue.transforms import *
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from awsglue.context import GlueContext
from awsglue.job import Job

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "TARGET_PATH"])
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

# Script generated for node Amazon S3
AmazonS3_node1764750000001 = glueContext.create_dynamic_frame.from_options(
    format_options={"quoteChar": '"', "withHeader": True, "separator": ";",
                    "optimizePerformance": False},
    connection_type="s3",
    format="csv",
    connection_options={"paths": [args["SOURCE_PATH"]], "recurse": True},
    transformation_ctx="AmazonS3_node1764750000001",
)

# Script generated for node Change Schema
ChangeSchema_node1764750000002 = ApplyMapping.apply(
    frame=AmazonS3_node1764750000001,
    mappings=[
        ("order id", "string", "order_id", "long"),
        ("customer", "string", "customer", "string"),
        ("qty", "string", "quantity", "int"),
        ("unit price", "string", "unit_price", "double"),
        ("status", "string", "status", "string"),
    ],
    transformation_ctx="ChangeSchema_node1764750000002",
)

# Script generated for node Amazon S3
AmazonS3_node1764750000003 = glueContext.write_dynamic_frame.from_options(
    frame=ChangeSchema_node1764750000002,
    connection_type="s3",
    format="glueparquet",
    connection_options={"path": args["TARGET_PATH"], "partitionKeys": []},
    format_options={"compression": "snappy"},
    transformation_ctx="AmazonS3_node1764750000003",
)

job.commit()
