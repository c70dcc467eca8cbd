"""Notifications and triggers: an SNS topic per environment for deployment events and
approval requests, and an EventBridge rule that starts a run when new data lands under a
source's S3 prefix (S3 "Object Created" events, sent to EventBridge by the bucket)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any

from sluice.targets.aws.session import AwsSession, aws_errors


def topic_name(project: str, env: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"sluice-{project}-{env}")[:256]


def ensure_topic(aws: AwsSession, project: str, env: str) -> str:
    """The environment's topic (created if needed; CreateTopic is idempotent)."""
    with aws_errors(f"create topic for {env}"):
        return str(aws.client("sns").create_topic(
            Name=topic_name(project, env),
            Tags=[{"Key": "sluice:env", "Value": env}])["TopicArn"])


def notify(aws: AwsSession, topic_arn: str, kind: str, env: str,
           payload: Mapping[str, Any]) -> str:
    """Publish one event (``deployed``, ``deploy_failed``, ``approval_requested`` …); the
    message is JSON, and ``kind``/``env`` are message attributes subscribers can filter on."""
    body = json.dumps({"kind": kind, "env": env, **payload}, sort_keys=True, default=str)
    with aws_errors(f"notify {kind} in {env}"):
        return str(aws.client("sns").publish(
            TopicArn=topic_arn, Subject=f"sluice {env}: {kind}"[:100], Message=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind},
                               "env": {"DataType": "String", "StringValue": env}},
        )["MessageId"])


def source_rule_pattern(bucket: str, prefix: str) -> dict[str, Any]:
    return {"source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]},
                       "object": {"key": [{"prefix": prefix.lstrip("/")}]}}}


_BUCKET_LOCK = threading.Lock()


def enable_bucket_events(aws: AwsSession, bucket: str) -> None:
    """Turn on the bucket's EventBridge notifications, keeping its other notifications (a
    PutBucketNotificationConfiguration replaces the whole configuration)."""
    s3 = aws.client("s3")
    with _BUCKET_LOCK, aws_errors(f"send s3://{bucket} events to EventBridge"):
        current = s3.get_bucket_notification_configuration(Bucket=bucket)
        current.pop("ResponseMetadata", None)
        if "EventBridgeConfiguration" in current:
            return
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={**current, "EventBridgeConfiguration": {}})


def ensure_source_trigger(aws: AwsSession, *, name: str, bucket: str, prefix: str,
                          target_arn: str, role_arn: str) -> str:
    """A rule that starts ``target_arn`` (a state machine) when objects land under
    ``s3://bucket/prefix``; the bucket's EventBridge notifications are switched on. What is
    already so is left alone (no write call)."""
    from botocore.exceptions import ClientError

    events = aws.client("events")
    pattern = source_rule_pattern(bucket, prefix)
    target = {"Id": "run", "Arn": target_arn, "RoleArn": role_arn}
    with aws_errors(f"trigger {name}"):
        try:
            rule = events.describe_rule(Name=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            rule = None
        if rule is not None and json.loads(rule.get("EventPattern", "{}")) == pattern \
                and rule.get("State") == "ENABLED" \
                and events.list_targets_by_rule(Rule=name)["Targets"] == [target]:
            return str(rule["Arn"])
        enable_bucket_events(aws, bucket)
        rule_arn = events.put_rule(Name=name, State="ENABLED",
                                   EventPattern=json.dumps(source_rule_pattern(bucket, prefix)),
                                   Description=f"sluice: new data under s3://{bucket}/{prefix}")
        events.put_targets(Rule=name, Targets=[target])
    return str(rule_arn["RuleArn"])
