"""The state store: releases, deployments and their journals, live state, locks and events.

One :class:`StateStore` wraps one SQLAlchemy engine (SQLite by default, PostgreSQL or any
SQLAlchemy URL otherwise; see :mod:`sluice.state.engine`) and migrates the schema on open.
Every method runs in its own transaction, so each call is atomic; writes on SQLite take the
write lock up front. Database errors surface as :class:`~sluice.errors.StateError`.

Ordering: histories (releases, deployments, live history, approvals, events) are returned
newest first; the per-deployment journals (steps, job runs, audits) in the order written.
Free-form JSON (step ``detail``, event ``payload``, audit ``summary``) and free-text messages
are redacted before they are stored (:mod:`sluice.state.redact`).
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from sluice.errors import StateError

from . import rows
from .engine import WRITE, create_state_engine, display_url, resolve_url
from .locks import held_error, lost_error, try_lock
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
from .redact import mask_values, redact_text
from .schema import (
    approvals,
    audits,
    check_runs,
    deployment_steps,
    deployments,
    events,
    job_runs,
    live_history,
    live_state,
    locks,
    migrate,
    protections,
    quarantine,
    releases,
)

__all__ = ["StateStore"]

_LIST_TIP = "list the releases with `sluice releases`"
_LOCK_POLL_MAX_SECONDS = 1.0


class StateStore:
    """Records of what sluice released, deployed, ran, audited, approved, locked and did."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        self.where = display_url(self.url)
        self._engine = create_state_engine(self.url)
        try:
            with self._guard("migrate the schema of"):
                self.schema_version = migrate(self._engine, where=self.where)
        except BaseException:
            self._engine.dispose()
            raise

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Release every connection; the store is unusable afterwards."""
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateStore({self.where!r})"

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Map database errors to :class:`StateError` naming the store and the action."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
            raise StateError(
                f"cannot {action} the state store {self.where}: {reason}",
                tip="check that the database is reachable and writable "
                "(SQLite: the file and its directory; set SLUICE_STATE_URL to use another)",
            ) from exc

    @contextmanager
    def _tx(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        with self._guard(action), self._engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    def transaction(
        self, action: str, *, write: bool = False
    ) -> AbstractContextManager[Connection]:
        """A connection in one transaction (a context manager) for modules that keep their
        own tables in this store (the control plane's, :mod:`sluice.serve`); database errors
        become :class:`StateError` saying ``cannot {action} the state store …``."""
        return self._tx(action, write=write)

    @property
    def dialect(self) -> str:
        """The database behind the store: "sqlite", "postgresql", …"""
        return self._engine.dialect.name

    def _require_release(self, conn: Connection, release_id: str) -> None:
        found = conn.execute(sa.select(releases.c.id).where(releases.c.id == release_id)).first()
        if found is None:
            raise StateError(f"unknown release {release_id!r} in {self.where}", tip=_LIST_TIP)

    def _require_deployment(self, conn: Connection, deployment_id: int) -> Row[Any]:
        # FOR UPDATE serialises writers of one deployment on PostgreSQL (no-op on SQLite,
        # where the write transaction already holds the database lock).
        row = conn.execute(
            sa.select(deployments).where(deployments.c.id == deployment_id).with_for_update()
        ).first()
        if row is None:
            raise StateError(f"unknown deployment {deployment_id} in {self.where}")
        return row

    # ------------------------------------------------------------------ releases

    def add_release(self, rec: ReleaseRecord) -> None:
        """Record a release; recording the same id and digest again is a no-op."""
        with self._tx("record a release in", write=True) as conn:
            row = conn.execute(sa.select(releases).where(releases.c.id == rec.id)).first()
            if row is not None:
                if row.digest != rec.digest:
                    raise StateError(
                        f"release {rec.id} is already recorded with digest {row.digest}, "
                        f"not {rec.digest}",
                        tip="releases are immutable: build a new release instead",
                    )
                return
            conn.execute(
                releases.insert().values(
                    id=rec.id,
                    digest=rec.digest,
                    commit=rec.commit,
                    author=rec.author,
                    created_at=rows.iso(rec.created_at),
                    message=rec.message,
                    dirty=rec.dirty,
                    checks_passed=rec.checks_passed,
                    manifest_json=rec.manifest_json,
                )
            )

    def get_release(self, id_or_prefix: str) -> ReleaseRecord:
        """The release whose id (or digest) is, or uniquely starts with, ``id_or_prefix``."""
        wanted = id_or_prefix.strip()
        if not wanted:
            raise StateError("an empty release id matches nothing", tip=_LIST_TIP)
        with self._tx("read releases from") as conn:
            row = conn.execute(sa.select(releases).where(releases.c.id == wanted)).first()
            if row is not None:
                return rows.release(row)
            # LIKE narrows the scan; startswith re-checks case-sensitively (SQLite's LIKE
            # is not).
            query = sa.select(releases).where(
                releases.c.id.startswith(wanted, autoescape=True)
                | releases.c.digest.startswith(wanted, autoescape=True)
            )
            matches = [
                r
                for r in conn.execute(query)
                if r.id.startswith(wanted) or r.digest.startswith(wanted)
            ]
            if len(matches) == 1:
                return rows.release(matches[0])
            if matches:
                ids = sorted(r.id for r in matches)
                shown = ", ".join(ids[:10]) + (
                    f" and {len(ids) - 10} more" if len(ids) > 10 else ""
                )
                raise StateError(
                    f"release {wanted!r} is ambiguous: it matches {shown}",
                    tip="give more characters of the release id",
                )
            all_ids = list(conn.execute(sa.select(releases.c.id)).scalars())
        close = difflib.get_close_matches(wanted, all_ids, n=3)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise StateError(f"no release matches {wanted!r} in {self.where}", tip=hint + _LIST_TIP)

    def list_releases(self) -> list[ReleaseRecord]:
        """Every recorded release, newest first."""
        with self._tx("read releases from") as conn:
            query = sa.select(releases).order_by(releases.c.created_at.desc(), releases.c.id.desc())
            return [rows.release(r) for r in conn.execute(query)]

    def set_checks(self, release_id: str, passed: bool) -> None:
        """Record whether a release's CI checks passed."""
        with self._tx("record check results in", write=True) as conn:
            done = conn.execute(
                releases.update().where(releases.c.id == release_id).values(checks_passed=passed)
            )
            if done.rowcount != 1:
                raise StateError(f"unknown release {release_id!r} in {self.where}", tip=_LIST_TIP)

    def record_check_run(self, tree: str, passed: bool, complete: bool,
                         summary: Mapping[str, Any], actor: str) -> None:
        """Record what ``sluice check`` found on a git tree."""
        with self._tx("record a check run in", write=True) as conn:
            conn.execute(check_runs.insert().values(
                tree=tree, passed=passed, complete=complete, actor=actor,
                summary_json=json.dumps(mask_values(summary), sort_keys=True, default=str),
                at=rows.iso(utcnow())))

    def latest_check_run(self, tree: str) -> dict[str, Any] | None:
        """The newest complete check run of a tree: its summary plus passed/actor/at."""
        with self._tx("read check runs from") as conn:
            row = conn.execute(
                sa.select(check_runs).where(check_runs.c.tree == tree, check_runs.c.complete)
                .order_by(check_runs.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        return {"tree": row.tree, "passed": bool(row.passed), "actor": row.actor,
                "at": row.at, **json.loads(row.summary_json)}

    # ------------------------------------------------------------------ deployments

    def start_deployment(
        self,
        env: str,
        release_id: str,
        kind: DeploymentKind | str,
        actor: str,
        message: str = "",
    ) -> int:
        """Open a ``running`` deployment of ``release_id`` to ``env``; returns its id."""
        kind_ = rows.as_enum(DeploymentKind, kind)
        with self._tx("start a deployment in", write=True) as conn:
            self._require_release(conn, release_id)
            result = conn.execute(
                deployments.insert().values(
                    env=env,
                    release_id=release_id,
                    kind=kind_.value,
                    status=DeploymentStatus.RUNNING.value,
                    actor=actor,
                    started_at=rows.iso(utcnow()),
                    finished_at=None,
                    message=redact_text(message),
                )
            )
            return rows.new_id(result)

    def step(
        self,
        deployment_id: int,
        step: str,
        status: StepStatus | str,
        detail: Mapping[str, Any] | None = None,
    ) -> StepRecord:
        """Append one entry to a deployment's journal (``detail`` is redacted)."""
        status_ = rows.as_enum(StepStatus, status)
        with self._tx("journal a deployment step in", write=True) as conn:
            self._require_deployment(conn, deployment_id)
            last = conn.execute(
                sa.select(sa.func.max(deployment_steps.c.seq)).where(
                    deployment_steps.c.deployment_id == deployment_id
                )
            ).scalar()
            rec = StepRecord(
                deployment_id=deployment_id,
                seq=int(last or 0) + 1,
                step=step,
                status=status_,
                detail=rows.loads(rows.dumps(detail)),
                at=utcnow(),
            )
            conn.execute(
                deployment_steps.insert().values(
                    deployment_id=deployment_id,
                    seq=rec.seq,
                    step=step,
                    status=status_.value,
                    detail_json=json.dumps(rec.detail, sort_keys=True),
                    at=rows.iso(rec.at),
                )
            )
            return rec

    def steps(self, deployment_id: int) -> list[StepRecord]:
        """A deployment's journal, in the order written."""
        with self._tx("read deployment steps from") as conn:
            query = (
                sa.select(deployment_steps)
                .where(deployment_steps.c.deployment_id == deployment_id)
                .order_by(deployment_steps.c.seq)
            )
            return [rows.step(r) for r in conn.execute(query)]

    def finish_deployment(
        self, deployment_id: int, status: DeploymentStatus | str, message: str = ""
    ) -> DeploymentRecord:
        """Close a deployment with a final status (a finished one may later be rolled back)."""
        status_ = rows.as_enum(DeploymentStatus, status)
        if status_ is DeploymentStatus.RUNNING:
            raise StateError("a deployment cannot finish with status 'running'")
        with self._tx("finish a deployment in", write=True) as conn:
            self._require_deployment(conn, deployment_id)
            conn.execute(
                deployments.update()
                .where(deployments.c.id == deployment_id)
                .values(
                    status=status_.value,
                    finished_at=rows.iso(utcnow()),
                    message=redact_text(message),
                )
            )
            row = conn.execute(sa.select(deployments).where(deployments.c.id == deployment_id))
            return rows.deployment(row.one())

    def get_deployment(self, deployment_id: int) -> DeploymentRecord:
        """One deployment by id."""
        with self._tx("read deployments from") as conn:
            query = sa.select(deployments).where(deployments.c.id == deployment_id)
            row = conn.execute(query).first()
        if row is None:
            raise StateError(f"unknown deployment {deployment_id} in {self.where}")
        return rows.deployment(row)

    def unfinished_deployments(self, env: str | None = None) -> list[DeploymentRecord]:
        """Deployments still ``running`` (interrupted, or in progress), oldest first."""
        query = sa.select(deployments).where(deployments.c.status == DeploymentStatus.RUNNING.value)
        if env is not None:
            query = query.where(deployments.c.env == env)
        with self._tx("read deployments from") as conn:
            return [rows.deployment(r) for r in conn.execute(query.order_by(deployments.c.id))]

    def deployments(self, env: str | None = None, limit: int = 50) -> list[DeploymentRecord]:
        """The latest deployments (of ``env``, or of every environment), newest first."""
        query = sa.select(deployments).order_by(deployments.c.id.desc()).limit(limit)
        if env is not None:
            query = query.where(deployments.c.env == env)
        with self._tx("read deployments from") as conn:
            return [rows.deployment(r) for r in conn.execute(query)]

    def last_deployment(self, env: str, release_id: str) -> DeploymentRecord | None:
        """The newest deployment of ``release_id`` to ``env`` (any kind), if there was one."""
        query = (sa.select(deployments)
                 .where(deployments.c.env == env, deployments.c.release_id == release_id)
                 .order_by(deployments.c.id.desc()).limit(1))
        with self._tx("read deployments from") as conn:
            row = conn.execute(query).first()
        return None if row is None else rows.deployment(row)

    # ------------------------------------------------------------------ live state

    def publish(
        self,
        env: str,
        release_id: str,
        versions: Mapping[str, str],
        deployment_id: int | None,
    ) -> LiveState:
        """Make ``release_id`` with these dataset versions live in ``env`` and log it.

        The live pointer and its history entry are written in one transaction.
        """
        with self._tx(f"publish {env} in", write=True) as conn:
            return self._write_live(conn, env, release_id, versions, deployment_id)

    def _write_live(
        self,
        conn: Connection,
        env: str,
        release_id: str,
        versions: Mapping[str, str],
        deployment_id: int | None,
    ) -> LiveState:
        """Point ``env`` at a release and versions and append it to the live history."""
        state = LiveState(env, release_id, dict(versions), deployment_id, utcnow())
        values = {
            "release_id": release_id,
            "versions_json": json.dumps(state.versions, sort_keys=True),
            "deployment_id": deployment_id,
            "since": rows.iso(state.since),
        }
        self._require_release(conn, release_id)
        if deployment_id is not None:
            self._require_deployment(conn, deployment_id)
        conn.execute(live_history.insert().values(env=env, **values))
        updated = conn.execute(
            live_state.update().where(live_state.c.env == env).values(**values)
        )
        if updated.rowcount == 0:
            conn.execute(live_state.insert().values(env=env, **values))
        return state

    def complete_deployment(
        self,
        deployment_id: int,
        env: str,
        release_id: str,
        versions: Mapping[str, str],
        *,
        message: str = "",
        event_kind: str = "",
        actor: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> LiveState:
        """Publish, finish the deployment as succeeded and log an event, in ONE transaction.

        For pointer-only changes (rollback) where the three writes would otherwise cost
        three commits; the deployment must have been started (journaled) before.
        """
        with self._tx(f"complete a deployment of {env} in", write=True) as conn:
            state = self._write_live(conn, env, release_id, versions, deployment_id)
            conn.execute(
                deployments.update()
                .where(deployments.c.id == deployment_id)
                .values(status=DeploymentStatus.SUCCEEDED.value,
                        finished_at=rows.iso(utcnow()), message=redact_text(message))
            )
            if event_kind:
                rows.insert_event(conn, event_kind, env=env, actor=actor,
                                  release_id=release_id, payload=payload)
        return state

    def live(self, env: str) -> LiveState | None:
        """What ``env`` serves now, or ``None`` if nothing was ever published there."""
        with self._tx("read the live state from") as conn:
            row = conn.execute(sa.select(live_state).where(live_state.c.env == env)).first()
        return None if row is None else rows.live(row)

    def live_history(self, env: str, limit: int | None = None) -> list[LiveState]:
        """Every state ever published in ``env``, newest first."""
        query = (
            sa.select(live_history)
            .where(live_history.c.env == env)
            .order_by(live_history.c.id.desc())
            .limit(limit)
        )
        with self._tx("read the live history from") as conn:
            return [rows.live(r) for r in conn.execute(query)]

    def previous_live(self, env: str, before_release: str | None = None) -> LiveState | None:
        """The state that was live before ``before_release`` (default: the live release).

        Finds the newest publish of ``before_release`` in ``env`` and returns the newest earlier
        state of a *different* release: the target of a rollback. ``None`` if there is none.
        """
        history = self.live_history(env)
        if not history:
            return None
        target = before_release or history[0].release_id
        start = next((i for i, s in enumerate(history) if s.release_id == target), None)
        if start is None:
            live_ids = list(dict.fromkeys(s.release_id for s in history))
            raise StateError(
                f"release {target!r} was never live in {env}",
                tip=f"releases that were live in {env}, newest first: {', '.join(live_ids[:10])}",
            )
        return next((s for s in history[start:] if s.release_id != target), None)

    # ------------------------------------------------------------------ job runs and audits

    def record_job_run(self, rec: JobRunRecord) -> None:
        """Record one job execution of a deployment."""
        status = rows.as_enum(JobRunStatus, rec.status)
        with self._tx("record a job run in", write=True) as conn:
            self._require_deployment(conn, rec.deployment_id)
            conn.execute(
                job_runs.insert().values(
                    deployment_id=rec.deployment_id,
                    job=rec.job,
                    dataset=rec.dataset,
                    version=rec.version,
                    status=status.value,
                    rows=rec.rows,
                    seconds=rec.seconds,
                    message=redact_text(rec.message),
                )
            )

    def job_runs(self, deployment_id: int) -> list[JobRunRecord]:
        """A deployment's job runs, in the order recorded."""
        query = (
            sa.select(job_runs)
            .where(job_runs.c.deployment_id == deployment_id)
            .order_by(job_runs.c.id)
        )
        with self._tx("read job runs from") as conn:
            return [rows.job_run(r) for r in conn.execute(query)]

    def record_audit(self, rec: AuditRecord) -> None:
        """Record the audit of one dataset version (``summary`` is redacted)."""
        with self._tx("record an audit in", write=True) as conn:
            self._require_deployment(conn, rec.deployment_id)
            conn.execute(
                audits.insert().values(
                    deployment_id=rec.deployment_id,
                    dataset=rec.dataset,
                    version=rec.version,
                    passed=rec.passed,
                    summary_json=rows.dumps(rec.summary),
                )
            )

    def audits(self, deployment_id: int) -> list[AuditRecord]:
        """A deployment's audits, in the order recorded."""
        query = (
            sa.select(audits).where(audits.c.deployment_id == deployment_id).order_by(audits.c.id)
        )
        with self._tx("read audits from") as conn:
            return [rows.audit(r) for r in conn.execute(query)]

    # ------------------------------------------------------------------ quarantine

    def record_quarantine(self, rec: QuarantineRecord) -> None:
        """Keep a version an audit refused (``reason`` is redacted); once per version."""
        with self._tx("record a quarantined version in", write=True) as conn:
            self._require_deployment(conn, rec.deployment_id)
            key = ((quarantine.c.env == rec.env) & (quarantine.c.dataset == rec.dataset)
                   & (quarantine.c.version == rec.version))
            if conn.execute(sa.select(quarantine.c.version).where(key)).first() is not None:
                return
            conn.execute(quarantine.insert().values(
                env=rec.env, dataset=rec.dataset, version=rec.version,
                deployment_id=rec.deployment_id, fingerprint=rec.fingerprint,
                reason=redact_text(rec.reason), at=rows.iso(rec.at)))

    def quarantined(self, env: str, dataset: str | None = None) -> list[QuarantineRecord]:
        """The versions kept in quarantine in ``env`` (of one dataset, if given), newest
        first."""
        query = sa.select(quarantine).where(quarantine.c.env == env)
        if dataset is not None:
            query = query.where(quarantine.c.dataset == dataset)
        query = query.order_by(quarantine.c.at.desc(), quarantine.c.version.desc())
        with self._tx("read quarantined versions from") as conn:
            return [rows.quarantined(r) for r in conn.execute(query)]

    def release_quarantine(self, env: str, dataset: str, version: str) -> None:
        """Forget a quarantined version (``sluice gc`` dropped it)."""
        with self._tx("remove a quarantined version from", write=True) as conn:
            conn.execute(quarantine.delete().where(
                (quarantine.c.env == env) & (quarantine.c.dataset == dataset)
                & (quarantine.c.version == version)))

    # ------------------------------------------------------------------ approvals

    def record_approval(self, rec: ApprovalRecord) -> None:
        """Record an approval or rejection of a release for an environment."""
        decision = rows.as_enum(ApprovalDecision, rec.decision)
        with self._tx("record an approval in", write=True) as conn:
            self._require_release(conn, rec.release_id)
            conn.execute(
                approvals.insert().values(
                    env=rec.env,
                    release_id=rec.release_id,
                    decision=decision.value,
                    actor=rec.actor,
                    comment=redact_text(rec.comment),
                    at=rows.iso(rec.at),
                    acknowledges=",".join(rec.acknowledges),
                    via=rec.via,
                )
            )

    def approvals(self, env: str, release_id: str | None = None) -> list[ApprovalRecord]:
        """Decisions for ``env`` (and one release, if given), newest first."""
        query = sa.select(approvals).where(approvals.c.env == env)
        if release_id is not None:
            query = query.where(approvals.c.release_id == release_id)
        with self._tx("read approvals from") as conn:
            return [rows.approval(r) for r in conn.execute(query.order_by(approvals.c.id.desc()))]

    def is_approved(self, env: str, release_id: str, *, acknowledging: str | None = None) -> bool:
        """Whether the latest decision on ``release_id`` for ``env`` is an approval (that
        acknowledges ``acknowledging``, when given)."""
        latest = self.approvals(env, release_id)
        if not latest or latest[0].decision is not ApprovalDecision.APPROVED:
            return False
        return acknowledging is None or acknowledging in latest[0].acknowledges

    # ------------------------------------------------------------------ protection

    def record_protection(self, env: str, release_id: str, protection: Mapping[str, Any], *,
                          actor: str, reason: str, deployment_id: int | None = None) -> None:
        """Record the protection now in force in ``env`` (what its gates read next time)."""
        with self._tx(f"record the protection of {env} in", write=True) as conn:
            conn.execute(protections.insert().values(
                env=env, release_id=release_id, deployment_id=deployment_id,
                protection_json=json.dumps(dict(protection), sort_keys=True), actor=actor,
                reason=redact_text(reason), at=rows.iso(utcnow())))

    def protection(self, env: str) -> dict[str, Any] | None:
        """The protection recorded last for ``env``; ``None`` if none ever was."""
        query = (sa.select(protections.c.protection_json).where(protections.c.env == env)
                 .order_by(protections.c.id.desc()).limit(1))
        with self._tx("read the protection from") as conn:
            found = conn.execute(query).scalar()
        return None if found is None else dict(json.loads(found))

    # ------------------------------------------------------------------ locks

    def acquire_lock(
        self, env: str, owner: str, ttl_seconds: float = 3600, wait_seconds: float = 0.0
    ) -> LockRecord:
        """Take ``env``'s deployment lock for ``owner``, or raise :class:`LockError`.

        Atomic across processes (a primary key on ``env``). A lock past its expiry is taken
        over, and the takeover is logged as a ``lock.taken_over`` event. While another owner
        holds a live lock, polls for up to ``wait_seconds``. Not re-entrant: an owner that
        asks again for a lock it holds waits like anyone else.
        """
        if ttl_seconds <= 0:
            raise StateError(f"lock time-to-live must be positive, got {ttl_seconds}")
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        delay = 0.02
        while True:
            with self._tx(f"lock {env} in", write=True) as conn:
                got, holder = try_lock(conn, env, owner, ttl_seconds)
            if got is not None:
                return got
            if holder is None:
                continue  # released or taken over between our attempts: try again at once
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise held_error(holder, wait_seconds)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _LOCK_POLL_MAX_SECONDS)

    def release_lock(self, env: str, owner: str) -> bool:
        """Release ``owner``'s lock on ``env``; ``False`` if ``env`` was not locked.

        Raises :class:`LockError` if someone else holds it (ours expired and was taken over).
        """
        with self._tx(f"unlock {env} in", write=True) as conn:
            deleted = conn.execute(
                locks.delete().where(locks.c.env == env, locks.c.owner == owner)
            ).rowcount
            if deleted:
                return True
            row = conn.execute(sa.select(locks).where(locks.c.env == env)).first()
        if row is None:
            return False
        raise lost_error(owner, rows.lock(row))

    def current_lock(self, env: str) -> LockRecord | None:
        """The live lock on ``env``, or ``None`` if it is free (or its lock has expired)."""
        with self._tx("read locks from") as conn:
            row = conn.execute(sa.select(locks).where(locks.c.env == env)).first()
        if row is None:
            return None
        held = rows.lock(row)
        return None if held.expired() else held

    # ------------------------------------------------------------------ events

    def event(
        self,
        kind: str,
        env: str | None = None,
        actor: str | None = None,
        release_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """Append an event to the log (``payload`` is redacted)."""
        with self._tx("log an event in", write=True) as conn:
            return rows.insert_event(
                conn, kind, env=env, actor=actor, release_id=release_id, payload=payload
            )

    def events(
        self, env: str | None = None, limit: int = 100, kind: str | None = None, *,
        envs: Sequence[str] | None = None,
    ) -> list[EventRecord]:
        """The latest events (of ``env`` and ``kind``, if given; only of the environments
        ``envs``, if given), newest first."""
        query = sa.select(events).order_by(events.c.seq.desc()).limit(limit)
        if env is not None:
            query = query.where(events.c.env == env)
        if envs is not None:
            query = query.where(events.c.env.in_(list(envs)))
        if kind is not None:
            query = query.where(events.c.kind == kind)
        with self._tx("read events from") as conn:
            return [rows.event(r) for r in conn.execute(query)]
