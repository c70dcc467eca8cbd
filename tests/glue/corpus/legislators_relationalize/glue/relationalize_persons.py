"""Flatten nested persons with relationalize: a root table and a contact-details table."""
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.transforms import SelectFromCollection
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "PERSONS_PATH", "PERSONS_OUTPUT",
                                     "CONTACTS_OUTPUT", "TempDir"])
glueContext = GlueContext(SparkContext.getOrCreate())

persons = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["PERSONS_PATH"]]}, format="json")

dfc = persons.relationalize("root", args["TempDir"])
print("tables:", sorted(dfc.keys()))

# struct fields become dotted columns; the array becomes a long id into root_contact_details
root = dfc.select("root").toDF().selectExpr(
    "id", "`name.given` AS given_name", "`name.family` AS family_name",
    "contact_details AS contact_ref")
contacts = SelectFromCollection.apply(dfc=dfc, key="root_contact_details").toDF().selectExpr(
    "id AS contact_ref", "CAST(index AS INT) AS position",
    "`contact_details.val.type` AS kind", "`contact_details.val.value` AS value")

for frame, path in ((root, args["PERSONS_OUTPUT"]), (contacts, args["CONTACTS_OUTPUT"])):
    glueContext.write_dynamic_frame.from_options(
        frame=DynamicFrame.fromDF(frame, glueContext, "out"), connection_type="s3",
        connection_options={"path": path}, format="parquet")
