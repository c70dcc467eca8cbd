"""Step Functions state machines: update the definition, publish a version, move an alias
(consumers start executions through the alias); rollback moves the alias back. A workflow
whose definition did not change is left alone: no write call at all."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from sluice.targets.aws.session import AwsError, AwsSession, aws_errors

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
    """The state machine's ARN, if it exists (one DescribeStateMachine, not a listing of the
    account's machines)."""
    from botocore.exceptions import ClientError

    arn = f"arn:aws:states:{aws.settings.region}:{aws.account()}:stateMachine:{name}"
    try:
        aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"StateMachineDoesNotExist",
                                                          "ResourceNotFound"}:
            return None
        raise
    return arn


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


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    error: str = ""
    cause: str = ""
    output: str = ""


def execute(aws: AwsSession, alias_arn: str, name: str, payload: str, *,
            sleep: Callable[[float], None] = time.sleep, timeout: float = 4 * 3600) -> Execution:
    """Start an execution through the alias and follow it (backoff up to 30 s) to its end."""
    sfn = aws.client("stepfunctions")
    with aws_errors(f"start {alias_arn}"):
        arn = str(sfn.start_execution(stateMachineArn=alias_arn, name=name,
                                      input=payload)["executionArn"])
    pause, waited = 1.0, 0.0
    while True:
        with aws_errors(f"follow execution {arn}"):
            found = sfn.describe_execution(executionArn=arn)
        if found["status"] not in {"RUNNING", "PENDING_REDRIVE"}:
            return Execution(arn, str(found["status"]), str(found.get("error", "")),
                             str(found.get("cause", "")), str(found.get("output", "")))
        if waited > timeout:
            raise AwsError(f"execution {arn} still running after {timeout:.0f}s",
                           tip="follow it in the Step Functions console")
        sleep(pause)
        waited += pause
        pause = min(pause * 2, 30.0)


def alias_arn(aws: AwsSession, name: str, alias: str = ALIAS) -> str:
    """The live alias of a deployed state machine."""
    with aws_errors(f"find workflow {name}"):
        arn = _find(aws, name)
    if arn is None:
        raise AwsError(f"workflow {name} is not deployed",
                       tip="deploy the release first:  sluice deploy ENV")
    return f"{arn}:{alias}"
