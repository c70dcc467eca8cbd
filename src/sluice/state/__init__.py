"""The state store: what sluice released, deployed, ran, audited, approved, locked and did.

SQLAlchemy Core over SQLite (``.sluice/state.db`` or ``$SLUICE_HOME/state.db``) by default, or
any SQLAlchemy URL (``$SLUICE_STATE_URL``, e.g. PostgreSQL). The schema carries its own
version and migrations (:mod:`sluice.state.schema`); secrets are redacted before anything
free-form is stored (:mod:`sluice.state.redact`).
"""

from sluice.errors import LockError, StateError

from .engine import default_state_path, resolve_url
from .records import (
    ApprovalDecision,
    ApprovalRecord,
    AuditRecord,
    DeploymentKind,
    DeploymentRecord,
    DeploymentStatus,
    EventRecord,
    JobRunRecord,
    JobRunStatus,
    LiveState,
    LockRecord,
    QuarantineRecord,
    ReleaseRecord,
    StepRecord,
    StepStatus,
    utcnow,
)
from .redact import redact, redact_text
from .schema import current_version, latest_version, migrate
from .store import StateStore

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
    "LockError",
    "LockRecord",
    "QuarantineRecord",
    "ReleaseRecord",
    "StateError",
    "StateStore",
    "StepRecord",
    "StepStatus",
    "current_version",
    "default_state_path",
    "latest_version",
    "migrate",
    "redact",
    "redact_text",
    "resolve_url",
    "utcnow",
]
