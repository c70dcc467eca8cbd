"""Pipeline executions as records: one commit carried through the promotion order.

An execution is a row of ``executions`` with its stages planned up front as rows of
``execution_stages`` (all ``pending``), so a client sees the whole pipeline before anything
runs; its progress lines go to ``execution_logs`` (redacted), pollable with :func:`logs`
for live streaming. :mod:`sluice.serve.pipeline` moves executions forward; this module only
reads and writes their records, each call in one transaction.

Stages of a ``pipeline`` execution: ``check`` (when ``pipeline.check``), ``release``,
``deploy:<first env>``, then for each next environment of the promotion order
``approval:<env>`` (when its rules in force ask for one) and ``promote:<env>``. A ``run``
execution (a schedule, new data) has one stage, ``run:<env>``.

Statuses (see :data:`EXECUTION_STATUSES`, :data:`STAGE_STATUSES`): an execution is
``queued`` until a stage starts and while it waits for its turn to enter a stage group,
``running`` while a stage runs, ``waiting`` at an approval, then one of the final ones.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from sluice.config import ProjectConfig
from sluice.errors import StateError, UsageError
from sluice.project.workspace import Workspace
from sluice.state import StateStore, leases, redact_text, rows, utcnow
from sluice.state.rows import insert_event
from sluice.state.schema import execution_logs, execution_stages, executions

ExecutionStatus = Literal["queued", "running", "waiting", "succeeded", "failed", "rejected",
                          "superseded", "interrupted", "cancelled"]
StageStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "rejected",
                      "skipped", "superseded", "interrupted"]
StageKind = Literal["check", "release", "deploy", "approval", "promote", "run"]
Action = Literal["pipeline", "run"]

EXECUTION_STATUSES: tuple[ExecutionStatus, ...] = (
    "queued", "running", "waiting", "succeeded", "failed", "rejected", "superseded",
    "interrupted", "cancelled")
STAGE_STATUSES: tuple[StageStatus, ...] = (
    "pending", "running", "waiting", "succeeded", "failed", "rejected", "skipped",
    "superseded", "interrupted")
#: An execution in one of these is still going (or will go) somewhere.
ACTIVE: tuple[ExecutionStatus, ...] = ("queued", "running", "waiting")
FINAL_STAGE: frozenset[str] = frozenset(
    {"succeeded", "failed", "rejected", "skipped", "superseded", "interrupted"})

STARTED_EVENT = "execution_started"
FINISHED_EVENT = "execution_finished"


@dataclass(frozen=True)
class Stage:
    position: int
    name: str
    kind: StageKind
    env: str | None
    status: StageStatus
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    message: str = ""
    approval_seen: int | None = None  # an approval stage: the newest approval it judged

    @property
    def group(self) -> str:
        """The stage group it belongs to: its environment, or ``build`` (check, release)."""
        return self.env if self.env is not None else "build"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["approval_seen"]
        out["started_at"] = _iso(self.started_at)
        out["finished_at"] = _iso(self.finished_at)
        return out


@dataclass(frozen=True)
class Execution:
    id: int
    status: ExecutionStatus
    mode: str
    action: Action
    trigger: str
    detail: dict[str, Any]
    commit: str | None
    ref: str | None
    release_id: str | None
    actor: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    message: str
    lease_owner: str | None = None
    lease_expires: dt.datetime | None = None
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    @property
    def current(self) -> Stage | None:
        """The first stage that is not finished (None once every stage is)."""
        return next((s for s in self.stages if s.status not in FINAL_STAGE), None)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "mode": self.mode,
                "action": self.action, "trigger": self.trigger, "detail": self.detail,
                "commit": self.commit, "ref": self.ref, "release_id": self.release_id,
                "actor": self.actor, "created_at": _iso(self.created_at),
                "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at),
                "message": self.message, "stages": [s.to_dict() for s in self.stages]}


@dataclass(frozen=True)
class LogLine:
    seq: int
    execution_id: int
    position: int | None
    at: dt.datetime
    line: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "position": self.position, "at": _iso(self.at),
                "line": self.line}


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else rows.iso(moment)


def now_iso() -> str:
    return rows.iso(utcnow())


_ts = rows.parse_opt_ts


# ---------------------------------------------------------------- planning


def plan_stages(ws: Workspace, cfg: ProjectConfig, action: Action,
                env: str | None) -> list[tuple[str, StageKind, str | None]]:
    """The stages of a new execution: (name, kind, env), in order."""
    if action == "run":
        if env is None:
            raise UsageError("a run execution names its environment",
                             tip='start_execution(..., detail={"env": "prod", '
                                 '"action": "run"})')
        cfg.environment(env)  # unknown names fail with a suggestion
        return [(f"run:{env}", "run", env)]
    from sluice.flow.decision import rules_in_force

    order = cfg.promotion_order()
    planned: list[tuple[str, StageKind, str | None]] = []
    if cfg.pipeline.check:
        planned.append(("check", "check", None))
    planned.append(("release", "release", None))
    planned.append((f"deploy:{order[0]}", "deploy", order[0]))
    for dest in order[1:]:
        # the rules in force now; the approval stage decides again when it is reached
        if rules_in_force(ws, dest, cfg)[0].approval_required:
            planned.append((f"approval:{dest}", "approval", dest))
        planned.append((f"promote:{dest}", "promote", dest))
    return planned


def start_execution(ws: Workspace, *, commit: str | None, ref: str | None = None,
                    trigger: str = "api", detail: Mapping[str, Any] | None = None,
                    actor: str, action: Action | None = None,
                    env: str | None = None) -> int:
    """Record a new execution (status ``queued``, every stage ``pending``) and return its id.

    ``action`` is ``pipeline`` (default: ``commit`` through the promotion order) or ``run``
    (re-run ``env``'s live release; ``commit`` may be None); both can also come from
    ``detail`` (``{"action": "run", "env": "prod"}``, what schedules and data triggers
    pass). In ``superseded`` mode a new pipeline execution supersedes the older ones that
    have not started yet. Wake the engine afterwards (:meth:`Engine.wake`).
    """
    info = dict(detail or {})
    chosen = action or cast(Action, info.get("action", "pipeline"))
    if chosen not in ("pipeline", "run"):
        raise UsageError(f"unknown execution action {chosen!r}", tip="pipeline or run")
    where = env or (str(info["env"]) if info.get("env") else None)
    if chosen == "pipeline" and not commit:
        raise UsageError("a pipeline execution needs a commit")
    cfg = ws.config()
    planned = plan_stages(ws, cfg, chosen, where)
    mode = cfg.pipeline.mode
    at = now_iso()
    with ws.state.transaction("start an execution in", write=True) as conn:
        inserted = conn.execute(executions.insert().values(
            status="queued", mode=mode, action=chosen, trigger=trigger[:16],
            trigger_json=rows.dumps(info), commit=commit, ref=ref,
            release_id=None, actor=actor, created_at=at, message=""))
        new_id = rows.new_id(inserted)
        conn.execute(execution_stages.insert(), [
            {"execution_id": new_id, "position": i, "name": name, "kind": kind, "env": e,
             "status": "pending", "message": ""} for i, (name, kind, e) in enumerate(planned)])
        if mode == "superseded" and chosen == "pipeline":
            _supersede_unstarted(conn, new_id)
        insert_event(conn, "execution_created", env=where, actor=actor,
                     payload={"execution": new_id, "trigger": trigger, "commit": commit,
                              "action": chosen})
    return new_id


def _supersede_unstarted(conn: Connection, newer: int) -> None:
    older = [r.id for r in conn.execute(
        sa.select(executions.c.id).where(
            executions.c.id < newer, executions.c.status == "queued",
            executions.c.action == "pipeline", executions.c.started_at.is_(None),
            executions.c.lease_owner.is_(None)))]
    for eid in older:
        finish(conn, eid, "superseded", f"superseded by execution #{newer} before it started",
               stages_to="superseded")


# ---------------------------------------------------------------- reading


def _stage(row: Row[Any]) -> Stage:
    return Stage(row.position, row.name, row.kind, row.env, row.status,
                 _ts(row.started_at), _ts(row.finished_at), row.message, row.approval_seen)


def _execution(row: Row[Any], stages: Sequence[Stage]) -> Execution:
    return Execution(row.id, row.status, row.mode, row.action, row.trigger,
                     json.loads(row.trigger_json), row.commit, row.ref, row.release_id,
                     row.actor, cast(dt.datetime, _ts(row.created_at)), _ts(row.started_at),
                     _ts(row.finished_at), row.message, row.lease_owner,
                     _ts(row.lease_expires), tuple(stages))


def read_executions(conn: Connection, where: Any = None, *, limit: int | None = None,
                    newest_first: bool = True) -> list[Execution]:
    """Executions (with their stages) matching the SQL condition ``where``."""
    query = sa.select(executions)
    if where is not None:
        query = query.where(where)
    query = query.order_by(executions.c.id.desc() if newest_first else executions.c.id)
    if limit is not None:
        query = query.limit(limit)
    found = list(conn.execute(query))
    if not found:
        return []
    ids = [r.id for r in found]
    by_id: dict[int, list[Stage]] = {i: [] for i in ids}
    for s in conn.execute(sa.select(execution_stages)
                          .where(execution_stages.c.execution_id.in_(ids))
                          .order_by(execution_stages.c.execution_id,
                                    execution_stages.c.position)):
        by_id[s.execution_id].append(_stage(s))
    return [_execution(r, by_id[r.id]) for r in found]


def get_execution(state: StateStore, execution_id: int) -> Execution:
    """One execution with its stages; StateError when there is none with that id."""
    with state.transaction("read an execution from") as conn:
        found = read_executions(conn, executions.c.id == execution_id)
    if not found:
        raise StateError(f"no execution #{execution_id} in {state.where}",
                         tip="list them:  GET /api/executions")
    return found[0]


def list_executions(state: StateStore, limit: int = 50,
                    status: str | Sequence[str] | None = None) -> list[Execution]:
    """The latest executions (with one of ``status``, if given), newest first."""
    where = None
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        unknown = [s for s in wanted if s not in EXECUTION_STATUSES]
        if unknown:
            raise UsageError(f"unknown execution status {unknown[0]!r}",
                             tip=f"statuses: {', '.join(EXECUTION_STATUSES)}")
        where = executions.c.status.in_(wanted)
    with state.transaction("read executions from") as conn:
        return read_executions(conn, where, limit=limit)


def logs(state: StateStore, execution_id: int, after_seq: int = 0,
         limit: int = 1000) -> list[LogLine]:
    """The log lines of an execution after ``after_seq``, oldest first (poll with the last
    ``seq`` seen to stream them)."""
    query = (sa.select(execution_logs)
             .where(execution_logs.c.execution_id == execution_id,
                    execution_logs.c.seq > after_seq)
             .order_by(execution_logs.c.seq).limit(limit))
    with state.transaction("read execution logs from") as conn:
        return [LogLine(r.seq, r.execution_id, r.position,
                        cast(dt.datetime, _ts(r.at)), r.line) for r in conn.execute(query)]


# ---------------------------------------------------------------- writing


def append_log(state: StateStore, execution_id: int, position: int | None, line: str) -> None:
    """Add one (redacted) line to an execution's log."""
    with state.transaction("write an execution log to", write=True) as conn:
        write_log(conn, execution_id, position, line)


def write_log(conn: Connection, execution_id: int, position: int | None, line: str) -> None:
    conn.execute(execution_logs.insert().values(
        execution_id=execution_id, position=position, at=now_iso(),
        line=redact_text(line)[:4000]))


def set_stage(conn: Connection, execution_id: int, position: int, status: StageStatus,
              message: str | None = None, **values: Any) -> None:
    """Move one stage to ``status`` (stamping its start or finish time)."""
    values["status"] = status
    if status == "running":
        values["started_at"] = now_iso()
    elif status == "waiting":
        pass
    elif status in FINAL_STAGE:
        values["finished_at"] = now_iso()
    if message is not None:
        values["message"] = redact_text(message)[:4000]
    conn.execute(execution_stages.update().where(
        execution_stages.c.execution_id == execution_id,
        execution_stages.c.position == position).values(**values))
    if status == "running":  # the first stage to start starts the execution
        started = conn.execute(executions.update().where(
            executions.c.id == execution_id, executions.c.started_at.is_(None))
            .values(started_at=values["started_at"])).rowcount
        if started:
            row = conn.execute(sa.select(executions).where(
                executions.c.id == execution_id)).one()
            insert_event(conn, STARTED_EVENT, actor=row.actor,
                         payload={"execution": execution_id, "commit": row.commit,
                                  "trigger": row.trigger})


def set_status(conn: Connection, execution_id: int, status: ExecutionStatus,
               message: str | None = None, **values: Any) -> None:
    if message is not None:
        values["message"] = redact_text(message)[:4000]
    conn.execute(executions.update().where(executions.c.id == execution_id)
                 .values(status=status, **values))


def finish(conn: Connection, execution_id: int, status: ExecutionStatus, message: str, *,
           stages_to: StageStatus = "skipped") -> None:
    """End an execution: its unfinished stages become ``stages_to``, its lease is freed and
    an ``execution_finished`` event is logged."""
    conn.execute(execution_stages.update().where(
        execution_stages.c.execution_id == execution_id,
        execution_stages.c.status.in_(("pending", "waiting", "running")))
        .values(status=stages_to, finished_at=now_iso()))
    set_status(conn, execution_id, status, message, finished_at=now_iso(), lease_owner=None,
               lease_expires=None)
    row = conn.execute(sa.select(executions).where(executions.c.id == execution_id)).one()
    write_log(conn, execution_id, None, f"execution {status}: {message}")
    insert_event(conn, FINISHED_EVENT, actor=row.actor, release_id=row.release_id,
                 payload={"execution": execution_id, "status": status,
                          "message": redact_text(message)[:500]})


def cancel_execution(state: StateStore, execution_id: int, actor: str) -> bool:
    """Cancel an execution that is not running a stage right now (queued, or waiting at an
    approval); False when it is running or already over. An engine holding its lease at
    that moment (about to free it, or judging a new approval) sees the execution is over
    before it records anything."""
    with state.transaction("cancel an execution in", write=True) as conn:
        # FOR UPDATE (PostgreSQL): an engine recording a stage of it waits, or we do
        row = conn.execute(sa.select(executions).where(
            executions.c.id == execution_id).with_for_update()).first()
        if row is None:
            raise StateError(f"no execution #{execution_id} in {state.where}")
        # queued and leased: an engine may be letting it into a stage right now
        if not (row.status == "waiting"
                or (row.status == "queued" and row.lease_owner is None)):
            return False
        finish(conn, execution_id, "cancelled", f"cancelled by {actor}")
    return True


# ---------------------------------------------------------------- leases


def claim(state: StateStore, execution_id: int, owner: str, ttl_seconds: float) -> bool:
    """Take the lease of an active execution (compare-and-swap: at most one owner wins)."""
    row = sa.and_(executions.c.id == execution_id, executions.c.status.in_(ACTIVE))
    with state.transaction("lease an execution in", write=True) as conn:
        return leases.take(conn, executions, row, owner, utcnow(), ttl_seconds)


def renew(state: StateStore, execution_id: int, owner: str, ttl_seconds: float) -> bool:
    """Extend ``owner``'s lease; False when it is not ``owner``'s any more."""
    with state.transaction("renew an execution lease in", write=True) as conn:
        return leases.extend(conn, executions, executions.c.id == execution_id, owner,
                             utcnow(), ttl_seconds)


def release_lease(state: StateStore, execution_id: int, owner: str) -> None:
    with state.transaction("release an execution lease in", write=True) as conn:
        leases.give_up(conn, executions, owner, executions.c.id == execution_id)


__all__ = ["ACTIVE", "EXECUTION_STATUSES", "FINISHED_EVENT", "STAGE_STATUSES",
           "STARTED_EVENT", "Execution", "ExecutionStatus", "LogLine", "Stage", "StageKind",
           "StageStatus", "append_log", "cancel_execution", "claim", "get_execution",
           "list_executions", "logs", "plan_stages", "release_lease", "renew",
           "start_execution"]
