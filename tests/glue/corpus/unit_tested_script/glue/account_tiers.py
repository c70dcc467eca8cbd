"""Active billing accounts with a spend tier. The transformation lives in functions so the
project's tests (tests/) can run it on small frames."""
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.transforms import ApplyMapping, Filter, Map
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext


def active_accounts(frame: DynamicFrame) -> DynamicFrame:
    """Typed accounts whose status is active."""
    typed = ApplyMapping.apply(frame=frame, mappings=[
        ("account_id", "string", "account_id", "string"),
        ("status", "string", "status", "string"),
        ("spend", "string", "spend", "double"),
    ])
    return Filter.apply(frame=typed, f=lambda r: r["status"] == "active")


def with_tiers(frame: DynamicFrame, gold_from: float) -> DynamicFrame:
    """Each account's tier: gold from ``gold_from`` spend on, standard below it."""
    def tier(rec):
        rec["tier"] = "gold" if rec["spend"] >= gold_from else "standard"
        del rec["status"]
        return rec

    return Map.apply(frame=frame, f=tier)


def main(argv: list) -> None:
    args = getResolvedOptions(argv, ["JOB_NAME", "ACCOUNTS_PATH", "OUTPUT_PATH", "GOLD_FROM"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    accounts = glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": [args["ACCOUNTS_PATH"]]},
        format="csv", format_options={"withHeader": True})
    tiers = with_tiers(active_accounts(accounts), float(args["GOLD_FROM"]))
    glue_context.write_dynamic_frame.from_options(
        frame=tiers, connection_type="s3", connection_options={"path": args["OUTPUT_PATH"]},
        format="parquet")


if __name__ == "__main__":
    main(sys.argv)
