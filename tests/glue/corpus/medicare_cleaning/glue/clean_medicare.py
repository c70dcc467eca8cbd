"""Clean provider payment data: resolve the provider id's choice type, parse money strings,
nest the address with a Python function, then map to the published schema."""
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.transforms import Map
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql.functions import udf
from pyspark.sql.types import DoubleType

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())

medicare = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["SOURCE_PATH"]]}, format="csv",
    format_options={"withHeader": True, "separator": ","})

# "Provider Id" holds numbers and the odd text value: cast:long turns the text into nulls
medicare_res = medicare.resolveChoice(specs=[("Provider Id", "cast:long")])
medicare_df = medicare_res.toDF().where("`Provider Id` IS NOT NULL")


@udf(returnType=DoubleType())
def dollars(text):
    """'$5,777.24' -> 5777.24"""
    return float(text.strip().lstrip("$").replace(",", ""))


medicare_df = medicare_df.withColumn("avg_total_payments",
                                     dollars(medicare_df["Average Total Payments"]))
medicare_tmp = DynamicFrame.fromDF(medicare_df, glueContext, "medicare_tmp")


def nest_location(rec):
    rec["location"] = {"city": rec["Provider City"], "state": rec["Provider State"]}
    del rec["Provider City"]
    del rec["Provider State"]
    return rec


medicare_nest = Map.apply(frame=medicare_tmp, f=nest_location)

medicare_out = medicare_nest.apply_mapping([
    ("DRG Definition", "string", "drg", "string"),
    ("Provider Id", "long", "provider_id", "long"),
    ("Provider Name", "string", "provider", "string"),
    ("location.city", "string", "city", "string"),
    ("location.state", "string", "state", "string"),
    ("Total Discharges", "string", "discharges", "long"),
    ("avg_total_payments", "double", "avg_total_payments", "double"),
])

glueContext.write_dynamic_frame.from_options(
    frame=medicare_out, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
    format="parquet")
