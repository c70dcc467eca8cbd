"""status, plan, apply, undo, repair — Flyway's semantics over a :class:`Session`.

Applied versions are read from the history: the newest row of a version decides (``SQL`` and
successful: applied; ``UNDO_SQL``: undone, so pending again). Before anything is applied, the
history is validated against the scripts (``flyway validate``): an applied script whose
checksum changed, an applied version whose script is gone, or a failed row stops everything
until ``repair``. Each migration runs in its own transaction with its history row, so a
failure leaves the history exact: it lists what was applied, nothing else. A script marked
``-- sluice: no-transaction`` runs statement by statement; when one fails, what ran stays
and the history records a failed row (Flyway's ``success = false``) until ``repair``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sluice.errors import SluiceError, UsageError
from sluice.migrations import history
from sluice.migrations.history import HistoryRow
from sluice.migrations.scripts import FOLDER, Script, Scripts, version_key
from sluice.migrations.session import Session
from sluice.migrations.translate import Statement, Translation, translate


class MigrationError(SluiceError):
    """A migration failed, or the history does not match the scripts."""

    def __init__(self, message: str, *, tip: str | None = None, script: str | None = None,
                 line: int | None = None, cause: str = "") -> None:
        super().__init__(message, tip=tip)
        self.undone: list[str] = []  # set by undo(): the versions undone before the failure
        self.script, self.line = script, line  # where a statement failed (script: file name)
        self.cause = cause  # the engine's error, first line


@dataclass(frozen=True)
class Entry:
    """One line of ``sluice migrate status``."""

    kind: str  # versioned / repeatable / undo
    version: str | None
    description: str
    script: str
    state: str  # applied, pending, outdated, undone, mismatch, missing, failed, other-engine
    installed_on: str = ""
    reversible: bool = True


@dataclass
class MigrationPlan:
    pending: list[Script] = field(default_factory=list)  # in the order they will run
    problems: list[str] = field(default_factory=list)  # validation + translation problems
    notes: list[str] = field(default_factory=list)
    irreversible: list[str] = field(default_factory=list)  # pending versions without undo

    def to_dict(self) -> dict[str, object]:
        return {"pending": [_label(s) for s in self.pending], "problems": self.problems,
                "notes": self.notes, "irreversible": self.irreversible}


_SECRET = re.compile(r"(PASSWORD|SECRET|CREDENTIALS|IAM_ROLE|ACCESS_KEY_ID|SECRET_ACCESS_KEY)"
                     r"(\s*=?\s*)'[^']*'", re.IGNORECASE)


def _redact(sql: str) -> str:
    """A statement as shown in errors: quoted secrets masked, at most 300 characters."""
    return _SECRET.sub(r"\1\2'***'", sql)[:300]


def _label(s: Script) -> str:
    return f"{s.version} {s.description}" if s.version else f"R {s.description}"


def applied_versions(rows: list[HistoryRow]) -> dict[tuple[int, ...], HistoryRow]:
    """Versions currently applied (their SQL row), after undos."""
    latest: dict[tuple[int, ...], HistoryRow] = {}
    for row in rows:
        if row.version is not None and row.success and row.type != "BASELINE":
            latest[version_key(row.version)] = row
    return {k: r for k, r in latest.items() if r.type == "SQL"}


def baseline(rows: list[HistoryRow]) -> tuple[int, ...]:
    """The version Flyway baselined an existing schema at (``flyway baseline``): scripts up
    to it are treated as applied. () when there is no BASELINE row."""
    marks = [version_key(r.version) for r in rows
             if r.type == "BASELINE" and r.success and r.version]
    return max(marks, default=())


def _repeatable_checksums(rows: list[HistoryRow]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for row in rows:
        if row.version is None and row.type == "SQL" and row.success:
            out[row.description] = row.checksum
    return out


def validate(scripts: Scripts, rows: list[HistoryRow], engine: str) -> list[str]:
    problems = [f"migration {r.version or r.description} ({r.script}) failed on "
                f"{r.installed_on}; fix it, then run `sluice migrate repair`"
                for r in rows if not r.success]
    local = {s.key: s for s in scripts.versioned}
    for key, row in applied_versions(rows).items():
        script = local.get(key)
        if script is None:
            problems.append(f"version {row.version} ({row.script}) is applied but its script "
                            "is missing; restore it, or undo it first")
        elif row.checksum is not None and script.checksum != row.checksum:
            problems.append(
                f"checksum mismatch for version {row.version} ({FOLDER}/{script.name}): applied "
                f"{row.checksum}, local {script.checksum}. An applied migration was edited: "
                "revert the edit and add a new version, or accept it with "
                "`sluice migrate repair`")
    return problems


def plan(scripts: Scripts, session: Session, source_dialect: str) -> MigrationPlan:
    rows = history.rows(session)
    result = MigrationPlan(problems=validate(scripts, rows, session.engine))
    applied = applied_versions(rows)
    base = baseline(rows)
    latest = max([*applied, base], default=())
    for s in scripts.versioned:
        if s.key in applied or s.key <= base or not s.runs_on(session.engine):
            continue
        if s.key < latest:
            result.problems.append(f"version {s.version} ({s.name}) is older than the applied "
                                   f"version {'.'.join(map(str, latest))}: give it a new "
                                   "version")
            continue
        result.pending.append(s)
        if s.key not in scripts.undo:
            result.irreversible.append(f"{s.version} {s.description}")
    done = _repeatable_checksums(rows)
    result.pending += [s for s in scripts.repeatable
                       if s.runs_on(session.engine) and done.get(s.description) != s.checksum]
    for s in result.pending:
        t = _translated(s, source_dialect, session)
        result.notes += [f"{s.name}: {n}" for n in t.notes]
        result.problems += [f"migrations/{s.name}: {p}" for p in t.problems]
    return result


def _translated(s: Script, source: str, session: Session) -> Translation:
    return translate(s.text(), source, session.engine, verbatim=s.verbatim,
                     objects=session.objects)


def apply(scripts: Scripts, session: Session, source_dialect: str, actor: str, *,
          target: str | None = None,
          on_applied: Callable[[Script], None] | None = None) -> list[Script]:
    """Apply pending migrations in order (versioned up to ``target``, then repeatables).
    Returns what was applied; raises MigrationError on the first failure. ``on_applied`` is
    called after each one commits (the deployer journals it there)."""
    if target is not None and not re.fullmatch(r"\d+(?:[._]\d+)*", target):
        raise UsageError(f"--to {target!r} is not a version (such as 2 or 1.1)",
                         tip="sluice migrate status ENV lists the versions")
    p = plan(scripts, session, source_dialect)
    if p.problems:
        raise MigrationError("migrations cannot run:\n  " + "\n  ".join(p.problems),
                             tip="sluice migrate status ENV shows the history")
    done: list[Script] = []
    for s in p.pending:
        if target is not None and s.version is not None and s.key > version_key(target):
            continue
        _run(session, s, _translated(s, source_dialect, session), actor, "SQL")
        done.append(s)
        if on_applied is not None:
            on_applied(s)
    return done


def undo(scripts: Scripts, session: Session, source_dialect: str, actor: str, *,
         versions: list[str] | None = None, count: int = 1) -> list[str]:
    """Undo applied versions, newest first: the given ``versions``, else the last ``count``.
    Refuses (before undoing anything) when one has no U script."""
    applied = applied_versions(history.rows(session))
    keys = sorted(applied, reverse=True)
    chosen = [version_key(v) for v in versions] if versions is not None else keys[:count]
    chosen = sorted((k for k in chosen if k in applied), reverse=True)
    missing = [applied[k].version or "" for k in chosen if k not in scripts.undo]
    if missing:
        raise MigrationError(f"version {', '.join(missing)} cannot be undone: no U script",
                             tip="add U<version>__<description>.sql, or roll forward with a "
                                 "new version")
    out: list[str] = []
    for k in chosen:
        u = scripts.undo[k]
        try:
            _run(session, u, _translated(u, source_dialect, session), actor, "UNDO_SQL")
        except MigrationError as exc:
            exc.undone = list(out)  # what was undone before this one failed
            raise
        out.append(u.version or "")
    return out


def repair(scripts: Scripts, session: Session) -> dict[str, int]:
    """Remove failed rows and align applied checksums and descriptions with the scripts."""
    with session.transaction():
        removed = history.delete_failed(session)
        local = {s.key: s for s in scripts.versioned}
        realigned = 0
        for key, row in applied_versions(history.rows(session)).items():
            s = local.get(key)
            if s is not None and (row.checksum != s.checksum or row.description != s.description):
                history.set_checksum(session, row.installed_rank, s.checksum, s.description)
                realigned += 1
    return {"removed_failed": removed, "realigned": realigned}


def status(scripts: Scripts, session: Session) -> list[Entry]:
    rows = history.rows(session)
    applied = applied_versions(rows)
    undone = {version_key(r.version) for r in rows if r.version and r.type == "UNDO_SQL"}
    out: list[Entry] = []
    base = baseline(rows)
    for s in scripts.versioned:
        row = applied.get(s.key)
        if not s.runs_on(session.engine):
            state = "other-engine"
        elif row is None and s.key <= base:
            state = "below-baseline"
        elif row is None:
            state = "undone" if s.key in undone else "pending"
        elif row.checksum is not None and row.checksum != s.checksum:
            state = "mismatch"
        else:
            state = "applied"
        out.append(Entry("versioned", s.version, s.description, s.name, state,
                         str(row.installed_on) if row else "", s.key in scripts.undo))
    local = {s.key for s in scripts.versioned}
    out += [Entry("versioned", r.version, r.description, r.script, "missing",
                  str(r.installed_on), False) for k, r in applied.items() if k not in local]
    done = _repeatable_checksums(rows)
    for s in scripts.repeatable:
        state = ("applied" if done.get(s.description) == s.checksum else
                 "outdated" if s.description in done else "pending")
        out.append(Entry("repeatable", None, s.description, s.name,
                         state if s.runs_on(session.engine) else "other-engine"))
    out += [Entry("versioned" if r.version else "repeatable", r.version, r.description,
                  r.script, "failed", str(r.installed_on)) for r in rows if not r.success]
    return out


def _run(session: Session, s: Script, t: Translation, actor: str, type_: str) -> None:
    if t.problems:
        raise MigrationError(f"migrations/{s.name}: " + "; ".join(t.problems))
    if s.no_transaction:
        _run_autocommit(session, s, t, actor, type_)
        return
    started = time.perf_counter()
    current = None
    try:
        with session.transaction():
            for current in t.statements:
                _execute(session, current)
            _record(session, s, actor, type_, started)
    except SluiceError:
        raise
    except Exception as exc:
        raise _failed(s, current, exc, "failed and was rolled back",
                      "fix the script (it was not recorded as applied) and run again") from exc


def _run_autocommit(session: Session, s: Script, t: Translation, actor: str,
                    type_: str) -> None:
    """``-- sluice: no-transaction``: each statement commits on its own; a failure cannot
    undo the ones before it, so the history gets a failed row that stops the next apply
    until the script is fixed and ``repair`` removes it."""
    started = time.perf_counter()
    ran: list[int] = []
    for current in t.statements:
        try:
            _execute(session, current)
        except Exception as exc:
            with session.transaction():
                _record(session, s, actor, type_, started, success=False)
            done = (f"the statements at line {', '.join(map(str, ran))} ran and cannot be "
                    "rolled back" if ran else "no statement before it ran")
            raise _failed(s, current, exc, f"failed outside a transaction ({done})",
                          "fix the script (and what the statements that ran left behind), "
                          "then run  sluice migrate repair ENV  and apply again") from exc
        ran.append(current.line)
    with session.transaction():
        _record(session, s, actor, type_, started)


def _execute(session: Session, stmt: Statement) -> None:
    if stmt.load is None:
        session.execute(stmt.text)
        return
    load = getattr(session, "load", None)
    if load is None:
        raise MigrationError(f"a {session.engine} session cannot load files: {stmt.text}")
    load(stmt.load)


def _record(session: Session, s: Script, actor: str, type_: str, started: float, *,
            success: bool = True) -> None:
    history.append(session, version=s.version, description=s.description, type_=type_,
                   script=s.name, checksum=s.checksum, installed_by=actor,
                   execution_ms=int((time.perf_counter() - started) * 1000), success=success)


def _failed(s: Script, current: Statement | None, exc: Exception, what: str,
            tip: str) -> MigrationError:
    where = f"migrations/{s.name}:{current.line}" if current else f"migrations/{s.name}"
    shown = _redact(current.text) if current else ""
    cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return MigrationError(f"{where}: migration {_label(s)} {what}: {cause}\n    {shown[:300]}",
                          tip=tip, script=s.name, line=current.line if current else None,
                          cause=cause)
