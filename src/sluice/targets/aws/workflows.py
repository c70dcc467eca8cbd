"""Step Functions state machines: update the definition, publish a version, move an alias
(consumers start executions through the alias); rollback moves the alias back. A workflow
whose definition did not change is left alone: no write call at all."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sluice.targets.aws.session import AwsSession, aws_errors

ALIAS = "live"


@dataclass(frozen=True)
class WorkflowDeploy:
    name: str
    arn: str  # the state machine
    alias_arn: str
    version_arn: str  # what the alias points at now
    previous_version_arn: str | None  # what it pointed at before (None: new alias)
    changed: bool


def _same(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def _find(aws: AwsSession, name: str) -> str | None:
    sfn = aws.client("stepfunctions")
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return None


def _alias_target(aws: AwsSession, alias_arn: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        found = aws.client("stepfunctions").describe_state_machine_alias(
            stateMachineAliasArn=alias_arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"ResourceNotFound",
                                                          "ResourceNotFoundException"}:
            return None
        raise
    routes = found.get("routingConfiguration", [])
    return str(max(routes, key=lambda r: r["weight"])["stateMachineVersionArn"]) if routes \
        else None


def deploy_workflow(aws: AwsSession, name: str, definition: str, role_arn: str, *,
                    description: str = "", alias: str = ALIAS) -> WorkflowDeploy:
    """Create or update ``name``, publish a version and point ``alias`` at it."""
    sfn = aws.client("stepfunctions")
    with aws_errors(f"deploy workflow {name}"):
        arn = _find(aws, name)
        alias_arn = f"{arn}:{alias}" if arn else ""
        previous = _alias_target(aws, alias_arn) if arn else None
        if arn is not None and previous is not None:
            current = sfn.describe_state_machine(stateMachineArn=previous)
            if _same(current["definition"], definition) and current["roleArn"] == role_arn:
                return WorkflowDeploy(name, arn, alias_arn, previous, previous, False)
        if arn is None:
            made = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn,
                                            publish=True, versionDescription=description)
            arn, version = made["stateMachineArn"], made["stateMachineVersionArn"]
            alias_arn = f"{arn}:{alias}"
        else:
            version = sfn.update_state_machine(
                stateMachineArn=arn, definition=definition, roleArn=role_arn, publish=True,
                versionDescription=description)["stateMachineVersionArn"]
        route = [{"stateMachineVersionArn": version, "weight": 100}]
        if previous is None:
            alias_arn = sfn.create_state_machine_alias(
                name=alias, routingConfiguration=route)["stateMachineAliasArn"]
        else:
            sfn.update_state_machine_alias(stateMachineAliasArn=alias_arn,
                                           routingConfiguration=route)
    return WorkflowDeploy(name, str(arn), str(alias_arn), str(version), previous, True)


def rollback_workflow(aws: AwsSession, deployed: WorkflowDeploy) -> None:
    """Point the alias back at the version it served before ``deployed``."""
    if not deployed.changed or deployed.previous_version_arn is None:
        return
    point_alias(aws, deployed.alias_arn, deployed.previous_version_arn)


def planned(aws: AwsSession, name: str, definition: str, role_arn: str,
            alias: str = ALIAS) -> str:
    """What deploy_workflow would do: create, update or none (reads only)."""
    with aws_errors(f"plan workflow {name}"):
        arn = _find(aws, name)
        if arn is None:
            return "create"
        live = _alias_target(aws, f"{arn}:{alias}")
        if live is None:
            return "update"
        current = aws.client("stepfunctions").describe_state_machine(stateMachineArn=live)
    same = _same(current["definition"], definition) and current["roleArn"] == role_arn
    return "none" if same else "update"


def point_alias(aws: AwsSession, alias_arn: str, version_arn: str) -> None:
    """Route all of the alias to one version (rollback)."""
    with aws_errors(f"point {alias_arn} at {version_arn}"):
        aws.client("stepfunctions").update_state_machine_alias(
            stateMachineAliasArn=alias_arn,
            routingConfiguration=[{"stateMachineVersionArn": version_arn, "weight": 100}])
