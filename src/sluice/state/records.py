"""Typed records of the state store: what was released, deployed, run, audited, approved.

Records are frozen dataclasses; statuses are ``StrEnum`` so they compare equal to (and are
stored as) their plain string values. Timestamps are timezone-aware UTC ``datetime`` values
in Python and UTC ISO-8601 strings in the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "ApprovalDecision",
    "ApprovalRecord",
    "AuditRecord",
    "DeploymentKind",
    "DeploymentRecord",
    "DeploymentStatus",
    "EventRecord",
    "JobRunRecord",
    "JobRunStatus",
    "LiveState",
    "LockRecord",
    "QuarantineRecord",
    "ReleaseRecord",
    "StepRecord",
    "StepStatus",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class DeploymentKind(StrEnum):
    """Why a deployment happened."""

    DEPLOY = "deploy"
    RUN = "run"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


class DeploymentStatus(StrEnum):
    """Where a deployment is; ``RUNNING`` ones are candidates for recovery."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class StepStatus(StrEnum):
    """State of one journaled step: written before (``STARTED``) and after it happens."""

    STARTED = "started"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a job downstream of a failed audit


class JobRunStatus(StrEnum):
    """Outcome of one job in a run; ``REUSED`` means its fingerprint was unchanged."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REUSED = "reused"
    SKIPPED = "skipped"


class ApprovalDecision(StrEnum):
    """A human decision on letting a release into a protected environment."""

    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ReleaseRecord:
    """An immutable, content-addressed release built from one commit."""

    id: str
    digest: str
    commit: str
    author: str
    created_at: dt.datetime = field(default_factory=utcnow)
    message: str = ""
    dirty: bool = False
    checks_passed: bool | None = None
    manifest_json: str = "{}"


@dataclass(frozen=True)
class DeploymentRecord:
    """One application of a release to an environment."""

    id: int
    env: str
    release_id: str
    kind: DeploymentKind
    status: DeploymentStatus
    actor: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    message: str = ""


@dataclass(frozen=True)
class StepRecord:
    """One entry of a deployment's append-only journal (``seq`` counts from 1)."""

    deployment_id: int
    seq: int
    step: str
    status: StepStatus
    detail: dict[str, Any]
    at: dt.datetime


@dataclass(frozen=True)
class LiveState:
    """What an environment serves: a release and the published version of each dataset."""

    env: str
    release_id: str
    versions: dict[str, str]
    deployment_id: int | None
    since: dt.datetime


@dataclass(frozen=True)
class JobRunRecord:
    """One job execution within a deployment (or why it did not execute)."""

    deployment_id: int
    job: str
    dataset: str
    version: str
    status: JobRunStatus
    rows: int | None = None
    seconds: float | None = None
    message: str = ""


@dataclass(frozen=True)
class QuarantineRecord:
    """A new dataset version an audit refused: kept (never published, never reused) for
    ``retention.quarantine_days`` so its rows can be inspected, then dropped by ``sluice gc``."""

    env: str
    dataset: str
    version: str
    deployment_id: int
    fingerprint: str
    reason: str
    at: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class AuditRecord:
    """The audit of one new dataset version (contracts + quality rules) before publish."""

    deployment_id: int
    dataset: str
    version: str
    passed: bool
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApprovalRecord:
    """A decision to let (or not let) a release into an environment; the latest one wins."""

    env: str
    release_id: str
    decision: ApprovalDecision
    actor: str
    comment: str = ""
    at: dt.datetime = field(default_factory=utcnow)
    acknowledges: tuple[str, ...] = ()  # risks knowingly accepted: "breaking" …
    #: how ``actor`` was known: "claimed" by the CLI ($SLUICE_USER, git's user.name) or
    #: "authenticated" by the control plane (a verified token or OIDC identity)
    via: str = "claimed"


@dataclass(frozen=True)
class LockRecord:
    """An environment's deployment lock; it lapses at ``expires_at`` if never released."""

    env: str
    owner: str
    acquired_at: dt.datetime
    expires_at: dt.datetime

    def expired(self, now: dt.datetime | None = None) -> bool:
        """Whether the lock has lapsed at ``now`` (default: the current time)."""
        return (now or utcnow()) >= self.expires_at


@dataclass(frozen=True)
class EventRecord:
    """One entry of the append-only event log (``seq`` grows monotonically)."""

    seq: int
    at: dt.datetime
    kind: str
    env: str | None
    actor: str | None
    release_id: str | None
    payload: dict[str, Any]
