"""CloudFormation stacks through change sets: ``plan`` creates and describes one (an empty
change set means no change, and is deleted), ``apply`` executes it and waits, passing every
new stack event to the caller; a failed update is followed through CloudFormation's own
rollback and reported with the resource that failed and why."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sluice.targets.aws.session import AwsError, AwsSession, aws_errors

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
#: the largest TemplateBody CloudFormation takes (bytes); above it, TemplateURL
BODY_LIMIT = 51_200
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_DONE = ("_COMPLETE", "_FAILED")


@dataclass(frozen=True)
class TemplateStore:
    """Where templates too large for TemplateBody, nested templates and packaged artifacts
    go: the environment's artifact bucket, content-addressed
    (``<prefix>/templates/<sha256[:2]>/<sha256>.template``, ``<prefix>/assets/<name>``)."""

    bucket: str
    prefix: str
    region: str
    extra: Mapping[str, Any] = field(default_factory=dict)  # the bucket's encryption

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def url(self, key: str) -> str:
        """The HTTPS URL CloudFormation reads a template from."""
        domain = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://s3.{self.region}.{domain}/{self.bucket}/{key}"

    def upload(self, aws: AwsSession, key: str, body: bytes) -> None:
        """Put the object unless it is there (the key names its content)."""
        from sluice.targets.aws.gluejobs import upload_once

        upload_once(aws, self.bucket, key, body, dict(self.extra))

    def put_template(self, aws: AwsSession, body: bytes) -> str:
        """Upload a template once; returns its URL."""
        digest = hashlib.sha256(body).hexdigest()
        key = self.key("templates", digest[:2], f"{digest}.template")
        self.upload(aws, key, body)
        return self.url(key)


def template_source(aws: AwsSession, template: str,
                    store: TemplateStore | None) -> dict[str, str]:
    """``{"TemplateBody": …}``, or above :data:`BODY_LIMIT` (with a store) the template
    uploaded once and ``{"TemplateURL": …}``."""
    body = template.encode("utf-8")
    if len(body) <= BODY_LIMIT or store is None:
        return {"TemplateBody": template}
    return {"TemplateURL": store.put_template(aws, body)}


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add, Modify, Remove, Import …
    logical_id: str
    resource_type: str
    replacement: str = ""  # True, False, Conditional (for Modify)


@dataclass
class StackPlan:
    stack: str
    kind: str  # CREATE or UPDATE
    change_set: str | None  # its ARN; None when there is nothing to change
    changes: list[ResourceChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.change_set is None


@dataclass(frozen=True)
class StackEvent:
    logical_id: str
    resource_type: str
    status: str
    reason: str


def plan_stack(aws: AwsSession, stack: str, template: str, parameters: Mapping[str, str], *,
               rollback_alarms: Sequence[str] = (), monitoring_minutes: int = 0,
               tags: Mapping[str, str] | None = None, timeout: float = 600,
               poll: float = 2.0, role_arn: str | None = None,
               store: TemplateStore | None = None) -> StackPlan:
    cfn = aws.client("cloudformation")
    live = _live(aws, stack)
    kind = "UPDATE" if live is not None else "CREATE"
    if live is not None and live.get("RoleARN") == role_arn and _unchanged(
            aws, live, template, parameters, rollback_alarms, monitoring_minutes):
        return StackPlan(stack, kind, None)  # the same template and values: no change set
    params: dict[str, Any] = {
        "StackName": stack, "ChangeSetName": f"sluice-{secrets.token_hex(6)}",
        **template_source(aws, template, store), "ChangeSetType": kind,
        "Capabilities": CAPABILITIES,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                       for k, v in sorted(parameters.items())],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
    }
    if role_arn:  # CloudFormation acts as this service role, not as the deployer
        params["RoleARN"] = role_arn
    if rollback_alarms:
        params["RollbackConfiguration"] = {
            "RollbackTriggers": [{"Arn": a, "Type": "AWS::CloudWatch::Alarm"}
                                 for a in rollback_alarms],
            "MonitoringTimeInMinutes": monitoring_minutes}
    from botocore.exceptions import ClientError

    with aws_errors(f"plan stack {stack}"):
        try:  # AWS answers "nothing to change" as a FAILED change set, or (moto) as an error
            arn = cfn.create_change_set(**params)["Id"]
        except ClientError as exc:
            if any(m in str(exc) for m in _NO_CHANGES):
                return StackPlan(stack, kind, None)
            raise
    with aws_errors(f"plan stack {stack}"):
        deadline = time.monotonic() + timeout
        pause = _pauses(poll)
        while True:
            described = cfn.describe_change_set(ChangeSetName=arn, StackName=stack)
            status, reason = described["Status"], described.get("StatusReason", "")
            if status == "CREATE_COMPLETE":
                break
            if status == "FAILED":
                if any(m in reason for m in _NO_CHANGES):
                    cfn.delete_change_set(ChangeSetName=arn, StackName=stack)
                    return StackPlan(stack, kind, None)
                raise AwsError(f"stack {stack}: the change set failed: {reason}",
                               tip="check the template and its parameters (sluice check "
                                   "runs cfn-lint)")
            if time.monotonic() > deadline:
                raise AwsError(f"stack {stack}: the change set was not ready in {timeout:.0f}s")
            time.sleep(next(pause))
    changes = [ResourceChange(c["ResourceChange"].get("Action", ""),
                              c["ResourceChange"].get("LogicalResourceId", ""),
                              c["ResourceChange"].get("ResourceType", ""),
                              str(c["ResourceChange"].get("Replacement", "")))
               for c in described.get("Changes", []) if "ResourceChange" in c]
    if not changes and kind == "UPDATE":
        with aws_errors(f"plan stack {stack}"):
            cfn.delete_change_set(ChangeSetName=arn, StackName=stack)
        return StackPlan(stack, kind, None)
    return StackPlan(stack, kind, arn, changes)


def apply_stack(aws: AwsSession, plan: StackPlan, *,
                on_event: Callable[[StackEvent], None] = lambda e: None,
                timeout: float = 3600, poll: float = 5.0) -> str:
    """Execute the plan's change set and wait; returns the final stack status. Raises
    AwsError naming the failed resource and reason once CloudFormation has rolled back."""
    if plan.empty:
        return "NO_CHANGES"
    cfn = aws.client("cloudformation")
    seen: set[str] = set()
    failures: list[StackEvent] = []
    with aws_errors(f"apply stack {plan.stack}"):
        started = time.time()
        cfn.execute_change_set(ChangeSetName=plan.change_set, StackName=plan.stack)
        deadline = time.monotonic() + timeout
        pause = _pauses(poll)
        while True:
            for event in _new_events(cfn, plan.stack, seen, started):
                on_event(event)
                if event.status.endswith("_FAILED"):
                    failures.append(event)
            status = cfn.describe_stacks(StackName=plan.stack)["Stacks"][0]["StackStatus"]
            if status.endswith(_DONE) and not status.endswith("_IN_PROGRESS"):
                break
            if time.monotonic() > deadline:
                raise AwsError(f"stack {plan.stack} still {status} after {timeout:.0f}s",
                               tip="follow it in the CloudFormation console")
            time.sleep(next(pause))
    if "ROLLBACK" in status or status.endswith("_FAILED"):
        first = failures[0] if failures else None
        where = f"{first.logical_id} ({first.resource_type}): {first.reason}" if first \
            else "no resource reported a failure"
        raise AwsError(f"stack {plan.stack} failed and was rolled back ({status}): {where}",
                       tip="fix the template or parameters; " + (
                           "the next deploy deletes the stack that failed to create"
                           if plan.kind == "CREATE" else "the stack is as it was before"))
    return str(status)


def _pauses(longest: float) -> Iterator[float]:
    """0.1 s, then doubling up to ``longest``: small stacks finish fast, big ones are not
    polled more than every ``longest`` seconds."""
    pause = min(0.1, longest)
    while True:
        yield pause
        pause = min(pause * 2, longest)


def _unchanged(aws: AwsSession, live: dict[str, Any], template: str,
               parameters: Mapping[str, str], alarms: Sequence[str], minutes: int) -> bool:
    """The stack already runs this template with these values and rollback triggers (a
    change set would only tell us "no changes", at the price of two write calls)."""
    if live["StackStatus"] not in {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}:
        return False
    values = {p["ParameterKey"]: p.get("ParameterValue") for p in live.get("Parameters", [])}
    triggers = live.get("RollbackConfiguration", {})
    if values != dict(parameters) or sorted(t["Arn"] for t in triggers.get(
            "RollbackTriggers", [])) != sorted(alarms) or (alarms and triggers.get(
            "MonitoringTimeInMinutes", 0) != minutes):
        return False
    with aws_errors(f"read the template of stack {live['StackName']}"):
        body = aws.client("cloudformation").get_template(
            StackName=live["StackName"], TemplateStage="Original")["TemplateBody"]
    return (body if isinstance(body, str) else json.dumps(body)) == template


def _describe(aws: AwsSession, stack: str) -> dict[str, Any] | None:
    """The stack as CloudFormation describes it, or None when there is no such stack."""
    from botocore.exceptions import ClientError

    with aws_errors(f"look up stack {stack}"):
        try:
            found = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
    return dict(found[0]) if found else None


def _live(aws: AwsSession, stack: str) -> dict[str, Any] | None:
    """The stack, if it exists (one that only ever had a change set does not)."""
    found = _describe(aws, stack)
    if found is None or found["StackStatus"] in {"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"}:
        return None  # never created (ROLLBACK_COMPLETE: its creation failed; see below)
    return found


def failed_create(aws: AwsSession, stack: str) -> bool:
    """Whether the stack's first creation failed (ROLLBACK_COMPLETE): it cannot be updated,
    only deleted and created again."""
    found = _describe(aws, stack)
    return found is not None and found["StackStatus"] == "ROLLBACK_COMPLETE"


def delete_failed_create(aws: AwsSession, stack: str, *, timeout: float = 900,
                         poll: float = 5.0) -> None:
    """Delete a stack whose creation failed, and wait until it is gone."""
    with aws_errors(f"delete the stack {stack} that failed to create"):
        aws.client("cloudformation").delete_stack(StackName=stack)
    deadline, pause = time.monotonic() + timeout, _pauses(poll)
    while (found := _describe(aws, stack)) is not None and found["StackStatus"] in {
            "ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS"}:
        if time.monotonic() > deadline:
            raise AwsError(f"stack {stack} still being deleted after {timeout:.0f}s")
        time.sleep(next(pause))


def _new_events(cfn: Any, stack: str, seen: set[str], since: float) -> list[StackEvent]:
    events = cfn.describe_stack_events(StackName=stack).get("StackEvents", [])
    out: list[StackEvent] = []
    for e in reversed(events):  # oldest first
        eid = e.get("EventId", "")
        stamp = e.get("Timestamp")
        if eid in seen or (stamp is not None and stamp.timestamp() < since - 1):
            continue
        seen.add(eid)
        out.append(StackEvent(e.get("LogicalResourceId", ""), e.get("ResourceType", ""),
                              e.get("ResourceStatus", ""), e.get("ResourceStatusReason", "")))
    return out
