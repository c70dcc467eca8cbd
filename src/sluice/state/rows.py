"""Conversion between records and database rows, shared by the store and its lock logic.

Timestamps are stored as UTC ISO-8601 strings with microseconds (sortable as text everywhere);
free-form JSON is redacted on the way in (:mod:`sluice.state.redact`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from sluice.errors import StateError

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
from .redact import redact
from .schema import events

_E = TypeVar("_E", bound=StrEnum)


def iso(moment: dt.datetime) -> str:
    """``moment`` as a UTC ISO string; naive datetimes are refused (their zone is a guess)."""
    if moment.tzinfo is None:
        raise StateError(
            f"timestamp {moment.isoformat()} has no time zone",
            tip="pass aware datetimes, e.g. datetime.now(datetime.UTC)",
        )
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def parse_opt_ts(text: str | None) -> dt.datetime | None:
    return None if text is None else parse_ts(text)


def dumps(value: Mapping[str, Any] | None) -> str:
    """Redacted, canonical JSON for a free-form mapping."""
    return json.dumps(redact(dict(value or {})), sort_keys=True, default=str)


def loads(text: str) -> dict[str, Any]:
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else {"value": loaded}


def as_enum(cls: type[_E], value: str) -> _E:
    """``value`` as a member of ``cls``, or a :class:`StateError` listing the choices."""
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise StateError(f"invalid {cls.__name__} {value!r}; expected one of {choices}") from None


def new_id(result: sa.CursorResult[Any]) -> int:
    """The generated primary key of a single-row INSERT."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise StateError("the database did not return the id of the new row")
    return int(key[0])


def insert_event(
    conn: Connection,
    kind: str,
    *,
    env: str | None = None,
    actor: str | None = None,
    release_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> EventRecord:
    """Append an event inside the caller's transaction."""
    at = utcnow()
    body = dumps(payload)
    result = conn.execute(
        events.insert().values(
            at=iso(at), kind=kind, env=env, actor=actor, release_id=release_id, payload_json=body
        )
    )
    return EventRecord(new_id(result), at, kind, env, actor, release_id, loads(body))


# ------------------------------------------------------------------------- row -> record


def release(row: Row[Any]) -> ReleaseRecord:
    return ReleaseRecord(
        id=row.id,
        digest=row.digest,
        commit=row.commit,
        author=row.author,
        created_at=parse_ts(row.created_at),
        message=row.message,
        dirty=bool(row.dirty),
        checks_passed=None if row.checks_passed is None else bool(row.checks_passed),
        manifest_json=row.manifest_json,
    )


def deployment(row: Row[Any]) -> DeploymentRecord:
    return DeploymentRecord(
        id=int(row.id),
        env=row.env,
        release_id=row.release_id,
        kind=DeploymentKind(row.kind),
        status=DeploymentStatus(row.status),
        actor=row.actor,
        started_at=parse_ts(row.started_at),
        finished_at=parse_opt_ts(row.finished_at),
        message=row.message,
    )


def step(row: Row[Any]) -> StepRecord:
    return StepRecord(
        deployment_id=int(row.deployment_id),
        seq=int(row.seq),
        step=row.step,
        status=StepStatus(row.status),
        detail=loads(row.detail_json),
        at=parse_ts(row.at),
    )


def live(row: Row[Any]) -> LiveState:
    return LiveState(
        env=row.env,
        release_id=row.release_id,
        versions={str(k): str(v) for k, v in json.loads(row.versions_json).items()},
        deployment_id=None if row.deployment_id is None else int(row.deployment_id),
        since=parse_ts(row.since),
    )


def job_run(row: Row[Any]) -> JobRunRecord:
    return JobRunRecord(
        deployment_id=int(row.deployment_id),
        job=row.job,
        dataset=row.dataset,
        version=row.version,
        status=JobRunStatus(row.status),
        rows=None if row.rows is None else int(row.rows),
        seconds=None if row.seconds is None else float(row.seconds),
        message=row.message,
    )


def audit(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        deployment_id=int(row.deployment_id),
        dataset=row.dataset,
        version=row.version,
        passed=bool(row.passed),
        summary=loads(row.summary_json),
    )


def quarantined(row: Row[Any]) -> QuarantineRecord:
    return QuarantineRecord(
        env=row.env,
        dataset=row.dataset,
        version=row.version,
        deployment_id=int(row.deployment_id),
        fingerprint=row.fingerprint,
        reason=row.reason,
        at=parse_ts(row.at),
    )


def approval(row: Row[Any]) -> ApprovalRecord:
    return ApprovalRecord(
        env=row.env,
        release_id=row.release_id,
        decision=ApprovalDecision(row.decision),
        actor=row.actor,
        comment=row.comment,
        at=parse_ts(row.at),
        acknowledges=tuple(a for a in (row.acknowledges or "").split(",") if a),
        via=row.via or "claimed",
    )


def lock(row: Row[Any]) -> LockRecord:
    return LockRecord(
        env=row.env,
        owner=row.owner,
        acquired_at=parse_ts(row.acquired_at),
        expires_at=parse_ts(row.expires_at),
    )


def event(row: Row[Any]) -> EventRecord:
    return EventRecord(
        seq=int(row.seq),
        at=parse_ts(row.at),
        kind=row.kind,
        env=row.env,
        actor=row.actor,
        release_id=row.release_id,
        payload=loads(row.payload_json),
    )
