"""Revenue per customer country: an AWS Glue job, run as written.

The same script runs as a Glue job on AWS and, under sluice, on PySpark local mode through
sluice's ``awsglue`` runtime. Its arguments come from ``jobs.country_revenue.arguments`` in
sluice.yaml: ``--CUSTOMERS_PATH`` is where raw.customers lives in the environment,
``--OUTPUT_PATH`` the new version of marts.country_revenue (written, audited, then published),
``--ORDERS_DATABASE`` the Glue database of staging.orders.
"""

import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import ApplyMapping, Join
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv,
                          ["JOB_NAME", "ORDERS_DATABASE", "CUSTOMERS_PATH", "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

orders = glueContext.create_dynamic_frame.from_catalog(
    database=args["ORDERS_DATABASE"], table_name="orders", transformation_ctx="orders")
customers = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["CUSTOMERS_PATH"]]},
    format="json", transformation_ctx="customers")

orders = ApplyMapping.apply(frame=orders, mappings=[
    ("order_id", "long", "order_id", "long"),
    ("customer_id", "long", "customer_id", "long"),
    ("amount", "double", "amount", "double"),
    ("status", "string", "status", "string"),
], transformation_ctx="orders_mapped")
customers = ApplyMapping.apply(frame=customers, mappings=[
    ("customer_id", "long", "buyer_id", "long"),
    ("country", "string", "country", "string"),
], transformation_ctx="customers_mapped")
sold = Join.apply(orders, customers, "customer_id", "buyer_id")

revenue = (sold.toDF().where(F.col("status") != "cancelled")
           .groupBy("country")
           .agg(F.count("*").alias("orders"), F.round(F.sum("amount"), 2).alias("revenue")))
glueContext.write_dynamic_frame.from_options(
    frame=DynamicFrame.fromDF(revenue, glueContext, "country_revenue"),
    connection_type="s3",
    connection_options={"path": args["OUTPUT_PATH"], "partitionKeys": ["country"]},
    format="parquet", transformation_ctx="country_revenue")
job.commit()
