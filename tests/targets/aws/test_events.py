"""SNS notifications and the EventBridge trigger for new source data, on moto's server."""

from __future__ import annotations

import json

import pytest

from sluice.targets.aws.events import ensure_source_trigger, ensure_topic, notify
from sluice.targets.aws.session import AwsSession, AwsSettings

pytestmark = pytest.mark.aws


def test_deployment_events_reach_the_environments_topic(aws: str) -> None:
    s = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="prod", actor="ci")
    topic = ensure_topic(s, "retail", "prod")
    assert ensure_topic(s, "retail", "prod") == topic  # idempotent
    sqs = s.client("sqs")
    queue = sqs.create_queue(QueueName="ops")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                              Attributes={"RawMessageDelivery": "true"})
    notify(s, topic, "approval_requested", "prod", {"release": "abc123", "by": "dana"})
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"]) == {"kind": "approval_requested", "env": "prod",
                                           "release": "abc123", "by": "dana"}


def test_new_data_under_a_source_prefix_triggers_the_workflow(aws: str) -> None:
    s = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="ci")
    s.client("s3").create_bucket(Bucket="landing",
                                 CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    sent: list[dict[str, object]] = []  # moto does not read this configuration back
    s.client("s3").meta.events.register(
        "provide-client-params.s3.PutBucketNotificationConfiguration",
        lambda params, **_: sent.append(dict(params)))
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:retail-nightly"
    rule = ensure_source_trigger(s, name="retail-dev-raw-orders", bucket="landing",
                                 prefix="raw/orders/", target_arn=machine,
                                 role_arn="arn:aws:iam::123456789012:role/events")
    events = s.client("events")
    described = events.describe_rule(Name="retail-dev-raw-orders")
    assert described["Arn"] == rule and described["State"] == "ENABLED"
    assert json.loads(described["EventPattern"])["detail"] == {
        "bucket": {"name": ["landing"]}, "object": {"key": [{"prefix": "raw/orders/"}]}}
    [target] = events.list_targets_by_rule(Rule="retail-dev-raw-orders")["Targets"]
    assert target["Arn"] == machine
    assert sent == [{"Bucket": "landing",
                     "NotificationConfiguration": {"EventBridgeConfiguration": {}}}]


def test_turning_on_eventbridge_keeps_the_bucket_s_other_notifications(aws: str) -> None:
    from sluice.targets.aws.events import enable_bucket_events
    from sluice.targets.aws.session import AwsSession, AwsSettings

    s = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="ci")
    s3, sqs = s.client("s3"), s.client("sqs")
    s3.create_bucket(Bucket="landing-b", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    queue = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="q")["QueueUrl"],
                                     AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket="landing-b", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "theirs", "QueueArn": queue,
                                 "Events": ["s3:ObjectCreated:*"]}]})
    enable_bucket_events(s, "landing-b")
    found = s3.get_bucket_notification_configuration(Bucket="landing-b")
    assert [q["Id"] for q in found["QueueConfigurations"]] == ["theirs"]
    # moto stores EventBridge delivery but does not echo it in the GET: ask its backend
    from moto.s3.models import s3_backends

    bucket = s3_backends["123456789012"]["aws"].buckets["landing-b"]
    assert bucket.notification_configuration.event_bridge is not None
