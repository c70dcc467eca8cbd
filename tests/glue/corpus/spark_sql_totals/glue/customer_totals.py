"""Revenue per customer with Spark SQL over a catalog table, written through the catalog."""
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_DATABASE", "TARGET_DATABASE",
                                     "MIN_AMOUNT"])
glueContext = GlueContext(SparkContext.getOrCreate())
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

orders = glueContext.create_data_frame.from_catalog(database=args["SOURCE_DATABASE"],
                                                    table_name="orders")
orders.createOrReplaceTempView("orders")

totals = spark.sql(f"""
    SELECT customer,
           COUNT(*) AS orders,
           CAST(SUM(CAST(amount AS DOUBLE)) AS DOUBLE) AS revenue
    FROM orders
    WHERE status <> 'cancelled' AND CAST(amount AS DOUBLE) >= {float(args["MIN_AMOUNT"])}
    GROUP BY customer
""")

glueContext.write_dynamic_frame.from_catalog(
    frame=DynamicFrame.fromDF(totals, glueContext, "totals"),
    database=args["TARGET_DATABASE"], table_name="customer_totals",
    transformation_ctx="totals_sink")
job.commit()
