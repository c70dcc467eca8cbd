"""CloudFormation through change sets: on moto's server for create/update/no-change, and
with botocore's Stubber (validated against AWS's API models) for a failed update and its
rollback, which moto does not simulate."""

from __future__ import annotations

import datetime as dt

import pytest

from sluice.targets.aws.session import AwsError, AwsSession, AwsSettings
from sluice.targets.aws.stacks import StackEvent, apply_stack, plan_stack

pytestmark = pytest.mark.aws

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String}
Resources:
  Landing:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "retail-landing-${Env}"
"""
WITH_TOPIC = TEMPLATE + """\
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "retail-alerts-${Env}"
"""


def session(url: str) -> AwsSession:
    return AwsSession(AwsSettings("eu-west-1", endpoint_url=url), env="dev", actor="ci")


def test_plan_apply_and_an_unchanged_template_plans_nothing(aws: str) -> None:
    s = session(aws)
    first = plan_stack(s, "retail-dev", TEMPLATE, {"Env": "dev"}, poll=0.05)
    assert first.kind == "CREATE" and not first.empty
    assert [(c.action, c.logical_id, c.resource_type) for c in first.changes] == [
        ("Add", "Landing", "AWS::S3::Bucket")]
    events: list[StackEvent] = []
    assert apply_stack(s, first, on_event=events.append, poll=0.05) == "CREATE_COMPLETE"
    # moto emits the stack's own events (AWS adds one per resource): they are streamed
    assert [e.status for e in events if e.logical_id == "retail-dev"][-1] == "CREATE_COMPLETE"
    assert "retail-landing-dev" in [b["Name"] for b in
                                    s.client("s3").list_buckets()["Buckets"]]

    update = plan_stack(s, "retail-dev", WITH_TOPIC, {"Env": "dev"}, poll=0.05)
    assert update.kind == "UPDATE"
    assert ("Add", "Alerts") in [(c.action, c.logical_id) for c in update.changes]
    assert apply_stack(s, update, poll=0.05) == "UPDATE_COMPLETE"

    same = plan_stack(s, "retail-dev", WITH_TOPIC, {"Env": "dev"}, poll=0.05)
    assert same.empty and apply_stack(s, same) == "NO_CHANGES"


def test_a_failed_update_is_reported_with_the_resource_and_reason_after_rollback() -> None:
    from botocore.stub import ANY, Stubber

    s = AwsSession(AwsSettings("eu-west-1"), env="prod", actor="ci")
    import boto3

    client = boto3.client("cloudformation", region_name="eu-west-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    s._clients["cloudformation"] = client  # the stubbed client stands for the account
    arn = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/sluice-x/1"
    stack_id = "arn:aws:cloudformation:eu-west-1:123456789012:stack/retail-prod/1"
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)

    def event(eid: str, logical: str, status: str, reason: str = "") -> dict[str, object]:
        return {"StackId": stack_id, "EventId": eid, "StackName": "retail-prod",
                "LogicalResourceId": logical, "ResourceType": "AWS::SNS::Topic",
                "Timestamp": now, "ResourceStatus": status, "ResourceStatusReason": reason}

    def stacks(status: str) -> dict[str, object]:
        return {"Stacks": [{"StackName": "retail-prod", "StackId": stack_id,
                            "CreationTime": now, "StackStatus": status}]}

    with Stubber(client) as stub:
        stub.add_response("describe_stacks", stacks("UPDATE_COMPLETE"),
                          {"StackName": "retail-prod"})
        stub.add_response("create_change_set", {"Id": arn, "StackId": stack_id}, {
            "StackName": "retail-prod", "ChangeSetName": ANY, "TemplateBody": WITH_TOPIC,
            "ChangeSetType": "UPDATE", "Capabilities": ANY,
            "Parameters": [{"ParameterKey": "Env", "ParameterValue": "prod"}], "Tags": [],
            "RollbackConfiguration": {"RollbackTriggers": [{
                "Arn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:errors",
                "Type": "AWS::CloudWatch::Alarm"}], "MonitoringTimeInMinutes": 5}})
        stub.add_response("describe_change_set", {
            "ChangeSetName": "sluice-x", "ChangeSetId": arn, "StackName": "retail-prod",
            "Status": "CREATE_COMPLETE", "Changes": [{"Type": "Resource", "ResourceChange": {
                "Action": "Add", "LogicalResourceId": "Alerts",
                "ResourceType": "AWS::SNS::Topic"}}]},
            {"ChangeSetName": arn, "StackName": "retail-prod"})
        stub.add_response("execute_change_set", {},
                          {"ChangeSetName": arn, "StackName": "retail-prod"})
        stub.add_response("describe_stack_events", {"StackEvents": [
            event("2", "Alerts", "CREATE_FAILED", "Topic name already exists"),
            event("1", "Alerts", "CREATE_IN_PROGRESS")]}, {"StackName": "retail-prod"})
        stub.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_IN_PROGRESS"),
                          {"StackName": "retail-prod"})
        stub.add_response("describe_stack_events", {"StackEvents": [
            event("3", "retail-prod", "UPDATE_ROLLBACK_COMPLETE"),
            event("2", "Alerts", "CREATE_FAILED", "Topic name already exists")]},
            {"StackName": "retail-prod"})
        stub.add_response("describe_stacks", stacks("UPDATE_ROLLBACK_COMPLETE"),
                          {"StackName": "retail-prod"})

        plan = plan_stack(s, "retail-prod", WITH_TOPIC, {"Env": "prod"}, poll=0,
                          rollback_alarms=[
                              "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:errors"],
                          monitoring_minutes=5)
        with pytest.raises(AwsError) as info:
            apply_stack(s, plan, poll=0)
        stub.assert_no_pending_responses()
    assert info.value.message == (
        "stack retail-prod failed and was rolled back (UPDATE_ROLLBACK_COMPLETE): Alerts "
        "(AWS::SNS::Topic): Topic name already exists")


def test_a_stack_whose_creation_failed_is_deleted_before_it_is_created_again() -> None:
    from botocore.stub import Stubber

    from sluice.targets.aws.stacks import delete_failed_create, failed_create

    s = AwsSession(AwsSettings("eu-west-1"), env="dev", actor="ci")
    cfn = s.client("cloudformation")
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def stack(status: str) -> dict[str, object]:
        return {"Stacks": [{"StackName": "retail-dev", "StackStatus": status,
                            "CreationTime": when}]}

    gone = ("ValidationError", "Stack with id retail-dev does not exist")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"),
                          {"StackName": "retail-dev"})
        stub.add_response("delete_stack", {}, {"StackName": "retail-dev"})
        stub.add_response("describe_stacks", stack("DELETE_IN_PROGRESS"),
                          {"StackName": "retail-dev"})
        stub.add_client_error("describe_stacks", *gone)
        assert failed_create(s, "retail-dev")
        delete_failed_create(s, "retail-dev", poll=0.01)
        stub.assert_no_pending_responses()


def test_a_service_role_makes_the_stack(aws: str) -> None:
    s = session(aws)
    role = "arn:aws:iam::123456789012:role/cfn-service"
    plan = plan_stack(s, "retail-svc", TEMPLATE, {"Env": "svc"}, role_arn=role, poll=0.05)
    apply_stack(s, plan, poll=0.05)
    described = s.client("cloudformation").describe_stacks(StackName="retail-svc")["Stacks"][0]
    assert described.get("RoleARN") == role
    # the same template, values and role: no change set at all
    assert plan_stack(s, "retail-svc", TEMPLATE, {"Env": "svc"}, role_arn=role).empty


def test_a_template_over_the_body_limit_deploys_by_url_uploaded_once(aws: str) -> None:
    from sluice.targets.aws.stacks import BODY_LIMIT, TemplateStore

    s = session(aws)
    s.client("s3").create_bucket(Bucket="acme-artifacts", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    padding = "".join(f"# {'padding ' * 10} {i}\n" for i in range(800))  # a 60 KB template
    big = TEMPLATE + padding
    assert len(big.encode()) > BODY_LIMIT
    store = TemplateStore("acme-artifacts", "sluice", "eu-west-1")
    plan = plan_stack(s, "retail-big", big, {"Env": "big"}, poll=0.05, store=store)
    assert apply_stack(s, plan, poll=0.05) == "CREATE_COMPLETE"
    keys = [o["Key"] for o in s.client("s3").list_objects_v2(
        Bucket="acme-artifacts", Prefix="sluice/templates/")["Contents"]]
    assert len(keys) == 1 and keys[0].endswith(".template")
    body = s.client("s3").get_object(Bucket="acme-artifacts", Key=keys[0])["Body"].read()
    assert body.decode() == big
    # unchanged: no change set; a small template still goes as TemplateBody
    assert plan_stack(s, "retail-big", big, {"Env": "big"}, store=store).empty
    small = plan_stack(s, "retail-small", TEMPLATE, {"Env": "small"}, poll=0.05, store=store)
    assert apply_stack(s, small, poll=0.05) == "CREATE_COMPLETE"
    assert len(s.client("s3").list_objects_v2(
        Bucket="acme-artifacts", Prefix="sluice/templates/")["Contents"]) == 1
