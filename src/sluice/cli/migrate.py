"""``sluice migrate status|plan|apply|undo|repair ENV``: schema migrations per environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sluice.cli.errors import guarded
from sluice.project.workspace import Workspace, current_actor

if TYPE_CHECKING:
    from sluice.migrations.session import Session

migrate_app = typer.Typer(help="Warehouse schema migrations (Flyway-compatible).",
                          no_args_is_help=True)
out = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
EnvArg = Annotated[str, typer.Argument(help="Environment.")]
_STYLE = {"applied": "green", "pending": "yellow", "outdated": "yellow", "undone": "dim",
          "mismatch": "red", "missing": "red", "failed": "red", "other-engine": "dim"}


ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Change a protected environment's schema outside a gated deploy.")]


@contextmanager
def _session(env: str, *, lock: bool, force: bool = True) -> Iterator[tuple[Workspace, Session]]:
    from sluice.deploy.deployer import acquire_env_lock, release_env_lock
    from sluice.errors import UsageError
    from sluice.migrations import session_for

    ws = Workspace.open()
    owner = ws.owner()
    try:
        if ws.config().environment(env).protection.approval_required and not force:
            raise UsageError(
                f"{env} is protected: its schema changes through gated deploys",
                tip=f"promote a release that contains the migration to {env}, or pass "
                    "--force to change it by hand")
        if lock:
            acquire_env_lock(ws, env, owner)
        try:
            yield ws, session_for(ws.target(env))
        finally:
            if lock:
                release_env_lock(ws, env, owner)
    finally:
        ws.close()


def _emit(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@migrate_app.command("status")
@guarded
def status_cmd(env: EnvArg, as_json: JsonOpt = False) -> int:
    """Every migration and its state in ENV (applied, pending, mismatch, failed …)."""
    from sluice.migrations import project_scripts, status

    with _session(env, lock=False) as (ws, session):
        entries = status(project_scripts(ws.root), session)
    if as_json:
        _emit([asdict(e) for e in entries])
        return 0
    t = Table("version", "description", "script", "state", "installed on", "undo")
    for e in entries:
        t.add_row(e.version or "R", e.description, e.script,
                  Text(e.state, style=_STYLE.get(e.state, "")), e.installed_on,
                  "" if e.kind != "versioned" else ("yes" if e.reversible else "no"))
    out.print(t)
    return 1 if any(e.state in {"mismatch", "missing", "failed"} for e in entries) else 0


@migrate_app.command("plan")
@guarded
def plan_cmd(env: EnvArg, as_json: JsonOpt = False) -> int:
    """What `apply` would run in ENV, translated to its engine, and what cannot be undone."""
    from sluice.config import load_project
    from sluice.migrations import plan, project_scripts

    with _session(env, lock=False) as (ws, session):
        p = plan(project_scripts(ws.root), session,
                 load_project(ws.root).migrations_dialect)
    if as_json:
        _emit(p.to_dict())
    else:
        _print_plan(p.to_dict())
    return 1 if p.problems else 0


def _print_plan(p: dict[str, object]) -> None:
    pending = p["pending"]
    assert isinstance(pending, list)
    out.print(f"{len(pending)} migration(s) to apply" + (": " + ", ".join(pending)
                                                         if pending else ""))
    for key, style, label in (("notes", "dim", "note"), ("irreversible", "yellow",
                                                         "irreversible (no undo script)"),
                              ("problems", "red", "problem")):
        items = p[key]
        assert isinstance(items, list)
        for item in items:
            out.print(Text(f"  {label}: {item}", style=style))


@migrate_app.command("apply")
@guarded
def apply_cmd(env: EnvArg, to: Annotated[str | None, typer.Option(
        help="Apply versioned migrations up to this version only.")] = None,
        force: ForceOpt = False, as_json: JsonOpt = False) -> int:
    """Apply pending migrations to ENV, in order, each in a transaction."""
    from sluice.config import load_project
    from sluice.migrations import apply, project_scripts

    with _session(env, lock=True, force=force) as (ws, session):
        done = apply(project_scripts(ws.root), session,
                     load_project(ws.root).migrations_dialect, current_actor(), target=to)
        ws.state.event("migrated", env=env, actor=current_actor(),
                       payload={"applied": [s.name for s in done]})
    if as_json:
        _emit({"applied": [s.name for s in done]})
    else:
        out.print(f"{env}: applied {len(done)} migration(s)"
                  + (": " + ", ".join(s.name for s in done) if done else ""))
    return 0


@migrate_app.command("undo")
@guarded
def undo_cmd(env: EnvArg, count: Annotated[int, typer.Option(
        min=1, help="How many of the newest applied versions to undo.")] = 1,
        force: ForceOpt = False, as_json: JsonOpt = False) -> int:
    """Undo the newest applied version(s) in ENV with their U scripts."""
    from sluice.config import load_project
    from sluice.migrations import project_scripts, undo_migrations

    with _session(env, lock=True, force=force) as (ws, session):
        dialect = load_project(ws.root).migrations_dialect
        done = undo_migrations(project_scripts(ws.root), session, dialect, current_actor(),
                               count=count)
        ws.state.event("migrations_undone", env=env, actor=current_actor(),
                       payload={"undone": done})
    if as_json:
        _emit({"undone": done})
    else:
        out.print(f"{env}: undid version(s) {', '.join(done) or 'none'}")
    return 0


@migrate_app.command("repair")
@guarded
def repair_cmd(env: EnvArg, force: ForceOpt = False, as_json: JsonOpt = False) -> int:
    """Remove failed rows and accept the local checksums of applied migrations."""
    from sluice.migrations import project_scripts, repair

    with _session(env, lock=True, force=force) as (ws, session):
        result = repair(project_scripts(ws.root), session)
        ws.state.event("migrations_repaired", env=env, actor=current_actor(), payload=result)
    if as_json:
        _emit(result)
    else:
        out.print(f"{env}: removed {result['removed_failed']} failed row(s), realigned "
                  f"{result['realigned']} checksum(s)")
    return 0
