"""Join persons, memberships and organizations of the legislators catalog into a history."""
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import Join
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "DATABASE", "OUTPUT_PATH"])

glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

db_name = args["DATABASE"]
persons = glueContext.create_dynamic_frame.from_catalog(database=db_name, table_name="persons")
memberships = glueContext.create_dynamic_frame.from_catalog(database=db_name,
                                                            table_name="memberships")
orgs = glueContext.create_dynamic_frame.from_catalog(database=db_name, table_name="organizations")
print("persons:", persons.count(), "memberships:", memberships.count(), "orgs:", orgs.count())

# keep the organization's own fields, with names that cannot clash with a person's
orgs = (orgs.drop_fields(["other_names", "identifiers"])
        .rename_field("id", "org_id")
        .rename_field("name", "org_name"))

history = Join.apply(orgs, Join.apply(persons, memberships, "id", "person_id"),
                     "org_id", "organization_id").drop_fields(["person_id", "org_id", "image"])

glueContext.write_dynamic_frame.from_options(frame=history, connection_type="s3",
                                             connection_options={"path": args["OUTPUT_PATH"]},
                                             format="parquet")
job.commit()
