"""``sluice migrate status|plan|apply|undo|repair ENV``: schema migrations per environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from sluice.cli.errors import guarded
from sluice.project.workspace import Workspace, current_actor

if TYPE_CHECKING:
    from sluice.migrations.session import Session

migrate_app = typer.Typer(help="Warehouse schema migrations (Flyway-compatible).",
                          no_args_is_help=True)
out = Console()
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
EnvArg = Annotated[str, typer.Argument(help="Environment.")]


ForceOpt = Annotated[bool, typer.Option(
    "--force", hidden=True,
    help="No longer bypasses protection: a protected environment's migrations run only from "
         "an approved release.")]
ReleaseOpt = Annotated[str | None, typer.Option(
    "--release", help="Take the scripts from this release (default: on a protected "
                      "environment the live one, elsewhere the work tree).")]


@dataclass
class Scope:
    """Where a migrate command's scripts come from, and the session on the environment."""

    ws: Workspace
    session: Session
    root: Path  # the folder holding migrations/: a verified release, or the work tree
    dialect: str
    release_id: str | None  # None: the work tree


@contextmanager
def _session(env: str, *, lock: bool, release: str | None = None,
             force: bool = False) -> Iterator[Scope]:
    """Open ``env`` for a migrate command.

    On a protected environment (by the rules in force, never the work tree's sluice.yaml) the
    scripts come only from a verified release — the live one unless ``--release`` names
    another — and changing commands pass the gates (an approval of that release that
    acknowledges ``migrations``) under the environment's lock.
    """
    from sluice.config import load_project
    from sluice.deploy.deployer import acquire_env_lock, release_env_lock
    from sluice.errors import GateError
    from sluice.flow.decision import (
        GateRequest,
        decide_gates,
        record_refusal,
        release_config,
        rules_in_force,
        verified_manifest,
    )
    from sluice.migrations import session_for

    ws = Workspace.open()
    owner = ws.owner()
    locked = False
    try:
        worktree = ws.config()
        worktree.environment(env)  # unknown names fail with a suggestion
        rules, basis = rules_in_force(ws, env, worktree)
        protected = rules.approval_required
        if protected and force:
            exc = GateError(
                f"{env} is protected ({basis}): --force no longer changes its schema by hand",
                tip=f"migrations reach {env} from an approved release:  sluice approve {env} "
                    f"--release ID --acknowledge migrations, then  sluice migrate … {env} "
                    "--release ID")
            record_refusal(ws, GateRequest("migrate", env, release or "", current_actor()), exc)
            raise exc
        if lock:
            acquire_env_lock(ws, env, owner)
            locked = True
        if protected or release is not None:
            live = ws.state.live(env)
            rid = release if release is not None else (live.release_id if live else None)
            if rid is None:
                raise GateError(f"{env} is protected and nothing is live there: its "
                                "migrations come from a release",
                                tip=f"name one:  sluice migrate … {env} --release ID")
            if (ws.root / "migrations").is_dir():
                err.print(f"note: {env} is protected: its migrations come from release "
                          f"{rid}, not from the work tree (build and promote a release to "
                          "change them)")
            if lock:  # a change: the gates, under the lock
                decision = decide_gates(ws, GateRequest("migrate", env, rid, current_actor()))
                cfg, root, rid = decision.config, decision.release_dir, decision.release_id
            else:
                manifest = verified_manifest(ws, env, rid)
                cfg, root = release_config(ws, env, manifest)
                rid = manifest.id
            yield Scope(ws, session_for(ws.target(env)), root, cfg.migrations_dialect, rid)
        else:
            yield Scope(ws, session_for(ws.target(env)), ws.root,
                        load_project(ws.root).migrations_dialect, None)
    finally:
        try:
            if locked:
                release_env_lock(ws, env, owner)
        finally:
            ws.close()


def _emit(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@migrate_app.command("status")
@guarded
def status_cmd(env: EnvArg, release: ReleaseOpt = None, as_json: JsonOpt = False) -> int:
    """Every migration and its state in ENV (applied, pending, mismatch, failed …)."""
    from sluice.cli.tables import migrations_view
    from sluice.migrations import project_scripts, status

    with _session(env, lock=False, release=release) as scope:
        entries = status(project_scripts(scope.root), scope.session)
    view = migrations_view(entries)
    if as_json:
        _emit(view.records)
        return 0
    view.print(out)
    return 1 if any(e.state in {"mismatch", "missing", "failed"} for e in entries) else 0


@migrate_app.command("plan")
@guarded
def plan_cmd(env: EnvArg, release: ReleaseOpt = None, as_json: JsonOpt = False) -> int:
    """What `apply` would run in ENV, translated to its engine, and what cannot be undone."""
    from sluice.migrations import plan, project_scripts

    with _session(env, lock=False, release=release) as scope:
        p = plan(project_scripts(scope.root), scope.session, scope.dialect)
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
        release: ReleaseOpt = None, force: ForceOpt = False, as_json: JsonOpt = False) -> int:
    """Apply pending migrations to ENV, in order, each in a transaction."""
    from sluice.migrations import apply, project_scripts

    with _session(env, lock=True, release=release, force=force) as scope:
        done = apply(project_scripts(scope.root), scope.session, scope.dialect,
                     current_actor(), target=to)
        scope.ws.state.event("migrated", env=env, actor=current_actor(),
                             release_id=scope.release_id,
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
        release: ReleaseOpt = None, force: ForceOpt = False, as_json: JsonOpt = False) -> int:
    """Undo the newest applied version(s) in ENV with their U scripts."""
    from sluice.migrations import project_scripts, undo_migrations

    with _session(env, lock=True, release=release, force=force) as scope:
        done = undo_migrations(project_scripts(scope.root), scope.session, scope.dialect,
                               current_actor(), count=count)
        scope.ws.state.event("migrations_undone", env=env, actor=current_actor(),
                             release_id=scope.release_id, payload={"undone": done})
    if as_json:
        _emit({"undone": done})
    else:
        out.print(f"{env}: undid version(s) {', '.join(done) or 'none'}")
    return 0


@migrate_app.command("repair")
@guarded
def repair_cmd(env: EnvArg, release: ReleaseOpt = None, force: ForceOpt = False,
               as_json: JsonOpt = False) -> int:
    """Remove failed rows and accept the checksums of the scripts (of the release, on a
    protected environment) for applied migrations."""
    from sluice.migrations import project_scripts, repair

    with _session(env, lock=True, release=release, force=force) as scope:
        result = repair(project_scripts(scope.root), scope.session)
        scope.ws.state.event("migrations_repaired", env=env, actor=current_actor(),
                             release_id=scope.release_id, payload=result)
    if as_json:
        _emit(result)
    else:
        out.print(f"{env}: removed {result['removed_failed']} failed row(s), realigned "
                  f"{result['realigned']} checksum(s)")
    return 0
