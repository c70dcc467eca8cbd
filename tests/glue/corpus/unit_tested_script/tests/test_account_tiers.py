"""Unit tests of glue/account_tiers.py on small frames (sluice's glue_context fixture)."""
import importlib.util
from pathlib import Path

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from pyspark.context import SparkContext

_spec = importlib.util.spec_from_file_location(
    "account_tiers", Path(__file__).parents[1] / "glue" / "account_tiers.py")
assert _spec is not None and _spec.loader is not None
account_tiers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(account_tiers)

SCHEMA = "account_id string, status string, spend string"


def frame(glue_context, rows):
    df = glue_context.spark_session.createDataFrame(rows, SCHEMA)
    return DynamicFrame.fromDF(df, glue_context, "accounts")


def test_only_active_accounts_are_kept_and_spend_is_typed(glue_context):
    accounts = frame(glue_context, [("a", "active", "12.5"), ("b", "closed", "99"),
                                    ("c", "active", "0")])
    rows = sorted(account_tiers.active_accounts(accounts).toDF().collect())
    assert [(r["account_id"], r["spend"]) for r in rows] == [("a", 12.5), ("c", 0.0)]


def test_the_gold_tier_starts_at_its_threshold(glue_context):
    accounts = account_tiers.active_accounts(frame(
        glue_context, [("a", "active", "999.99"), ("b", "active", "1000"),
                       ("c", "active", "5000")]))
    tiers = {r["account_id"]: r["tier"]
             for r in account_tiers.with_tiers(accounts, 1000.0).toDF().collect()}
    assert tiers == {"a": "standard", "b": "gold", "c": "gold"}


def test_a_test_that_builds_its_own_glue_context():
    # existing Glue test suites build the context themselves instead of using the fixture
    glue_context = GlueContext(SparkContext.getOrCreate())
    accounts = frame(glue_context, [("a", "active", "1"), ("b", "suspended", "1")])
    assert account_tiers.active_accounts(accounts).count() == 1
