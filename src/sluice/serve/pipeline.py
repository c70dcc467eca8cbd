"""The engine that moves pipeline executions forward, safely shared by several servers.

Each tick reads the active executions once, and for each that can move (its next stage is
admitted by its mode, :mod:`sluice.serve.modes`; or it waits at an approval that has a new
decision) claims its lease — a compare-and-swap UPDATE on ``executions.lease_owner`` /
``lease_expires``, so of any number of engines in threads or processes exactly one wins —
and hands it to a worker thread. The worker runs stages one after the other until the
execution waits, is blocked at a group, or ends, then frees the lease; a renewer thread
extends the leases of everything this engine works on. Letting an execution into a stage
group happens in one serialised write transaction (SQLite's ``BEGIN IMMEDIATE``, an advisory
lock on PostgreSQL), so the modes hold across engines too.

Crash safety: a lease that expired (or whose owner is a dead process on this host) while a
stage was running marks that stage and its execution ``interrupted``; the environment it was
deploying is recovered through the deployer's journal under the environment's lock (rolled
back, or completed if it had published), so it is never half-published.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sluice.errors import LockError, SluiceError
from sluice.project.workspace import Workspace
from sluice.state import leases, redact_text, utcnow
from sluice.state.locks import dead_local_owner
from sluice.state.schema import execution_stages, executions

from . import checkouts
from .executions import (
    ACTIVE,
    Execution,
    Stage,
    append_log,
    claim,
    finish,
    read_executions,
    release_lease,
    renew,
    set_stage,
    set_status,
    write_log,
)
from .modes import admit, newest_approval
from .stages import StageResult, run_approval, run_check, run_deploy, run_release, run_run

#: PostgreSQL advisory lock key serialising admissions into stage groups (any constant).
_ADMISSION_LOCK = 8370142266


def lease_owner(owner: str) -> str:
    """A lease owner unique to one Engine, ``name#token@host:pid``: two engines of one
    process never share leases, and a dead process's leases are recognised at once."""
    suffix = f"@{socket.gethostname()}:{os.getpid()}"
    base = owner.removesuffix(suffix)
    return f"{base}#{secrets.token_hex(3)}{suffix}"


class Engine:
    """Runs the executions of the project at ``root`` (see the module doc)."""

    def __init__(self, root: Path, owner: str, *, home: Path | None = None,
                 tick_seconds: float = 0.25, lease_seconds: float = 30.0,
                 workers: int = 4) -> None:
        self.ws = Workspace.open(root, home=home)
        self.root = self.ws.root
        self.home = self.ws.home
        self.state = self.ws.state
        self.owner = lease_owner(owner)
        self.tick_seconds = tick_seconds
        self.lease_seconds = lease_seconds
        self._wake = threading.Event()
        self._busy: set[int] = set()
        self._mutex = threading.Lock()
        self._notifying = threading.Lock()  # the workspace's targets are not thread-safe
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sluice-exec")
        self._renewer: threading.Thread | None = None
        self._closing = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def wake(self) -> None:
        """Look at the executions now (a new one, an approval, a rejection)."""
        self._wake.set()

    def run_forever(self, stop: threading.Event) -> None:
        """Recover, then tick until ``stop`` is set; running stages finish before it returns."""
        self.recover()
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except SluiceError as exc:  # e.g. the store unreachable: try again next tick
                    self._engine_error(exc)
                self._wake.wait(self.tick_seconds)
                self._wake.clear()
        finally:
            self.close()

    def close(self) -> None:
        """Wait for the running stages, free every lease and close the store."""
        self._closing.set()
        self._pool.shutdown(wait=True)
        if self._renewer is not None:
            self._renewer.join()
        self.ws.close()

    def _engine_error(self, exc: SluiceError) -> None:
        with suppress(SluiceError):
            self.state.event("engine_error", actor=self.owner, payload={"error": exc.message})

    # ------------------------------------------------------------------ ticks

    def tick(self) -> list[int]:
        """One look at the executions; returns the ids handed to workers."""
        self._reap()
        self._ensure_renewer()
        with self.state.transaction("read executions from") as conn:
            active = read_executions(conn, executions.c.status.in_(ACTIVE),
                                     newest_first=False)
            waiting = {ex.id: self._new_decision(conn, ex) for ex in active
                       if ex.status == "waiting"}
        now = utcnow()
        started = []
        for ex in active:
            with self._mutex:
                if ex.id in self._busy:
                    continue
            if ex.lease_owner is not None and ex.lease_expires is not None and \
                    ex.lease_expires > now:
                continue
            if ex.status == "waiting" and not waiting.get(ex.id):
                continue
            if ex.status != "waiting" and admit(ex, active).verdict == "blocked":
                continue
            if claim(self.state, ex.id, self.owner, self.lease_seconds):
                with self._mutex:
                    self._busy.add(ex.id)
                self._pool.submit(self._drive_safely, ex.id)
                started.append(ex.id)
        return started

    @staticmethod
    def _new_decision(conn: sa.Connection, ex: Execution) -> bool:
        stage = ex.current
        if stage is None or stage.kind != "approval" or ex.release_id is None \
                or stage.env is None:
            return True
        newest = newest_approval(conn, stage.env, ex.release_id)
        return newest is not None and newest != stage.approval_seen

    def _ensure_renewer(self) -> None:
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew_loop, name="sluice-leases",
                                             daemon=True)
            self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._closing.wait(self.lease_seconds / 3):
            with self._mutex:
                busy = list(self._busy)
            for eid in busy:
                try:
                    renew(self.state, eid, self.owner, self.lease_seconds)
                except SluiceError as exc:
                    self._engine_error(exc)

    # ------------------------------------------------------------------ one execution

    def _drive_safely(self, eid: int) -> None:
        try:
            self._drive(eid)
        except Exception as exc:  # a bug must not leave the execution leased forever
            message = exc.message if isinstance(exc, SluiceError) else \
                f"{type(exc).__name__}: {exc}"
            try:
                with self.state.transaction("fail an execution in", write=True) as conn:
                    owner = conn.execute(sa.select(executions.c.lease_owner).where(
                        executions.c.id == eid)).scalar()
                    if owner != self.owner:
                        return  # taken over (interrupted) meanwhile: that record stands
                    conn.execute(execution_stages.update().where(
                        execution_stages.c.execution_id == eid,
                        execution_stages.c.status == "running")
                        .values(status="failed", message=redact_text(message)[:4000]))
                    finish(conn, eid, "failed", f"the engine failed: {message}")
            except SluiceError as store_exc:
                self._engine_error(store_exc)
        finally:
            try:
                release_lease(self.state, eid, self.owner)
            except SluiceError as exc:
                self._engine_error(exc)
            with self._mutex:
                self._busy.discard(eid)
            self.wake()  # whoever waited for this one to leave a group may go now

    def _load(self, eid: int) -> Execution | None:
        with self.state.transaction("read an execution from") as conn:
            found = read_executions(conn, executions.c.id == eid)
        return found[0] if found else None

    def _drive(self, eid: int) -> None:
        with ExitStack() as stack:
            holder: dict[str, Workspace] = {}
            while not self._closing.is_set():  # stopping: the next engine goes on
                ex = self._load(eid)
                if ex is None or ex.status not in ACTIVE or ex.lease_owner != self.owner:
                    return
                if any(s.status == "interrupted" for s in ex.stages):
                    return  # being finished by whoever took it over (see _take_over)
                stage = ex.current
                if stage is None:
                    self._finish(ex, "succeeded", "every stage passed")
                    return
                if stage.status != "waiting" and not self._enter(ex, stage):
                    return
                result = self._run_stage(ex, stage, stack, holder)
                if not self._record(ex, stage, result):
                    return
                self.wake()

    def _enter(self, ex: Execution, stage: Stage) -> bool:
        """Start ``stage`` if the mode lets ``ex`` in (one serialised transaction)."""
        with self.state.transaction("admit an execution in", write=True) as conn:
            if self.state.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": _ADMISSION_LOCK})
            active = read_executions(conn, executions.c.status.in_(ACTIVE),
                                     newest_first=False)
            me = next((e for e in active if e.id == ex.id), None)
            if me is None or me.lease_owner != self.owner:
                return False
            verdict = admit(me, active)
            for older in verdict.supersedes:
                finish(conn, older, "superseded", f"superseded by execution #{me.id}",
                       stages_to="superseded")
            if verdict.verdict == "superseded":
                finish(conn, me.id, "superseded", verdict.reason, stages_to="superseded")
                return False
            if verdict.verdict == "blocked":
                if me.message != verdict.reason:
                    set_status(conn, me.id, "queued", verdict.reason)
                    write_log(conn, me.id, stage.position, verdict.reason)
                return False
            set_stage(conn, me.id, stage.position, "running", "")
            set_status(conn, me.id, "running", "")
            write_log(conn, me.id, stage.position, f"▶ {stage.name}")
        return True

    def _run_stage(self, ex: Execution, stage: Stage, stack: ExitStack,
                   holder: dict[str, Workspace]) -> StageResult:
        def log(line: str) -> None:
            append_log(self.state, ex.id, stage.position, line)

        try:
            if stage.kind in ("check", "release"):  # the commit's files: its checkout
                if "checkout" not in holder:
                    commit = checkouts.ensure_commit(self.root, self.home, ex.commit or "",
                                                      self._remote())
                    holder["checkout"] = stack.enter_context(
                        checkouts.checkout(self.root, self.home, ex.id, commit))
                ws = holder["checkout"]
                if stage.kind == "check":
                    return run_check(ws, ex.actor, log)
                return run_release(ws, ex.actor, log)
            # Gates, approvals and deployments on the server's own project, as the API's:
            # the commit's sluice.yaml is the candidate's, never the work tree that decides
            # (the deployer stages the verified release from the artifact store)
            if "server" not in holder:
                holder["server"] = stack.enter_context(
                    _closing(Workspace.open(self.root, home=self.home)))
            ws = holder["server"]
            assert stage.env is not None
            if stage.kind == "run":
                return run_run(ws, stage.env, ex.actor, log)
            if ex.release_id is None:
                return StageResult("failed", "no release was built for this execution")
            if stage.kind == "deploy":
                return run_deploy(ws, stage.env, ex.release_id, ex.actor, log)
            source = _source(ws, stage.env)
            if stage.kind == "approval":
                return run_approval(ws, stage.env, source, ex.release_id, ex.actor, log)
            return run_deploy(ws, stage.env, ex.release_id, ex.actor, log, source=source)
        except SluiceError as exc:
            log(f"  ✗ {exc.message}")
            return StageResult("failed", exc.message + (f" (tip: {exc.tip})" if exc.tip
                                                         else ""))

    def _remote(self) -> str | None:
        try:
            poll = self.ws.config().triggers.poll
        except SluiceError:
            return None
        return poll.remote if poll is not None else None

    def _record(self, ex: Execution, stage: Stage, result: StageResult) -> bool:
        """Write a stage's outcome; True when the execution goes on to its next stage."""
        extra: dict[str, Any] = {}
        if result.approval_seen is not None:
            extra["approval_seen"] = result.approval_seen
        go_on = False
        with self.state.transaction("record a stage in", write=True) as conn:
            row = conn.execute(sa.select(executions.c.status, executions.c.lease_owner)
                               .where(executions.c.id == ex.id).with_for_update()).one()
            if row.status not in ACTIVE or row.lease_owner != self.owner:
                return False  # cancelled or taken over meanwhile: its record stands
            set_stage(conn, ex.id, stage.position, result.status, result.message, **extra)
            if result.release_id is not None and stage.kind == "release":
                conn.execute(executions.update().where(executions.c.id == ex.id)
                             .values(release_id=result.release_id))
            if result.status == "waiting":
                set_status(conn, ex.id, "waiting", result.message)
            elif result.status in ("failed", "rejected"):
                finish(conn, ex.id, result.status, f"{stage.name}: {result.message}")
            elif result.stop:
                finish(conn, ex.id, "succeeded", f"stopped before {stage.env}: "
                                                 f"{result.message}")
            else:
                go_on = True
        if not go_on and result.status != "waiting":
            self._notify(ex, stage, "succeeded" if result.stop else result.status)
        return go_on

    def _finish(self, ex: Execution, status: str, message: str) -> None:
        with self.state.transaction("finish an execution in", write=True) as conn:
            finish(conn, ex.id, "succeeded" if status == "succeeded" else "failed", message)
        last = ex.stages[-1] if ex.stages else None
        if last is not None:
            self._notify(ex, last, status)

    def _notify(self, ex: Execution, stage: Stage, status: str) -> None:
        env = stage.env or next((s.env for s in ex.stages if s.env), None)
        if env is None:
            return
        kind = "execution_succeeded" if status == "succeeded" else "execution_failed"
        with self._notifying:
            self.ws.notify(env, kind, execution=ex.id, status=status, stage=stage.name,
                           commit=ex.commit, release=ex.release_id)

    # ------------------------------------------------------------------ crashes

    def recover(self) -> None:
        """At start: executions whose engine died mid-stage become ``interrupted`` and the
        environments they were deploying are recovered by the journal."""
        self._reap()

    def _reap(self) -> None:
        now = utcnow()
        with self.state.transaction("read executions from") as conn:
            leased = read_executions(conn, sa.and_(executions.c.status.in_(ACTIVE),
                                                   executions.c.lease_owner.is_not(None)))
        with self._mutex:
            busy = set(self._busy)
        for ex in leased:
            assert ex.lease_owner is not None
            if ex.id in busy:
                continue  # ours, and a worker is on it (its lease is renewed)
            expired = ex.lease_expires is None or ex.lease_expires <= now
            if not expired and dead_local_owner(ex.lease_owner) is None:
                continue
            self._take_over(ex)

    def _take_over(self, ex: Execution) -> None:
        """Take a lapsed lease; a stage it left running is interrupted, its environment
        recovered, and only then the execution finished (so its log is complete once it
        is over). Should this engine die meanwhile, the next one finishes the job."""
        until = leases.until(utcnow(), self.lease_seconds)
        with self.state.transaction("take over an execution in", write=True) as conn:
            swapped = conn.execute(executions.update().where(
                executions.c.id == ex.id, executions.c.lease_owner == ex.lease_owner)
                .values(lease_owner=self.owner, lease_expires=until)).rowcount
            if swapped != 1:
                return  # someone else took it over first
            running = [s for s in ex.stages if s.status in ("running", "interrupted")]
            if not running:  # died between stages or while deciding: nothing half-done
                conn.execute(executions.update().where(executions.c.id == ex.id)
                             .values(lease_owner=None, lease_expires=None))
                write_log(conn, ex.id, None, f"lease of {ex.lease_owner} lapsed; resumed")
                return
            stage = running[0]
            message = stage.message if stage.status == "interrupted" else (
                f"interrupted: the server running {stage.name} ({ex.lease_owner}) stopped")
            set_stage(conn, ex.id, stage.position, "interrupted", message)
            write_log(conn, ex.id, stage.position, message)
        checkouts.remove(self.root, self.home, ex.id)
        if stage.kind in ("deploy", "promote", "run") and stage.env is not None:
            self._recover_env(ex, stage.env)
        with self.state.transaction("finish an execution in", write=True) as conn:
            finish(conn, ex.id, "interrupted", message)
        self._notify(ex, stage, "interrupted")

    def _recover_env(self, ex: Execution, env: str) -> None:
        from sluice.deploy.deployer import acquire_env_lock, recover, release_env_lock

        ws = Workspace.open(self.root, home=self.home)
        try:
            acquire_env_lock(ws, env, self.owner)
            try:
                done = recover(ws, env)
            finally:
                release_env_lock(ws, env, self.owner)
            append_log(self.state, ex.id, None,
                       f"{env} recovered by the journal (deployments {done or 'none'})")
        except LockError as exc:
            append_log(self.state, ex.id, None, f"{env} is locked ({exc.message}); its next "
                                                "deployment recovers it by the journal")
        except SluiceError as exc:
            append_log(self.state, ex.id, None, f"recovering {env} failed: {exc.message}")
        finally:
            ws.close()


class _closing:
    """A workspace closed on exit (``contextlib.closing`` with its type kept)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def __enter__(self) -> Workspace:
        return self.ws

    def __exit__(self, *exc: object) -> None:
        self.ws.close()


def _source(ws: Workspace, env: str) -> str:
    order = ws.config().promotion_order()
    return order[order.index(env) - 1]


__all__ = ["Engine", "lease_owner"]
