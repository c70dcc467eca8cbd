"""Glue crawlers: created on moto, left alone when unchanged; the update (which moto lacks)
through botocore's Stubber with the exact parameters."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from sluice.targets.aws.crawlers import CrawlerSpec, deploy_crawler, planned
from sluice.targets.aws.session import AwsSession, AwsSettings

pytestmark = pytest.mark.aws
ROLE = "arn:aws:iam::123456789012:role/crawler"


def spec(path: str = "s3://b/raw/orders/", schedule: str | None = None) -> CrawlerSpec:
    return CrawlerSpec("retail-dev-raw", ROLE, "dev_raw", (path,), schedule, "raw files")


def test_created_then_left_alone(aws: str) -> None:
    s = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="ci")
    assert planned(s, spec()) == "create"
    assert deploy_crawler(s, spec()) is True
    writes: list[str] = []
    s.client("glue").meta.events.register("before-call.glue", lambda event_name, **_: writes
                                          .append(event_name) if "GetCrawler" not in event_name
                                          else None)
    assert planned(s, spec()) == "none"
    assert deploy_crawler(s, spec()) is False and writes == []
    assert planned(s, spec("s3://b/raw/other/")) == "update"


def test_a_changed_crawler_is_updated_with_exactly_its_new_definition() -> None:
    s = AwsSession(AwsSettings("eu-west-1"), env="dev", actor="ci")
    glue = s.client("glue")
    live: dict[str, Any] = {"Name": "retail-dev-raw", "Role": ROLE, "DatabaseName": "dev_raw",
                            "Targets": {"S3Targets": [{"Path": "s3://b/raw/orders/"}]},
                            "Schedule": {"ScheduleExpression": "cron(0 5 * * ? *)"}}
    with Stubber(glue) as stub:
        stub.add_response("get_crawler", {"Crawler": live}, {"Name": "retail-dev-raw"})
        stub.add_response("update_crawler", {}, {
            "Name": "retail-dev-raw", "Role": ROLE, "DatabaseName": "dev_raw",
            "Description": "raw files",
            "Targets": {"S3Targets": [{"Path": "s3://b/raw/v2/"}]}, "Schedule": ""})
        assert deploy_crawler(s, spec("s3://b/raw/v2/")) is True
        stub.assert_no_pending_responses()
