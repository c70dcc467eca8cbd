"""The approval bridge: a manual approval given in AWS CodePipeline, recorded in sluice.

``sluice approve ENV --codepipeline PIPELINE:EXECUTION_ID`` (docs/codepipeline.md) reads
CodePipeline's own record of the execution (``ListActionExecutions`` filtered by
``pipelineExecutionId``): the manual approval action's status, who changed it
(``updatedBy``, the approver's IAM principal) and its comment
(``output.executionResult.externalExecutionSummary``), and the release the execution shipped
(the ``SLUICE_RELEASE`` output variable its ship action exported). Nothing of that is taken
from the caller: the CodeBuild step that relays the approval cannot invent an approver, a
comment or a release. In team mode the server makes this call with its own AWS credentials.

The approver becomes a sluice actor: under ``access:`` the user whose ``aws_principals``
match the ARN (an approval by a principal no user claims is refused), without ``access:`` the
ARN's last name (the IAM user or the role session). The approval is recorded with
``via="codepipeline"`` and the ARN, the pipeline and the execution in its event.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sluice.config import ProjectConfig
from sluice.errors import GateError, UsageError
from sluice.project.workspace import Workspace
from sluice.state import ApprovalRecord

#: how the bridge's approvals are recorded (``ApprovalRecord.via``)
VIA = "codepipeline"
#: the output variable of the ship action that names the release the execution built
RELEASE_VARIABLE = "SLUICE_RELEASE"

_REFERENCE = re.compile(r"^(?P<pipeline>[A-Za-z0-9.@_-]{1,100}):(?P<execution>[0-9a-f-]{36})$")
_WORDS = {"InProgress": "still waiting for a decision", "Failed": "rejected",
          "Abandoned": "abandoned (the execution was stopped or superseded)"}


@dataclass(frozen=True)
class PipelineApproval:
    """CodePipeline's record of one manual approval action of one execution."""

    pipeline: str
    execution_id: str
    stage: str
    action: str
    status: str  # ActionExecutionStatus: InProgress | Abandoned | Succeeded | Failed
    approver: str | None  # updatedBy: the ARN of whoever decided
    summary: str  # the approver's comment
    release_id: str | None  # what the execution's ship action exported

    @property
    def where(self) -> str:
        return f"{self.pipeline} execution {self.execution_id}, action {self.stage}/{self.action}"


def parse_reference(text: str) -> tuple[str, str]:
    """``PIPELINE:EXECUTION_ID`` → (pipeline, execution id); UsageError otherwise."""
    m = _REFERENCE.match(text.strip())
    if m is None:
        raise UsageError(f"--codepipeline {text!r}: expected PIPELINE:EXECUTION_ID (the "
                         "pipeline's name and an execution id such as "
                         "3137f7cb-7cf7-4f3b-9b4c-5fc9a1f0c1a2)",
                         tip="in the pipeline's CodeBuild action pass "
                             "#{codepipeline.PipelineExecutionId} as the execution id")
    return m["pipeline"], m["execution"]


def codepipeline_client(region: str | None = None) -> Any:
    """A CodePipeline client on the standard credential chain (``AWS_ENDPOINT_URL`` and
    ``AWS_ENDPOINT_URL_CODEPIPELINE`` are honoured, as everywhere in boto3)."""
    from sluice.targets.aws.session import AwsError

    try:
        import boto3
    except ImportError as exc:
        raise AwsError("reading CodePipeline approvals needs boto3",
                       tip="pip install 'sluice-cd[aws]'") from exc
    from sluice.targets.aws.session import _config

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise UsageError("no AWS region to find the pipeline in",
                         tip="set AWS_REGION (CodeBuild sets it) or pass --region")
    return boto3.Session(region_name=region).client("codepipeline", config=_config())


def is_aws_endpoint(client: Any) -> bool:
    """Whether ``client`` talks to AWS itself (not to moto, LocalStack or a proxy)."""
    host = urlparse(str(client.meta.endpoint_url)).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def read_approval(client: Any, pipeline: str, execution_id: str,
                  action: str | None = None) -> PipelineApproval:
    """The manual approval ``action`` (``STAGE/ACTION`` or ``ACTION``; default: the
    execution's only one) of an execution, as CodePipeline recorded it."""
    from sluice.targets.aws.session import aws_errors

    details: list[dict[str, Any]] = []
    request: dict[str, Any] = {"pipelineName": pipeline,
                               "filter": {"pipelineExecutionId": execution_id}}
    with aws_errors(f"codepipeline:ListActionExecutions of {pipeline}"):
        while True:
            page = client.list_action_executions(**request)
            details.extend(page.get("actionExecutionDetails", []))
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
    approvals = [d for d in details if d.get("input", {}).get("actionTypeId", {})
                 .get("category") == "Approval"]
    chosen = [d for d in approvals if _matches(d, action)]
    if not chosen:
        found = ", ".join(sorted({f"{d['stageName']}/{d['actionName']}" for d in approvals}))
        what = f"manual approval action {action}" if action else "manual approval action"
        raise GateError(f"{pipeline} execution {execution_id} has no {what} that ran"
                        + (f" (it has {found})" if found else ""),
                        tip="name the approval with --approval-action STAGE/ACTION, and run "
                            "the bridge after the approval action in the same execution")
    names = {(d["stageName"], d["actionName"]) for d in chosen}
    if len(names) > 1:
        listed = ", ".join(sorted(f"{s}/{a}" for s, a in names))
        raise UsageError(f"{pipeline} execution {execution_id} has several approvals: {listed}",
                         tip="name one with --approval-action STAGE/ACTION")
    latest = max(chosen, key=lambda d: d.get("lastUpdateTime") or d.get("startTime") or 0)
    result = latest.get("output", {}).get("executionResult", {})
    return PipelineApproval(pipeline, execution_id, latest["stageName"], latest["actionName"],
                            str(latest.get("status", "")), latest.get("updatedBy"),
                            str(result.get("externalExecutionSummary") or ""),
                            _shipped_release(details))


def _matches(detail: dict[str, Any], action: str | None) -> bool:
    if action is None:
        return True
    stage, _, name = action.rpartition("/")
    return detail.get("actionName") == name and (not stage or detail.get("stageName") == stage)


def _shipped_release(details: list[dict[str, Any]]) -> str | None:
    """The newest ``SLUICE_RELEASE`` output variable of the execution's actions."""
    found = [(d.get("lastUpdateTime") or d.get("startTime") or 0,
              d.get("output", {}).get("outputVariables", {}).get(RELEASE_VARIABLE))
             for d in details]
    found = [f for f in found if f[1]]
    return str(max(found, key=lambda f: f[0])[1]) if found else None


def approver_name(cfg: ProjectConfig, arn: str) -> str:
    """The sluice actor of an IAM principal (see the module doc)."""
    if cfg.access is None:
        return _last_name(arn)
    users = sorted(name for name, user in cfg.access.users.items()
                   if any(fnmatch.fnmatchcase(arn, p) for p in user.aws_principals))
    if not users:
        raise GateError(f"the approver {arn} is not a sluice user: no user's aws_principals "
                        "in access: match it, so the approval cannot be attributed",
                        tip="add the principal (or a pattern such as "
                            "arn:aws:sts::123456789012:assumed-role/Approvers/NAME) under "
                            "access.users.NAME.aws_principals in sluice.yaml")
    if len(users) > 1:
        raise GateError(f"the approver {arn} matches the aws_principals of several users "
                        f"({', '.join(users)})",
                        tip="make each user's aws_principals name only that person")
    return users[0]


def _last_name(arn: str) -> str:
    """``…:user/path/priya`` → ``priya``; ``…:assumed-role/Role/priya`` → ``priya``."""
    resource = arn.split(":", 5)[-1]
    return resource.rsplit("/", 1)[-1] or arn


def record_approval(ws: Workspace, env: str, approval: PipelineApproval,
                    release: str | None = None, *, verified: bool,
                    relayed_by: str | None = None) -> ApprovalRecord:
    """Record ``approval`` for ``env`` once CodePipeline says it was approved.

    ``release`` (optional) must be the release the execution shipped. ``verified``: the
    record was read from AWS's own endpoint (or by the server): where ``access:`` is
    declared an unverified read is refused, since whoever points the CLI at another endpoint
    could answer with any approver. ``relayed_by``: the server's caller that asked."""
    from sluice.flow.gates import decide

    cfg = ws.config()
    if approval.status != "Succeeded":
        raise GateError(f"{approval.where} is {_WORDS.get(approval.status, approval.status)}"
                        f", not approved: nothing recorded for {env}",
                        tip="approve it in CodePipeline (console or  aws codepipeline "
                            "put-approval-result), then run the bridge again")
    if not approval.approver:
        raise GateError(f"{approval.where} was approved, but CodePipeline names no approver",
                        tip="approve it in CodePipeline as an IAM principal")
    if approval.release_id is None:
        raise GateError(f"{approval.pipeline} execution {approval.execution_id} exported no "
                        f"{RELEASE_VARIABLE}: which release was approved is unknown",
                        tip="its ship action must export SLUICE_RELEASE (env: "
                            "exported-variables in its buildspec), as the template of "
                            "`sluice init --ci codepipeline` does")
    if release is not None and not approval.release_id.startswith(release.strip().lower()):
        raise GateError(f"{approval.where} approved release {approval.release_id}, not "
                        f"{release}", tip="drop --release: the execution names its release")
    if cfg.access is not None and not verified:
        raise GateError(f"{env} takes approvals from authenticated users only (access: in "
                        "sluice.yaml), and this CodePipeline record was not read from AWS's "
                        "own endpoint, so its approver cannot be trusted",
                        tip="relay it through the server (SLUICE_SERVER=… sluice approve … "
                            "--codepipeline …), or unset AWS_ENDPOINT_URL")
    actor = approver_name(cfg, approval.approver)
    return decide(ws, env, approval.release_id, approve=True, comment=approval.summary,
                  actor=actor, via=VIA,
                  evidence={"aws_principal": approval.approver, "pipeline": approval.pipeline,
                            "execution_id": approval.execution_id,
                            "action": f"{approval.stage}/{approval.action}"}
                  | ({"relayed_by": relayed_by} if relayed_by else {}))


__all__ = ["RELEASE_VARIABLE", "VIA", "PipelineApproval", "approver_name",
           "codepipeline_client", "is_aws_endpoint", "parse_reference", "read_approval",
           "record_approval"]
