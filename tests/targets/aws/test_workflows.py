"""Step Functions on moto's server: versions published, the alias moved, rolled back, and no
write call for a workflow that did not change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluice.targets.aws.session import AwsSession, AwsSettings
from sluice.targets.aws.workflows import deploy_workflow, rollback_workflow

pytestmark = pytest.mark.aws
ROLE = "arn:aws:iam::123456789012:role/sfn"


def definition(state: str) -> str:
    return json.dumps({"StartAt": state, "States": {state: {"Type": "Pass", "End": True}}})


def writes(session: AwsSession) -> list[str]:
    """Record the names of the write calls the stepfunctions client makes."""
    calls: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        op = event_name.rsplit(".", 1)[-1]
        if not op.startswith(("Describe", "List", "Get")):
            calls.append(op)

    session.client("stepfunctions").meta.events.register("before-call.sfn", record)
    return calls


def test_versions_alias_and_rollback(aws: str) -> None:
    s = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="ci")
    sfn = s.client("stepfunctions")
    calls = writes(s)
    first = deploy_workflow(s, "retail-nightly", definition("Load"), ROLE, description="r1")
    assert first.changed and first.previous_version_arn is None
    assert calls == ["CreateStateMachine", "CreateStateMachineAlias"]
    alias = sfn.describe_state_machine_alias(stateMachineAliasArn=first.alias_arn)
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"] == first.version_arn

    calls.clear()
    same = deploy_workflow(s, "retail-nightly", definition("Load"), ROLE, description="r2")
    assert not same.changed and calls == []  # unchanged: no write call at all

    second = deploy_workflow(s, "retail-nightly", definition("Transform"), ROLE,
                             description="r3")
    assert second.changed and second.previous_version_arn == first.version_arn
    assert second.version_arn != first.version_arn
    assert calls == ["UpdateStateMachine", "UpdateStateMachineAlias"]
    rollback_workflow(s, second)
    alias = sfn.describe_state_machine_alias(stateMachineAliasArn=first.alias_arn)
    assert alias["routingConfiguration"][0]["stateMachineVersionArn"] == first.version_arn
