"""Split customers into a personal-data frame and a public one, written to two datasets."""
import sys

from awsglue.context import GlueContext
from awsglue.transforms import SelectFromCollection, SplitFields
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "PII_PATH", "PROFILES_PATH"])
glueContext = GlueContext(SparkContext.getOrCreate())

customers = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["SOURCE_PATH"]]}, format="json")

split = SplitFields.apply(frame=customers, paths=["customer_id", "email", "phone"],
                          name1="pii", name2="profiles", transformation_ctx="split")
print("frames:", sorted(split.keys()))

for key, path in (("pii", args["PII_PATH"]), ("profiles", args["PROFILES_PATH"])):
    glueContext.write_dynamic_frame.from_options(
        frame=SelectFromCollection.apply(dfc=split, key=key), connection_type="s3",
        connection_options={"path": path}, format="parquet")
