"""Members with a derived full name and age bracket; minors are filtered out."""
import sys

from awsglue.context import GlueContext
from awsglue.transforms import Filter, Map
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH", "AS_OF_YEAR"])
AS_OF = int(args["AS_OF_YEAR"])

glueContext = GlueContext(SparkContext.getOrCreate())
members = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["SOURCE_PATH"]]}, format="json")


def bracket(age):
    if age < 18:
        return "minor"
    if age < 35:
        return "18-34"
    return "35-64" if age < 65 else "65+"


def enrich(rec):
    rec["full_name"] = f'{rec["first"]} {rec["last"]}'
    rec["age"] = AS_OF - rec["birth_year"]
    rec["bracket"] = bracket(rec["age"])
    for field in ("first", "last", "birth_year"):
        del rec[field]
    return rec


enriched = Map.apply(frame=members, f=enrich, transformation_ctx="enriched")
adults = Filter.apply(frame=enriched, f=lambda rec: rec["age"] >= 18,
                      transformation_ctx="adults")
print("adults:", adults.count(), "of", members.count())

glueContext.write_dynamic_frame.from_options(
    frame=adults, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
    format="parquet")
