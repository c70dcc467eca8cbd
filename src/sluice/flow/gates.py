"""Promotion, approvals and rollback: the gates between environments."""

from __future__ import annotations

from dataclasses import dataclass, field

from sluice.config import ProjectConfig, load_project
from sluice.deploy.deployer import (
    DeployOutcome,
    Step,
    acquire_env_lock,
    deploy,
    ensure_in_sync,
    no_progress,
    recover,
    release_env_lock,
    roll_components_to,
    undo_deployment,
)
from sluice.errors import SluiceError
from sluice.project.contracts import contract_changes
from sluice.project.workspace import Workspace, current_actor
from sluice.release import resolve_release_id, verify_release
from sluice.state import ApprovalRecord


class GateError(SluiceError):
    """A promotion gate does not hold."""


@dataclass
class RollbackOutcome:
    env: str
    from_release: str
    to_release: str
    versions: dict[str, str]
    undone: list[str] = field(default_factory=list)  # migration versions undone


def governing_config(ws: Workspace, env: str, candidate: str) -> ProjectConfig:
    """The configuration whose protection rules govern ``env``.

    It is the release live in ``env`` (so a change of approvers is itself reviewed before it
    applies), else the candidate release being let in — never the editable work tree.
    """
    target = ws.target(env)
    live = ws.state.live(env)
    if live is not None and target.release_dir(live.release_id).is_dir():
        return load_project(target.release_dir(live.release_id), environment=env)
    manifest = verify_release(ws.artifacts, candidate)
    return load_project(target.install_release(ws.artifacts, manifest), environment=env)


def check_gates(ws: Workspace, source: str, dest: str) -> str:
    """The release live in ``source`` if it may enter ``dest``; GateError saying why not."""
    cfg = ws.config()
    cfg.environment(source)
    cfg.environment(dest)
    live = ws.state.live(source)
    if live is None:
        raise GateError(f"nothing is live in {source} to promote",
                        tip=f"deploy first:  sluice deploy {source}")
    protection = governing_config(ws, dest, live.release_id).environment(dest).protection
    last = [d for d in ws.state.deployments(source, limit=1)]
    if last and last[0].status.value != "succeeded" and last[0].release_id == live.release_id:
        raise GateError(f"the last deployment of {live.release_id} to {source} did not succeed")
    if protection.require_checks:
        rel = ws.state.get_release(live.release_id)
        if not rel.checks_passed:
            raise GateError(f"release {live.release_id} has no passing checks",
                            tip="run  sluice check  and build the release after it passes")
    if protection.approval_required and not ws.state.is_approved(dest, live.release_id):
        ws.notify(dest, "approval_requested", release=live.release_id, source=source,
                  actor=current_actor(),
                  approve=f"sluice approve {dest} --release {live.release_id} --comment '…'")
        raise GateError(
            f"{dest} is protected: release {live.release_id} needs an approval",
            tip=f"sluice approve {dest} --release {live.release_id} --comment '…'",
        )
    if protection.approval_required:
        check_breaking(ws, dest, live.release_id)
        check_irreversible(ws, dest, live.release_id)
    return live.release_id


def check_irreversible(ws: Workspace, env: str, release_id: str) -> None:
    """Schema migrations without an undo script may enter a protected environment only with
    an approval given with ``--acknowledge irreversible``."""
    from sluice.deploy.deployer import plan_deploy

    plan, _, _ = plan_deploy(ws, env, verify_release(ws.artifacts, release_id))
    irreversible = plan.migrations.get("irreversible") or []
    if irreversible and not ws.state.is_approved(env, release_id, acknowledging="irreversible"):
        raise GateError(
            f"release {release_id} applies migrations to {env} that cannot be undone "
            f"({', '.join(irreversible)}); its approval must accept that",
            tip=f"sluice approve {env} --release {release_id} --acknowledge irreversible "
                "--comment '…'  (or add the U scripts)")


def check_breaking(ws: Workspace, env: str, release_id: str) -> None:
    """A release that breaks a contract of what ``env`` serves may enter a protected
    environment only when sluice.yaml acknowledges each breaking change and the approval for
    ``env`` was given with ``--acknowledge breaking``."""
    live = ws.state.live(env)
    target = ws.target(env)
    if live is None or not target.release_dir(live.release_id).is_dir():
        return  # nothing served yet: nobody can be broken
    old = load_project(target.release_dir(live.release_id), environment=env)
    manifest = verify_release(ws.artifacts, release_id)
    new = load_project(target.install_release(ws.artifacts, manifest), environment=env)
    breaking = [c for c in contract_changes(old, new) if c.breaking]
    if not breaking:
        return
    unacknowledged = [c for c in breaking if c.acknowledged_by(new) is None]
    if unacknowledged:
        listed = "; ".join(f"{c.dataset}: {c.change} ({c.id})" for c in unacknowledged)
        raise GateError(f"release {release_id} breaks contracts {env} serves: {listed}",
                        tip="acknowledge each change under checks.acknowledge in sluice.yaml "
                            "(dataset, change, reason), then build a new release")
    if not ws.state.is_approved(env, release_id, acknowledging="breaking"):
        listed = "; ".join(f"{c.dataset}: {c.change}" for c in breaking)
        raise GateError(
            f"release {release_id} makes acknowledged breaking changes to {env} ({listed}); "
            "its approval must accept them",
            tip=f"sluice approve {env} --release {release_id} --acknowledge breaking "
                "--comment '…'")


def check_deploy(ws: Workspace, env: str, release_id: str) -> None:
    """Refuse deploying straight to a protected environment a release nobody approved for it.

    Without this, ``sluice deploy prod`` would skip the gate that ``sluice promote`` enforces.
    """
    cfg = ws.config()
    cfg.environment(env)
    rid = resolve_release_id(ws.artifacts, release_id)
    if not governing_config(ws, env, rid).environment(env).protection.approval_required:
        return
    if ws.state.is_approved(env, rid):
        check_breaking(ws, env, rid)
        check_irreversible(ws, env, rid)
        return
    order = cfg.promotion_order()
    upstream = order[order.index(env) - 1] if env in order and order.index(env) > 0 else None
    raise GateError(
        f"{env} is protected: release {rid} needs an approval before it is deployed there",
        tip=(f"promote it through the gates:  sluice promote {upstream} {env}" if upstream
             else f"sluice approve {env} --release {rid} --comment '…'"),
    )


def promote(ws: Workspace, source: str, dest: str, *, wait: float = 0.0,
            on_step: Step = no_progress) -> DeployOutcome:
    """Deploy to ``dest`` the very release live in ``source`` (never rebuilt)."""
    release_id = check_gates(ws, source, dest)
    ws.state.event("promotion_started", env=dest, actor=current_actor(), release_id=release_id,
                   payload={"from": source})
    return deploy(ws, dest, release_id, kind="promote", actor=current_actor(), wait=wait,
                  on_step=on_step)


def decide(ws: Workspace, env: str, release_id: str | None, *, approve: bool,
           comment: str = "", acknowledge: tuple[str, ...] = ()) -> ApprovalRecord:
    """Record an approval or a rejection of a release for a protected environment."""
    cfg = ws.config()
    cfg.environment(env)
    actor = current_actor()
    if release_id is None:
        order = cfg.promotion_order()
        idx = order.index(env)
        if idx == 0:
            raise GateError(f"{env} is first in the promotion order; name the release",
                            tip=f"sluice approve {env} --release ID")
        live = ws.state.live(order[idx - 1])
        if live is None:
            raise GateError(f"nothing is live in {order[idx - 1]} to approve for {env}")
        release_id = live.release_id
    release_id = ws.state.get_release(release_id).id
    protection = governing_config(ws, env, release_id).environment(env).protection
    if protection.approvers and actor not in protection.approvers:
        raise GateError(f"{actor} may not approve releases for {env}",
                        tip=f"approvers: {', '.join(protection.approvers)}")
    from sluice.state import ApprovalDecision

    rec = ApprovalRecord(env=env, release_id=release_id,
                         decision=ApprovalDecision.APPROVED if approve
                         else ApprovalDecision.REJECTED,
                         actor=actor, comment=comment, acknowledges=acknowledge)
    ws.state.record_approval(rec)
    ws.state.event("approved" if approve else "rejected", env=env, actor=actor,
                   release_id=release_id, payload={"comment": comment})
    ws.notify(env, "approved" if approve else "rejected", release=release_id, actor=actor,
              comment=comment)
    return rec


def rollback(ws: Workspace, env: str, to: str | None = None, *,
             keep_schema: bool = False) -> RollbackOutcome:
    """Re-point ``env`` to an earlier release and its data versions; nothing is recomputed.
    Schema migrations the earlier release does not have are undone first, newest first, with
    their U scripts (``keep_schema`` leaves them applied)."""
    state = ws.state
    owner = ws.owner()
    acquire_env_lock(ws, env, owner)  # like a deploy: a dead local holder is taken over
    try:
        recover(ws, env)  # finish a crashed deployment first, so we start from a known state
        ensure_in_sync(ws, env)
        live = state.live(env)
        if live is None:
            raise GateError(f"nothing is live in {env}")
        history = state.live_history(env)
        if to is None:
            candidates = [h for h in history if h.release_id != live.release_id
                          or h.versions != live.versions]
            earlier = [h for h in candidates if h.since < live.since]
            if not earlier:
                raise GateError(f"{env} has no earlier release to roll back to")
            goal = earlier[0]
        else:
            rid = state.get_release(to).id
            matches = [h for h in history if h.release_id == rid]
            if not matches:
                raise GateError(f"release {rid} was never live in {env}",
                                tip="promote it instead, or pick one from  sluice history")
            goal = matches[0]
        target = ws.target(env)
        existing = {(v.dataset, v.version) for v in target.versions()}
        gone = sorted(f"{d}@{v}" for d, v in goal.versions.items() if (d, v) not in existing)
        if gone:
            raise GateError(
                f"the data versions of {goal.release_id} were garbage-collected "
                f"({', '.join(gone[:3])})",
                tip=f"redeploy it instead:  sluice deploy {env} --release {goal.release_id}")
        undone = [] if keep_schema else _undo_for_rollback(ws, env, live.release_id,
                                                           goal.release_id)
        dep = state.start_deployment(env, goal.release_id, "rollback", current_actor())
        try:
            # publish checks that every version still exists before it swaps anything
            target.publish(goal.versions, exact=True)
        except SluiceError as exc:
            state.finish_deployment(dep, "failed", exc.message)
            if "no such version" in exc.message:
                raise GateError(
                    f"the data versions of {goal.release_id} were garbage-collected",
                    tip=f"redeploy it instead:  sluice deploy {env} --release "
                        f"{goal.release_id}",
                ) from exc
            raise
        # a crash from here on is finished by the journal: recover() re-points the catalog
        # (and, once `components` is journaled, the components) to the live release
        try:
            if not target.release_dir(goal.release_id).is_dir():
                target.install_release(ws.artifacts,
                                       verify_release(ws.artifacts, goal.release_id))
            if target.components() is not None:  # aliases back to what the goal deployed
                state.step(dep, "components", "started")
                roll_components_to(ws, env, goal, lambda name, detail: state.step(
                    dep, name, "done", detail))
                state.step(dep, "components", "done")
            target.activate_release(goal.release_id)
        except BaseException as exc:  # leave env as it was: catalog, components, release
            undo_deployment(ws, env, dep, exc)
            raise
        state.complete_deployment(
            dep, env, goal.release_id, goal.versions,
            message=f"rolled back from {live.release_id}", event_kind="rolled_back",
            actor=current_actor(), payload={"from": live.release_id, "undone": undone},
        )
        ws.notify(env, "rolled_back", release=goal.release_id, previous=live.release_id,
                  actor=current_actor(), undone=undone)
        return RollbackOutcome(env, live.release_id, goal.release_id, dict(goal.versions),
                               undone)
    finally:
        release_env_lock(ws, env, owner)


def _undo_for_rollback(ws: Workspace, env: str, current: str, goal: str) -> list[str]:
    """Undo the migrations applied in ``env`` that release ``goal`` does not have."""
    from sluice.migrations import (
        FOLDER,
        MigrationError,
        project_scripts,
        session_for,
        undo_migrations,
    )
    from sluice.migrations.history import rows
    from sluice.migrations.migrator import applied_versions

    target = ws.target(env)
    current_dir = target.release_dir(current)
    if not (current_dir / FOLDER).is_dir():
        return []
    goal_dir = target.release_dir(goal)
    if not goal_dir.is_dir():
        goal_dir = target.install_release(ws.artifacts, verify_release(ws.artifacts, goal))
    session = session_for(target)
    kept = {s.key for s in project_scripts(goal_dir).versioned}
    applied = applied_versions(rows(session))
    extra = [applied[k].version or "" for k in sorted(applied, reverse=True) if k not in kept]
    if not extra:
        return []
    cfg = load_project(current_dir, environment=env)
    try:
        return undo_migrations(project_scripts(current_dir), session, cfg.migrations_dialect,
                               current_actor(), versions=extra)
    except MigrationError as exc:
        if exc.undone:  # some were undone, then one failed: say exactly where things stand
            ws.state.event("migrations_undone", env=env, actor=current_actor(),
                           release_id=current, payload={"undone": exc.undone,
                                                        "failed": exc.message})
            raise GateError(
                f"rolling {env} back to {goal} stopped: migrations {', '.join(exc.undone)} "
                f"were undone, then {exc.message}. {env} still runs {current}",
                tip=f"fix the failing U script and run the rollback again, or re-apply them "
                    f"with  sluice deploy {env} --release {current}") from exc
        raise GateError(
            f"rolling {env} back to {goal} would leave migrations {', '.join(extra)} applied: "
            f"{exc.message}",
            tip="add the U scripts and redeploy, roll forward with a fix, or roll back code "
                "and data only:  sluice rollback " + env + " --keep-schema") from exc
