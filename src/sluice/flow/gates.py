"""Promotion, approvals and rollback: the gates between environments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn

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
from sluice.errors import GateError, SluiceError, UsageError
from sluice.flow.authorship import own_work
from sluice.flow.decision import (
    VERIFIED_VIA,
    EnvRules,
    GateRequest,
    approvable,
    approve_tip,
    check_order,
    decide_gates,
    record_protection,
    release_config,
    rules_in_force,
    verified_manifest,
)
from sluice.project.workspace import Workspace, current_actor
from sluice.state import ApprovalDecision, ApprovalRecord


@dataclass
class RollbackOutcome:
    env: str
    from_release: str
    to_release: str
    versions: dict[str, str]
    undone: list[str] = field(default_factory=list)  # migration versions undone


def check_gates(ws: Workspace, source: str, dest: str) -> str:
    """The release live in ``source`` if it may be promoted to ``dest``; GateError saying why
    not (the same decision :func:`promote` takes again under the lock)."""
    release_id = _live_in(ws, source, dest)
    decide_gates(ws, GateRequest("promote", dest, release_id, current_actor(), source))
    return release_id


def _live_in(ws: Workspace, source: str, dest: str) -> str:
    cfg = ws.config()
    cfg.environment(source)  # unknown names fail with a suggestion
    cfg.environment(dest)
    live = ws.state.live(source)
    if live is None:
        # say first when the direction is wrong: `promote prod dev` is not about prod
        upstream = rules_in_force(ws, dest, cfg)[0].upstream
        if source == dest or source not in upstream:
            check_order(GateRequest("promote", dest, "", current_actor(), source),
                         EnvRules(upstream=upstream))
        raise GateError(f"nothing is live in {source} to promote",
                        tip=f"deploy first:  sluice deploy {source}")
    return live.release_id


def promote(ws: Workspace, source: str, dest: str, *, wait: float = 0.0,
            on_step: Step = no_progress, actor: str | None = None) -> DeployOutcome:
    """Deploy to ``dest`` the very release live in ``source`` (never rebuilt); ``actor``
    is who asks (the server's authenticated caller; default: :func:`current_actor`)."""
    release_id = _live_in(ws, source, dest)
    return deploy(ws, dest, release_id, kind="promote", actor=actor or current_actor(),
                  wait=wait, on_step=on_step, source=source)


def decide(ws: Workspace, env: str, release_id: str | None, *, approve: bool,
           comment: str = "", acknowledge: tuple[str, ...] = (), actor: str | None = None,
           via: str = "claimed", evidence: Mapping[str, str] | None = None) -> ApprovalRecord:
    """Record an approval or a rejection of a release for an environment.

    Approvals are judged by the rules in force combined with the release's own
    (:func:`~sluice.flow.decision.approvable`); approving where no gate asks for one is
    refused, so nobody believes an unprotected environment was reviewed. A rejection stands
    on any environment until a later approval: no command puts that release there.

    ``actor`` and ``via``: who decides and how that is known — by default the claimed local
    identity (:func:`current_actor`); the control plane passes the authenticated caller's name
    with ``via="authenticated"``, the CodePipeline bridge (:mod:`sluice.flow.codepipeline`)
    the approver CodePipeline names with ``via="codepipeline"`` and ``evidence`` (the
    approver's ARN, the pipeline and execution: added to the event). Where the rules need
    authenticated approvers (``access:`` declared) a claimed decision is refused, and with
    ``distinct_approver`` so is an approval by whoever authored or built the release.
    """
    cfg = ws.config()
    cfg.environment(env)
    actor = actor or current_actor()
    verb = "approve" if approve else "reject"
    if release_id is None:
        order = cfg.promotion_order()
        if env not in order[1:]:
            if approve and not rules_in_force(ws, env, cfg)[0].approval_required:
                raise UsageError(f"{env} is not protected: releases enter it without an "
                                 "approval", tip=f"deploy to it:  sluice deploy {env}")
            raise UsageError(f"{env} is not promoted from another environment; name the "
                             "release", tip=f"sluice {verb} {env} --release ID")
        upstream = order[order.index(env) - 1]
        live = ws.state.live(upstream)
        if live is None:
            raise GateError(f"nothing is live in {upstream} to approve for {env}")
        release_id = live.release_id
    manifest = verified_manifest(ws, env, release_id)
    release_id = manifest.id
    rules, loosened = approvable(ws, env, release_id)
    if approve and not rules.approval_required and not loosened:
        raise UsageError(f"{env} is not protected: releases enter it without an approval",
                         tip=f"protect it with  environments.{env}.protection."
                             "approval_required: true  in a release")
    if rules.authenticated and via not in VERIFIED_VIA:
        _refuse_decision(ws, env, release_id, actor, verb, GateError(
            f"{env} takes approvals and rejections from authenticated users only (access: "
            f"in sluice.yaml): {actor} is a claimed identity here, and approvals recorded on "
            f"the command line do not open {env}'s gate",
            tip=approve_tip(rules, f"sluice {verb} {env} --release {release_id} "
                                   "--comment '…'")))
    if not rules.allows(actor):
        allowed = ", ".join(rules.approvers or ()) or "nobody"
        raise GateError(f"{actor} may not {verb} releases for {env}",
                        tip=f"approvers: {allowed}")
    if approve and rules.distinct_approver:
        cfg_release, _ = release_config(ws, env, manifest)
        conflict = own_work(ws, release_id, actor, cfg_release, cfg)
        if conflict:
            _refuse_decision(ws, env, release_id, actor, verb, GateError(
                f"{actor} may not approve release {release_id} for {env}: {conflict}, and "
                f"{env} requires a distinct approver",
                tip="someone else approves it: "
                    + ", ".join(rules.approvers or ("another approver",))))
    rec = ApprovalRecord(env=env, release_id=release_id,
                         decision=ApprovalDecision.APPROVED if approve
                         else ApprovalDecision.REJECTED,
                         actor=actor, comment=comment, acknowledges=acknowledge, via=via)
    ws.state.record_approval(rec)
    ws.state.event("approved" if approve else "rejected", env=env, actor=actor,
                   release_id=release_id,
                   payload={"comment": comment, "acknowledges": list(acknowledge),
                            "via": via, **(evidence or {})})
    ws.notify(env, "approved" if approve else "rejected", release=release_id, actor=actor,
              comment=comment)
    return rec


def _refuse_decision(ws: Workspace, env: str, release_id: str, actor: str, verb: str,
                     exc: GateError) -> NoReturn:
    """Record a refused approval or rejection (``gate_refused``) and raise it."""
    ws.state.event("gate_refused", env=env, actor=actor, release_id=release_id,
                   payload={"action": verb, "source": None, "reason": exc.message})
    raise exc


def rollback(ws: Workspace, env: str, to: str | None = None, *,
             keep_schema: bool = False, actor: str | None = None) -> RollbackOutcome:
    """Re-point ``env`` to an earlier release and its data versions; nothing is recomputed.
    Schema migrations the earlier release does not have are undone first, newest first, with
    their U scripts (``keep_schema`` leaves them applied). ``actor``: as for :func:`promote`."""
    who = actor or current_actor()
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
            rid = state.get_release(verified_manifest(ws, env, to).id).id
            matches = [h for h in history if h.release_id == rid]
            if not matches:
                raise GateError(f"release {rid} was never live in {env}",
                                tip="promote it instead, or pick one from  sluice history")
            goal = matches[0]
        # the same gates as any change: verified code, no standing rejection, and an
        # approval when the earlier release would loosen the protection in force
        decision = decide_gates(ws, GateRequest("rollback", env, goal.release_id,
                                                who))
        target = ws.target(env)
        existing = {(v.dataset, v.version) for v in target.versions()}
        gone = sorted(f"{d}@{v}" for d, v in goal.versions.items() if (d, v) not in existing)
        if gone:
            raise GateError(
                f"the data versions of {goal.release_id} were garbage-collected "
                f"({', '.join(gone[:3])})",
                tip=f"redeploy it instead:  sluice deploy {env} --release {goal.release_id}")
        undone = [] if keep_schema else _undo_for_rollback(ws, env, live.release_id,
                                                           goal.release_id, who)
        dep = state.start_deployment(env, goal.release_id, "rollback", who)
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
            # the verified copy the decision staged; a remote target also uploads it
            target.install_release(ws.artifacts, decision.manifest)
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
            actor=who, payload={"from": live.release_id, "undone": undone},
        )
        record_protection(ws, decision, dep)
        ws.notify(env, "rolled_back", release=goal.release_id, previous=live.release_id,
                  actor=who, undone=undone)
        return RollbackOutcome(env, live.release_id, goal.release_id, dict(goal.versions),
                               undone)
    finally:
        release_env_lock(ws, env, owner)


def _undo_for_rollback(ws: Workspace, env: str, current: str, goal: str,
                       who: str) -> list[str]:
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
    # the U scripts that run are the verified release's, whatever its folder holds now
    cfg, current_dir = release_config(ws, env, verified_manifest(ws, env, current))
    if not (current_dir / FOLDER).is_dir():
        return []
    _, goal_dir = release_config(ws, env, verified_manifest(ws, env, goal))
    session = session_for(target)
    kept = {s.key for s in project_scripts(goal_dir).versioned}
    applied = applied_versions(rows(session))
    extra = [applied[k].version or "" for k in sorted(applied, reverse=True) if k not in kept]
    if not extra:
        return []
    try:
        return undo_migrations(project_scripts(current_dir), session, cfg.migrations_dialect,
                               who, versions=extra)
    except MigrationError as exc:
        if exc.undone:  # some were undone, then one failed: say exactly where things stand
            ws.state.event("migrations_undone", env=env, actor=who,
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


__all__ = ["GateError", "RollbackOutcome", "check_gates", "decide", "promote", "rollback"]
