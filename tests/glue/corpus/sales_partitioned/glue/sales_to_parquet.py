"""Sales from the raw catalog to Parquet, typed and partitioned by year and month."""
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import ApplyMapping
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_DATABASE", "OUTPUT_PATH"])
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

datasource0 = glueContext.create_dynamic_frame.from_catalog(
    database=args["SOURCE_DATABASE"], table_name="sales", transformation_ctx="datasource0")
applymapping1 = ApplyMapping.apply(
    frame=datasource0,
    mappings=[("order_id", "string", "order_id", "long"),
              ("order_date", "string", "order_date", "date"),
              ("region", "string", "region", "string"),
              ("amount", "string", "amount", "double")],
    transformation_ctx="applymapping1")

with_parts = applymapping1.toDF().withColumn("year", F.year("order_date")) \
    .withColumn("month", F.month("order_date"))
partitioned = DynamicFrame.fromDF(with_parts, glueContext, "partitioned")

glueContext.write_dynamic_frame.from_options(
    frame=partitioned, connection_type="s3",
    connection_options={"path": args["OUTPUT_PATH"], "partitionKeys": ["year", "month"]},
    format="parquet", transformation_ctx="datasink2")
job.commit()
