"""The shapes of the HTTP API, as pydantic models: FastAPI validates requests with them and
documents every answer in ``/openapi.json``.

Response models describe what the library already returns as JSON (``sluice status
--json`` and the others, :mod:`sluice.flow.listings`); nested details that vary by target or
event kind stay free-form dictionaries.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorOut(BaseModel):
    """Every refusal: the message, the next thing to do, the error's class and the exit code
    the CLI gives it."""

    error: str
    tip: str | None = None
    type: str
    exit_code: int


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    version: str
    state: Literal["sqlite", "postgresql"] | str
    error: str | None = None


class WhoAmI(BaseModel):
    name: str
    kind: str
    roles: list[str] = Field(description="ROLE:ENV, ENV may be *")


class LastDeployment(BaseModel):
    kind: str
    status: str
    release: str
    message: str


class StatusEntry(BaseModel):
    env: str
    release: str | None
    since: str | None
    versions: dict[str, str]
    last_deployment: LastDeployment | None
    pending_approval: str | None


class EnvironmentEntry(BaseModel):
    env: str
    protected: bool
    upstream: str | None
    approvers: list[str] | None = Field(description="None: anyone with the role")


class HistoryEntry(BaseModel):
    seq: int
    at: str | None
    kind: str
    env: str | None
    release_id: str | None
    actor: str | None
    detail: str
    payload: dict[str, Any]


class ReleaseEntry(BaseModel):
    id: str
    commit: str
    author: str
    created_at: str | None
    dirty: bool
    files: int
    checks_passed: bool | None
    checks: dict[str, Any] | None


class StageOut(BaseModel):
    position: int
    name: str
    kind: str
    env: str | None
    status: str
    started_at: str | None
    finished_at: str | None
    message: str


class ExecutionOut(BaseModel):
    id: int
    status: str
    mode: str
    action: str
    trigger: str
    detail: dict[str, Any]
    commit: str | None
    ref: str | None
    release_id: str | None
    actor: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    message: str
    stages: list[StageOut]


class LogOut(BaseModel):
    seq: int
    position: int | None
    at: str | None
    line: str


class ExecutionDetail(ExecutionOut):
    logs: list[LogOut]


class ExecutionStarted(BaseModel):
    execution: int
    commit: str
    ref: str | None


class HookAccepted(BaseModel):
    """A verified delivery: the execution it started, or why none (another branch, a tag,
    a ping)."""

    status: Literal["started", "ignored", "ping"]
    reason: str
    execution: int | None
    delivery: str
    provider: str
    ref: str
    commit: str


class ApprovalIn(_Request):
    release: str | None = Field(default=None, description="id or prefix; default: the "
                                                          "release live upstream")
    decision: Literal["approve", "reject"]
    comment: str = ""
    acknowledge: list[str] = Field(default_factory=list)


class CodePipelineApprovalIn(_Request):
    """A manual approval to read from CodePipeline: which one, never who gave it."""

    pipeline: str = Field(pattern=r"^[A-Za-z0-9.@_-]{1,100}$")
    execution_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    approval_action: str | None = Field(default=None, description="STAGE/ACTION or ACTION; "
                                        "default: the execution's only manual approval")
    release: str | None = Field(default=None, description="must be the release the "
                                                          "execution shipped")


class ApprovalOut(BaseModel):
    env: str
    release: str
    decision: str
    actor: str
    via: str
    comment: str
    acknowledges: list[str]
    aws_principal: str | None = None  # the CodePipeline approver, for via=codepipeline


class PromotionIn(_Request):
    source: str | None = Field(default=None, alias="from",
                               description="default: the environment before it")


class RollbackIn(_Request):
    to: str | None = Field(default=None, description="default: the previous live state")
    keep_schema: bool = False


class RollbackOut(BaseModel):
    env: str
    from_release: str
    to_release: str
    versions: dict[str, str]
    undone: list[str]


class DeploymentIn(_Request):
    release: str | None = Field(default=None, description="default: the newest release")


class DeployOut(BaseModel):
    env: str
    release: str
    deployment: int
    plan: dict[str, Any]
    new_versions: dict[str, str]
    rows: dict[str, int]
    audits: list[dict[str, Any]]
    skipped: list[str]


class ExecutionIn(_Request):
    commit: str | None = Field(default=None, description="a full or abbreviated sha")
    ref: str | None = Field(default=None, description="a branch or tag; default: "
                                                      "pipeline.branch when no commit")


__all__ = ["ApprovalIn", "ApprovalOut", "DeployOut", "DeploymentIn", "EnvironmentEntry",
           "ErrorOut", "ExecutionDetail", "ExecutionIn", "ExecutionOut", "ExecutionStarted",
           "HealthOut", "HistoryEntry", "HookAccepted", "LogOut", "PromotionIn", "ReleaseEntry",
           "RollbackIn", "RollbackOut", "StageOut", "StatusEntry", "WhoAmI"]
