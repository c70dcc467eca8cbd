"""The outbox: notifications are rows of the state store's ``notifications`` table first,
and sent afterwards, so a slow or dead channel never delays or fails what caused them.

:func:`enqueue` writes one row per matching channel (``pending``, due at once).
:func:`deliver_due` claims due rows with a lease — a compare-and-swap ``UPDATE`` on
``lease_owner``/``lease_expires`` — so two servers on one store never send a row twice
while its lease runs; it sends each, then marks it ``sent``, or schedules the next attempt
with exponential backoff and jitter (``attempts``, ``next_at``, ``last_error``, masked), and
gives up after :attr:`RetryPolicy.max_attempts` (or at once on a permanent error): status
``failed`` and a ``notify_failed`` event. A sender that dies mid-send leaves its lease to
expire; the row is then sent again (at least once: receivers get the row id to drop a repeat,
``X-Sluice-Delivery`` and the webhook body's ``id``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sluice import secrecy
from sluice.errors import NotifyError
from sluice.notify.channels import channel_key, find_channel, make_notifier, matches
from sluice.notify.messages import canonical_kind, facts, render
from sluice.state import leases
from sluice.state.records import utcnow
from sluice.state.rows import insert_event, iso, new_id, parse_opt_ts, parse_ts
from sluice.state.schema import notifications

if TYPE_CHECKING:
    from sluice.config import ProjectConfig
    from sluice.project.workspace import Workspace
    from sluice.state import StateStore

__all__ = ["NotificationRecord", "RetryPolicy", "deliver_due", "enqueue", "list_notifications"]

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a row is tried: attempt *n* failing waits about
    ``base_seconds * 2**(n-1)`` (at most ``max_seconds``), drawn at random from its upper
    half so that rows failed together do not come back together."""

    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 1800.0
    #: how long a claimed row is ours; longer than one send can take (``timeout_seconds``)
    lease_seconds: float = 120.0
    timeout_seconds: float = 10.0

    def delay(self, attempts: int) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(attempts - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not crypto


@dataclass(frozen=True)
class NotificationRecord:
    """One row of the outbox."""

    id: int
    channel: str
    kind: str
    env: str | None
    status: str
    attempts: int
    next_at: dt.datetime
    created_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "kind": self.kind, "env": self.env,
                "status": self.status, "attempts": self.attempts,
                "next_at": self.next_at.isoformat(), "created_at": self.created_at.isoformat(),
                "sent_at": self.sent_at.isoformat() if self.sent_at else None,
                "last_error": self.last_error, "payload": self.payload}


def _record(row: Any) -> NotificationRecord:
    return NotificationRecord(
        id=int(row.id), channel=row.channel, kind=row.kind, env=row.env, status=row.status,
        attempts=int(row.attempts), next_at=parse_ts(row.next_at),
        created_at=parse_ts(row.created_at), sent_at=parse_opt_ts(row.sent_at),
        last_error=row.last_error, payload=json.loads(row.payload_json))


def enqueue(state: StateStore, cfg: ProjectConfig, env: str | None, kind: str,
            payload: Mapping[str, Any], *, now: dt.datetime | None = None,
            repo: Path | None = None) -> list[int]:
    """Queue a notification for every channel whose filters take it; the ids of the rows.

    The payload is redacted (:func:`sluice.notify.messages.facts`; ``repo``, the project's
    folder, gives the commit's subject line); a channel listed twice (the same key) gets
    one row. Raises StateError when the store cannot be written: callers
    that must never fail (``Workspace.notify``) catch it."""
    kind = canonical_kind(kind)
    keys = list(dict.fromkeys(channel_key(c) for c in cfg.notifications
                              if matches(cfg, c, env, kind)))
    if not keys:
        return []
    body = json.dumps(facts(state, cfg, env, kind, payload, repo=repo), sort_keys=True,
                      default=str)
    at = iso(now or utcnow())
    ids: list[int] = []
    with state.transaction("queue a notification in", write=True) as conn:
        for key in keys:
            result = conn.execute(notifications.insert().values(
                channel=key, kind=kind, env=env, payload_json=body, status=PENDING,
                attempts=0, next_at=at, created_at=at))
            ids.append(new_id(result))
    from sluice.notify.dispatcher import enqueued

    enqueued()
    return ids


def list_notifications(state: StateStore, *, status: str | None = None,
                       limit: int = 100) -> list[NotificationRecord]:
    """The newest rows of the outbox (of ``status``, if given), newest first."""
    query = sa.select(notifications).order_by(notifications.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(notifications.c.status == status)
    with state.transaction("read notifications from") as conn:
        return [_record(r) for r in conn.execute(query)]


def _claim(state: StateStore, owner: str, now: dt.datetime, limit: int,
           policy: RetryPolicy, only: Sequence[int] | None) -> list[NotificationRecord]:
    now_s = iso(now)
    due = sa.and_(notifications.c.status == PENDING, notifications.c.next_at <= now_s)
    # leased rows too: one held by a server killed on this host is taken at once
    query = sa.select(notifications.c.id).where(due).order_by(notifications.c.id).limit(limit)
    if only is not None:
        query = query.where(notifications.c.id.in_(list(only)))
    # a read first: the dispatcher asks every second, and mostly nothing is due (a write
    # transaction would take SQLite's write lock each time)
    with state.transaction("read notifications from") as conn:
        candidates = [int(r.id) for r in conn.execute(query)]
    if not candidates:
        return []
    with state.transaction("claim notifications in", write=True) as conn:
        claimed = [  # compare-and-swap each: another server may have claimed it meanwhile
            i for i in candidates
            if leases.take(conn, notifications, sa.and_(notifications.c.id == i, due), owner,
                           now, policy.lease_seconds)]
        if not claimed:
            return []
        rows = conn.execute(sa.select(notifications).where(notifications.c.id.in_(claimed))
                            .order_by(notifications.c.id))
        return [_record(r) for r in rows]


def _finish(state: StateStore, rec: NotificationRecord, owner: str, now: dt.datetime,
            error: NotifyError | None, policy: RetryPolicy) -> str:
    attempts = rec.attempts + 1
    mine = sa.and_(notifications.c.id == rec.id, notifications.c.lease_owner == owner)
    values: dict[str, Any] = {"attempts": attempts, "lease_owner": None, "lease_expires": None}
    if error is None:
        status = SENT
        values.update(status=SENT, sent_at=iso(utcnow()), last_error=None)
    else:
        message = secrecy.mask(error.message)[:1000]
        give_up = error.permanent or attempts >= policy.max_attempts
        status = FAILED if give_up else PENDING
        values.update(status=status, last_error=message)
        if not give_up:
            values["next_at"] = iso(now + dt.timedelta(seconds=policy.delay(attempts)))
    with state.transaction("record a notification in", write=True) as conn:
        conn.execute(notifications.update().where(mine).values(**values))
        if status == FAILED:
            insert_event(conn, "notify_failed", env=rec.env, payload={
                "kind": rec.kind, "channel": rec.channel, "notification": rec.id,
                "attempts": attempts, "error": values["last_error"]})
    return status


def deliver_due(state: StateStore, cfg: ProjectConfig, now: dt.datetime | None = None,
                owner: str = "", limit: int = 20, *, policy: RetryPolicy | None = None,
                workspace: Workspace | None = None, environ: Mapping[str, str] | None = None,
                deadline: float | None = None, only: Sequence[int] | None = None) -> int:
    """Send up to ``limit`` due rows; how many were sent.

    ``now`` decides what is due and when a retry is scheduled (tests move it forward);
    ``deadline`` (a ``time.monotonic()`` value) bounds the whole call: rows it could not
    reach are released for later. A row whose channel is no longer in ``cfg`` fails."""
    policy = policy or RetryPolicy()
    now = now or utcnow()
    owner = owner or f"pid:{os.getpid()}"
    environ = os.environ if environ is None else environ
    claimed = _claim(state, owner, now, limit, policy, only)
    sent = 0
    for i, rec in enumerate(claimed):
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0.05:
            _release(state, [r.id for r in claimed[i:]], owner)
            break
        timeout = policy.timeout_seconds if remaining is None \
            else min(policy.timeout_seconds, remaining)
        error: NotifyError | None = None
        try:
            channel = find_channel(cfg, rec.channel)
            if channel is None:
                raise NotifyError(f"channel {rec.channel} is no longer in sluice.yaml's "
                                  "notifications", permanent=True)
            notifier = make_notifier(channel, environ, workspace)
            notifier.send(render(rec.payload), rec.payload, delivery=rec.id, timeout=timeout)
        except NotifyError as exc:
            error = exc
        except Exception as exc:  # a channel's bug must not stop the others
            error = NotifyError(f"channel {rec.channel}: {type(exc).__name__}: {exc}")
        if _finish(state, rec, owner, now, error, policy) == SENT:
            sent += 1
    return sent


def _release(state: StateStore, ids: list[int], owner: str) -> None:
    with state.transaction("release notifications in", write=True) as conn:
        leases.give_up(conn, notifications, owner, notifications.c.id.in_(ids))
