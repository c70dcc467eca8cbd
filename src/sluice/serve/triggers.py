"""Triggers that need no webhook: polling a git remote, cron schedules, and new data.

:class:`Triggers` is the server's background loop (``run_forever``); ``tick(now)`` is one
pass over every trigger, which the tests drive with their own clock. Each trigger is a row
of ``trigger_state`` named ``poll:<remote>:<branch>``, ``schedule:<env>`` or
``data:<env>:<source>``, holding what it saw last (``last_value``), its next fire time
(``next_at``) and a lease (``lease_owner`` until ``lease_expires``).

Why two servers on one state store never fire one thing twice: a server first claims the
trigger's lease with a compare-and-swap UPDATE (free, expired or already its own), and then
moves the trigger on (the sha it saw, the next slot, the files it saw) with a second
compare-and-swap on the value it read, still conditioned on holding the lease. Only the
server whose swap changed the row calls ``start``. If ``start`` then fails on the state
store, the swap is undone so the next tick tries again; any other refusal consumes that
slot, sha or file set and is logged as ``trigger_failed``. A server killed between the swap
and ``start`` loses that one firing: at most once, never twice.

- **poll**: ``git ls-remote <remote> refs/heads/<branch>``; a new sha is fetched into the
  project's repository and starts a pipeline execution (only the newest sha when several
  commits landed between two polls). The first poll records what the branch points at and
  starts nothing, and so does a sha a webhook started already (``claim_commit``).
  ``remote`` is a remote of the project's repository, a URL, or the path of a local
  repository (a folder that is a git repository).
- **schedules** (UTC, croniter): ``next_at`` is the next slot; at or after it, one
  ``run`` execution of that environment starts and ``next_at`` moves to the first slot
  after *now*, so slots missed while no server ran fire once, not once each.
- **data**: the files under a source's prefix (its ``path`` up to the first wildcard) in
  the environment's local object store, fingerprinted by (relative path, size, mtime_ns);
  new or changed files start a ``run`` of that environment with the files in ``detail``.
  The first look records a baseline; removals alone start nothing (like S3's "Object
  Created" events, which the aws target's EventBridge rule uses). Hidden files (``.name``,
  what copy tools write before renaming) are not looked at.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from croniter import croniter
from sqlalchemy.engine import Connection

from sluice import secrecy
from sluice.config import ProjectConfig
from sluice.config.control import DataTrigger, Poll
from sluice.config.names import qualify
from sluice.errors import ConfigError, SluiceError, StateError
from sluice.project.workspace import Workspace
from sluice.release.git import Git
from sluice.serve.hooks import (
    COMMIT_KEY,
    StartFn,
    claim_commit,
    forget_delivery,
    set_delivery_execution,
)
from sluice.state import leases, rows
from sluice.state.records import utcnow
from sluice.state.schema import trigger_state
from sluice.targets.local.target import LocalTargetBase

__all__ = ["LEASE_SECONDS", "Triggers", "objects_fingerprint", "source_prefix"]

#: a trigger's lease outlives this many seconds without its owner (and 3 intervals)
LEASE_SECONDS = 60.0
#: how often the loop looks at schedules (cron has minute resolution)
RESOLUTION_SECONDS = 1.0
_WILDCARD = re.compile(r"[*?\[]")
_MAX_FILES_IN_DETAIL = 100
_MAX_MISSED_COUNTED = 1000


@dataclass(frozen=True)
class _Row:
    last_value: str | None
    next_at: str | None


def source_prefix(path: str) -> str:
    """A file source's key prefix: its ``path`` up to the first wildcard (as for S3)."""
    return _WILDCARD.split(path, maxsplit=1)[0]


def objects_fingerprint(objects: Path, prefix: str) -> dict[str, list[int]]:
    """``{relative path: [size, mtime_ns]}`` of the files of ``objects`` whose relative
    path starts with ``prefix`` (hidden files skipped)."""
    folder = objects / prefix.rpartition("/")[0] if "/" in prefix else objects
    found: dict[str, list[int]] = {}
    if not folder.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(objects).as_posix()
            if not rel.startswith(prefix):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue  # removed while we looked
            found[rel] = [st.st_size, st.st_mtime_ns]
    return found


class Triggers:
    """Polling, schedules and data triggers of the project at ``root`` (module docstring);
    ``start`` is called as ``start(commit=, ref=, trigger=, detail=, actor=, action=,
    env=)`` and returns the new execution's id. ``home`` is the server's home (default:
    $SLUICE_HOME, else ``<root>/.sluice``); ``owner`` names this server in the leases
    (``user@host:pid``: a dead process on this host loses its leases at once)."""

    def __init__(self, root: Path, owner: str, start: StartFn, *, home: Path | None = None,
                 lease_seconds: float = LEASE_SECONDS, workspace: Workspace | None = None
                 ) -> None:
        # the server's workspace parses sluice.yaml once per version of it, not every tick
        self.ws = workspace or Workspace.open(root, home=home)
        self._own_ws = workspace is None
        self.owner = owner
        self.start = start
        self.lease_seconds = lease_seconds
        self._checked: dict[str, float] = {}  # trigger → monotonic time of the last look
        self._errors: dict[str, str] = {}  # trigger → the last error logged

    # ------------------------------------------------------------------ the loop

    def tick(self, now: dt.datetime | None = None) -> list[int]:
        """Look at every trigger once, as of ``now`` (default: the clock); the ids of the
        executions started."""
        return self._tick(now or utcnow(), everything=True)

    def run_forever(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, each trigger at its interval; then give up the leases.
        Never raises: a failing trigger is logged as ``trigger_failed`` and tried again."""
        try:
            while not stop.is_set():
                self._tick(utcnow(), everything=False)
                stop.wait(RESOLUTION_SECONDS)
        finally:
            try:
                self.release()
            except SluiceError as exc:
                self._failed("leases", exc)
            self.close()

    def release(self) -> int:
        """Give up this owner's leases (a clean stop): another server may take over at once."""
        with self.ws.state.transaction("release trigger leases in", write=True) as conn:
            return leases.give_up(conn, trigger_state, self.owner)

    def close(self) -> None:
        if self._own_ws:
            self.ws.close()

    def _tick(self, now: dt.datetime, *, everything: bool) -> list[int]:
        try:
            cfg = self.ws.config()
        except SluiceError as exc:
            self._failed("config", exc)
            return []
        self._errors.pop("config", None)
        jobs: list[tuple[str, float, Callable[[], int | None]]] = []
        for env, expression in sorted(cfg.schedules.items()):
            jobs.append((f"schedule:{env}", 0.0, partial(self._schedule, env, expression, now)))
        poll = cfg.triggers.poll
        if poll is not None:
            branch = poll.branch or cfg.pipeline.branch
            jobs.append((f"poll:{secrecy.mask(poll.remote)}:{branch}", poll.interval_seconds,
                         partial(self._poll, poll, branch, now)))
        for trigger in cfg.triggers.data:
            jobs.append((f"data:{trigger.env}:{qualify(trigger.source)}",
                         trigger.interval_seconds,
                         partial(self._data, cfg, trigger, now)))
        started: list[int] = []
        for name, interval, job in jobs:
            if not everything and time.monotonic() - self._checked.get(name, -1e18) < interval:
                continue
            self._checked[name] = time.monotonic()
            try:
                execution = job()
            except SluiceError as exc:
                self._failed(name, exc)
                continue
            except Exception as exc:  # a bug must not stop the other triggers
                self._failed(name, exc)
                continue
            self._errors.pop(name, None)
            if execution is not None:
                started.append(execution)
        return started

    # ------------------------------------------------------------------ leases and swaps

    def _ttl(self, interval: float) -> float:
        return max(self.lease_seconds, 3 * interval)

    def _claim(self, conn: Connection, name: str, now: dt.datetime,
               interval: float) -> _Row | None:
        """Take (or renew) ``name``'s lease inside ``conn``'s write transaction; the row as
        it is under our lease, or None while another owner's lease is live."""
        t = trigger_state.c
        if not leases.take(conn, trigger_state, t.name == name, self.owner, now,
                           self._ttl(interval), renew=True):
            if conn.execute(sa.select(t.name).where(t.name == name)).first() is not None:
                return None  # another owner holds it
            try:
                with conn.begin_nested():  # PostgreSQL: a failed INSERT must not end the tx
                    conn.execute(trigger_state.insert().values(
                        name=name, lease_owner=self.owner,
                        lease_expires=leases.until(now, self._ttl(interval))))
            except sa.exc.IntegrityError:
                return None  # another server made the row first: it holds it
        row = conn.execute(sa.select(t.last_value, t.next_at).where(t.name == name)).one()
        return _Row(row.last_value, row.next_at)

    def _swap(self, conn: Connection, name: str, old: _Row, new: _Row) -> bool:
        """Move ``name`` from ``old`` to ``new`` if it is still ``old`` and still ours."""
        t = trigger_state.c
        return bool(conn.execute(
            trigger_state.update()
            .where(t.name == name, t.lease_owner == self.owner,
                   t.last_value.is_not_distinct_from(old.last_value),
                   t.next_at.is_not_distinct_from(old.next_at))
            .values(last_value=new.last_value, next_at=new.next_at)).rowcount)

    def _fire(self, name: str, old: _Row, new: _Row, **call: Any) -> int:
        """``start(**call)`` after our swap; undone when the state store failed."""
        try:
            execution = self.start(**call)
        except StateError:
            with self.ws.state.transaction("undo a trigger in", write=True) as conn:
                self._swap(conn, name, new, old)
            raise
        self.ws.state.event("trigger_fired", env=call.get("env"), actor=call.get("actor"),
                            payload={"trigger": name, "execution": execution,
                                     "detail": call.get("detail", {})})
        return execution

    def _failed(self, name: str, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, SluiceError) else f"{type(exc).__name__}: {exc}"
        if self._errors.get(name) == message:
            return  # logged already: a trigger failing every second must not flood the log
        self._errors[name] = message
        # the store itself may be down: nothing to log to then; the next tick tries again
        with suppress(SluiceError):
            self.ws.state.event("trigger_failed", payload={"trigger": name,
                                                          "error": message[:1000]})

    # ------------------------------------------------------------------ schedules

    def _schedule(self, env: str, expression: str, now: dt.datetime) -> int | None:
        name = f"schedule:{env}"
        t = trigger_state.c
        with self.ws.state.transaction("read triggers from") as conn:
            seen = conn.execute(sa.select(t.last_value, t.next_at)
                                .where(t.name == name)).first()
        if (seen is not None and seen.last_value == expression and seen.next_at is not None
                and rows.parse_ts(seen.next_at) > now):
            return None  # not due: nothing to write
        upcoming = croniter(expression, now).get_next(dt.datetime)
        with self.ws.state.transaction("fire a schedule in", write=True) as conn:
            old = self._claim(conn, name, now, RESOLUTION_SECONDS)
            if old is None:
                return None
            new = _Row(expression, rows.iso(upcoming))
            due = (old.last_value == expression and old.next_at is not None
                   and rows.parse_ts(old.next_at) <= now)
            if not self._swap(conn, name, old, new) or not due:
                return None  # another owner moved it, or a first look / a new expression
        assert old.next_at is not None
        slot = rows.parse_ts(old.next_at)
        detail = {"action": "run", "env": env, "schedule": expression, "slot": old.next_at,
                  "missed": _slots_between(expression, slot, now)}
        return self._fire(name, old, new, commit=None, ref=None, trigger="schedule",
                          detail=detail, actor="trigger:schedule", action="run", env=env)

    # ------------------------------------------------------------------ polling

    def _poll(self, poll: Poll, branch: str, now: dt.datetime) -> int | None:
        name = f"poll:{secrecy.mask(poll.remote)}:{branch}"
        with self.ws.state.transaction("poll a remote in", write=True) as conn:
            old = self._claim(conn, name, now, poll.interval_seconds)
        if old is None:
            return None
        git = Git(self.ws.root)
        remote = git.resolve_remote(poll.remote)
        ref = f"refs/heads/{branch}"
        listed = git.run("ls-remote", "--", remote, ref).split()
        if len(listed) < 2 or listed[1] != ref:
            raise ConfigError(f"poll: {secrecy.mask(poll.remote)} has no branch {branch!r}",
                              tip="push the branch, or set triggers.poll.branch")
        sha = listed[0]
        if sha == old.last_value:
            return None
        if old.last_value is not None:  # a baseline needs no objects
            git.run("fetch", "--quiet", "--", remote, ref)
            git.run("cat-file", "-e", f"{sha}^{{commit}}")
        new = _Row(sha, old.next_at)
        with self.ws.state.transaction("poll a remote in", write=True) as conn:
            if not self._swap(conn, name, old, new) or old.last_value is None:
                return None
        first, earlier = claim_commit(self.ws.state, sha)
        if not first:  # a webhook (or another poll of the same repository) started it
            self.ws.state.event("trigger_skipped", payload={
                "trigger": name, "commit": sha, "execution": earlier,
                "reason": "the commit already has an execution"})
            return None
        detail = {"remote": secrecy.mask(poll.remote), "branch": branch,
                  "before": old.last_value}
        try:
            execution = self._fire(name, old, new, commit=sha, ref=ref, trigger="poll",
                                   detail=detail, actor="trigger:poll", action="pipeline",
                                   env=None)
        except SluiceError:
            forget_delivery(self.ws.state, COMMIT_KEY, sha)
            raise
        set_delivery_execution(self.ws.state, COMMIT_KEY, sha, execution)
        return execution

    # ------------------------------------------------------------------ new data

    def _data(self, cfg: ProjectConfig, trigger: DataTrigger, now: dt.datetime) -> int | None:
        source = qualify(trigger.source)
        name = f"data:{trigger.env}:{source}"
        spec = cfg.sources[source]  # the config checked it is a source with a path
        assert spec.path is not None
        target = self.ws.target(trigger.env, cfg)
        if not isinstance(target, LocalTargetBase):
            raise ConfigError(
                f"data trigger {source} in {trigger.env}: the {target.name} target's object "
                "store is not watched by the server",
                tip="on aws the deploy creates an EventBridge rule for the source; remove "
                    "this triggers.data entry or point it at a local environment")
        prefix = source_prefix(spec.path)
        with self.ws.state.transaction("watch new data in", write=True) as conn:
            old = self._claim(conn, name, now, trigger.interval_seconds)
        if old is None:
            return None
        files = objects_fingerprint(target.objects, prefix)
        value = json.dumps(files, sort_keys=True, separators=(",", ":"))
        if value == old.last_value:
            return None
        before: dict[str, list[int]] = json.loads(old.last_value) if old.last_value else {}
        landed = sorted(p for p, stat in files.items() if before.get(p) != stat)
        new = _Row(value, old.next_at)
        with self.ws.state.transaction("watch new data in", write=True) as conn:
            if not self._swap(conn, name, old, new):
                return None
        if old.last_value is None or not landed:
            return None  # a baseline, or files removed only
        detail = {"action": "run", "env": trigger.env, "source": source, "prefix": prefix,
                  "files": landed[:_MAX_FILES_IN_DETAIL], "count": len(landed)}
        return self._fire(name, old, new, commit=None, ref=None, trigger="data",
                          detail=detail, actor="trigger:data", action="run", env=trigger.env)


def _slots_between(expression: str, first: dt.datetime, now: dt.datetime) -> int:
    """How many slots of ``expression`` fell in [first, now] (capped): what one run covers."""
    it = croniter(expression, first - dt.timedelta(seconds=1))
    count = 0
    while count < _MAX_MISSED_COUNTED and it.get_next(dt.datetime) <= now:
        count += 1
    return count
