"""Write-audit-publish: the one procedure behind deploy, promote and run.

verify the release → lock the environment → install its code → plan → run the changed jobs
in dependency order, each writing a new version that is audited right away (the jobs
downstream of a failed audit are skipped) → publish all catalog entries in one transaction
→ activate the release → record. Every step is journaled before and after it
happens; any failure before publish drops the new versions and leaves the environment exactly
as it was. An interrupted deployment is finished (rolled back) by the next command: see
:func:`recover`.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.config import ProjectConfig, builtins, load_project
from sluice.deploy import glue_bookmarks, spark_driver
from sluice.deploy.audit import AuditResult, audit_version
from sluice.deploy.jobs import JobError, JobResult, Resolver, run_python_job, run_sql_job
from sluice.deploy.plan import DeployPlan, make_plan
from sluice.errors import LockError, SluiceError
from sluice.migrations.scripts import FOLDER as MIGRATIONS_FOLDER
from sluice.migrations.scripts import Script
from sluice.project.graph import JobNode, ProjectGraph, build_graph
from sluice.project.workspace import Workspace
from sluice.quality import MetricHistory
from sluice.release import Manifest
from sluice.state import (
    AuditRecord,
    JobRunRecord,
    JobRunStatus,
    LiveState,
    LockRecord,
    QuarantineRecord,
    StateStore,
    StepRecord,
)
from sluice.state.locks import TAKEOVER_EVENT, dead_local_owner
from sluice.targets.base import Target

if TYPE_CHECKING:
    from sluice.flow.decision import GateDecision, GateRequest

Step = Callable[[str, str], None]

#: Test hook: ``SLUICE_TEST_KILL_AT=<step>:<status>`` (e.g. ``publish:done``,
#: ``run:orders:started``) makes the deploying process SIGKILL itself right after journaling
#: that step, so tests can crash a real deploy at every point of its journal.
KILL_AT_VAR = "SLUICE_TEST_KILL_AT"


class AuditFailed(SluiceError):
    """New data broke its contract or rules; nothing was published."""

    def __init__(self, audits: list[AuditResult], skipped: list[str] | None = None) -> None:
        failed = [a for a in audits if not a.passed]
        lines = [f"{a.dataset} (version {a.version}): " + "; ".join(a.failures()[:5])
                 for a in failed]
        if skipped:
            lines.append(f"skipped downstream: {', '.join(skipped)}")
        super().__init__(
            "audit failed, nothing was published:\n  " + "\n  ".join(lines),
            tip="fix the data or the job, then deploy again; the environment still serves "
                "its previous data. A refused new version stays in quarantine for "
                "retention.quarantine_days: `sluice datasets ENV` lists it, "
                "`sluice show ENV DATASET --version V` shows its rows",
        )
        self.audits = audits
        self.skipped = list(skipped or [])


@dataclass
class DeployOutcome:
    env: str
    release_id: str
    deployment_id: int
    plan: DeployPlan
    versions: dict[str, str] = field(default_factory=dict)
    audits: list[AuditResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # jobs downstream of a failed audit
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "release": self.release_id,
                "deployment": self.deployment_id, "plan": self.plan.to_dict(),
                "new_versions": self.versions, "rows": self.rows,
                "audits": [a.summary() for a in self.audits], "skipped": self.skipped}


def new_version_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("v%Y%m%d%H%M%S") + "_" + secrets.token_hex(3)


def no_progress(step: str, status: str) -> None:
    """The default progress callback: report nothing."""


def plan_deploy(ws: Workspace, env: str, manifest: Manifest, *, force_all: bool = False,
                components: bool = False, read_only: bool = False,
                only: frozenset[str] | None = None) -> tuple[DeployPlan, Any, Any]:
    """The plan of deploying ``manifest`` to ``env`` (installs the code, changes nothing).
    With ``components``, what would change in the target's stacks, jobs, functions and
    workflows too (on AWS: change sets and reads). With ``read_only`` the release is only
    staged locally, not installed in the environment (``sluice plan``)."""
    cfg_ws = ws.config()
    target = ws.target(env, cfg_ws)
    release_dir = (target.stage_release if read_only else target.install_release)(
        ws.artifacts, manifest)
    cfg = load_project(release_dir, environment=env)
    graph = build_graph(release_dir, cfg, env)
    live = ws.state.live(env)
    live_cfg = None
    if live is not None:  # from the verified release, even when its folder is missing here
        from sluice.flow.decision import release_config, verified_manifest

        live_cfg, _ = release_config(ws, env, verified_manifest(ws, env, live.release_id))
    params = dict(cfg.environment(env).parameters)
    plan = make_plan(env, manifest.id, graph, target, params,
                     live.release_id if live else None, live_cfg, force_all=force_all,
                     only=only)
    if (release_dir / MIGRATIONS_FOLDER).is_dir():
        from sluice.migrations import plan as migration_plan
        from sluice.migrations import project_scripts, session_for

        plan.migrations = migration_plan(project_scripts(release_dir), session_for(target),
                                         cfg.migrations_dialect).to_dict()
    deployer = target.components()
    if components and deployer is not None:
        plan.components = [c.to_dict() for c in deployer.plan(cfg, release_dir)]
    return plan, graph, release_dir


def deploy(ws: Workspace, env: str, release_id: str, *, kind: str = "deploy",
           actor: str, wait: float = 0.0, force_all: bool = False,
           on_step: Step = no_progress, sample_limit: int = 20,
           source: str | None = None, only: frozenset[str] | None = None) -> DeployOutcome:
    """Deploy a release to an environment with write-audit-publish. Raises on failure.

    ``kind`` is ``deploy``, ``promote`` (from ``source``) or ``run`` (with ``only``, of those
    jobs alone: a workflow's Glue task); the gates of ``env``
    (:mod:`sluice.flow.decision`) are decided before waiting for the lock, so a refusal
    costs nothing, and again under it, so a decision taken meanwhile counts.
    """
    from sluice.flow.decision import GateRequest, decide_gates

    if kind not in ("deploy", "promote", "run"):
        raise SluiceError(f"unknown deployment kind {kind!r}")
    request = GateRequest(kind, env, release_id, actor, source)  # type: ignore[arg-type]
    first = decide_gates(ws, request)
    if kind == "promote":  # only once the gates let it start: a refusal is gate_refused
        ws.state.event("promotion_started", env=env, actor=actor, release_id=first.release_id,
                       payload={"from": source})
    on_step("verify", "done")
    with spark_driver.shared():  # every Spark job of this deployment: one Spark start
        return _deploy_gated(ws, env, request, kind, wait, force_all, on_step, sample_limit,
                             only)


def _deploy_gated(ws: Workspace, env: str, request: GateRequest, kind: str, wait: float,
                  force_all: bool, on_step: Step, sample_limit: int,
                  only: frozenset[str] | None = None) -> DeployOutcome:
    from sluice.flow.decision import decide_gates

    state = ws.state
    owner = ws.owner()
    acquire_env_lock(ws, env, owner, wait=wait)
    try:
        recover(ws, env, on_step=on_step)
        ensure_in_sync(ws, env)
        decision = decide_gates(ws, request)
        on_step("gates", "done")
        dep = state.start_deployment(env, decision.release_id, kind, request.actor)
        try:
            return _deploy_locked(ws, env, decision.manifest, dep, force_all, on_step,
                                  sample_limit, decision, only)
        except BaseException as exc:
            if _published(ws, env, dep):  # only bookkeeping was left: it is live, say so
                _complete(ws, env, dep, decision, f"completed although {_what(exc)} after "
                          "publishing")
                raise
            undo_deployment(ws, env, dep, exc)
            if isinstance(exc, JobError) and exc.advice is None:
                exc.advice = exc.tip
            if isinstance(exc, (JobError, AuditFailed)):
                exc.tip = reproduce_tip(exc, env, decision.release_id, kind)
            raise
    finally:
        release_env_lock(ws, env, owner)


def reproduce_tip(exc: SluiceError, env: str, release_id: str, kind: str) -> str:
    """The command that runs this very deployment again: the same release to the same
    environment (``sluice run`` would take whatever is live, not what failed)."""
    again = f"sluice run {env}" if kind == "run" else f"sluice deploy {env} --release {release_id}"
    # the job's own advice first (what to write where), when it has some
    what = (exc.advice if isinstance(exc, JobError) else None) or (
        "fix the data or the job" if isinstance(exc, AuditFailed) else "fix the job")
    return (f"{what}; `{again} --debug` reproduces this deployment (the environment still "
            "serves its previous data)")


def _deploy_locked(ws: Workspace, env: str, manifest: Manifest, dep: int, force_all: bool,
                   on_step: Step, sample_limit: int, decision: GateDecision,
                   only: frozenset[str] | None = None) -> DeployOutcome:
    state = ws.state
    kill_at = os.environ.get(KILL_AT_VAR)  # test hook, read once: see KILL_AT_VAR

    def step(name: str, status: str, detail: dict[str, Any] | None = None) -> None:
        state.step(dep, name, status, detail)
        if kill_at is not None and kill_at == f"{name}:{status}":
            os.kill(os.getpid(), signal.SIGKILL)
        on_step(name, status)

    step("install", "started")
    plan, graph, release_dir = plan_deploy(ws, env, manifest, force_all=force_all, only=only)
    step("install", "done", {"release_dir": str(release_dir)})
    step("plan", "done", plan.to_dict())
    decision.check_plan(ws, plan.contract_changes, plan.migrations)
    target = ws.target(env)
    cfg = graph.config
    if plan.migrations.get("pending") or plan.migrations.get("problems"):
        _migrate(ws, env, dep, release_dir, cfg, step)
    params = dict(cfg.environment(env).parameters)
    deployer = target.components()
    catalog = target.catalog()
    new_versions: dict[str, str] = {}
    outcome = DeployOutcome(env, manifest.id, dep, plan)
    resolver = Resolver(cfg, target, new_versions, catalog)
    history = MetricHistory(ws.home / "state.db")
    rule_params = {**builtins(env, cfg.project), **params}  # ${name} in rules, as in SQL

    def audit_one(dataset: str, version: str, detail: dict[str, Any] | None = None) -> bool:
        step(f"audit:{dataset}", "started", detail)
        table = target.version_table(dataset, version).replace('"', "")
        audit = audit_version(cfg, release_dir, target.engine(), dataset, version, table,
                              history, sample_limit, params=rule_params)
        outcome.audits.append(audit)
        state.record_audit(AuditRecord(dep, dataset, version, audit.passed, audit.summary()))
        if not audit.passed and detail is None:  # a new version (not a live one re-audited)
            _quarantine(state, env, dep, dataset, version, plan.effective, graph, audit)
        step(f"audit:{dataset}", "done" if audit.passed else "failed")
        return audit.passed

    try:
        # each job's outputs are audited as soon as it has run; the jobs downstream of a
        # failed audit are skipped (they would only compute from data that cannot publish)
        blocked: set[str] = set()
        # live versions whose rules or contract changed pass the release's gate first: the
        # release must not go live over data it would refuse (and this needs no computing)
        for item in plan.reaudit:
            if not audit_one(item.dataset, item.version,
                             {"version": item.version, "reaudit": item.reason}):
                blocked.add(item.dataset)
        for job in plan.recompute:
            node = graph.jobs[job]
            if blocked.intersection(node.inputs):
                blocked.update(node.outputs)
                outcome.skipped.append(job)
                for d in node.outputs:
                    state.record_job_run(JobRunRecord(dep, job, d, "", JobRunStatus.SKIPPED,
                                                      0, 0.0, "an upstream audit failed"))
                step(f"run:{job}", "skipped")
                continue
            result = _run_job(state, step, node, cfg, release_dir, target, resolver, params,
                              plan.effective[job], dep, on_step)
            new_versions.update(result.versions)
            outcome.rows.update(result.rows)
            for dataset, version in result.versions.items():
                if not audit_one(dataset, version):
                    blocked.add(dataset)
        outcome.versions = dict(new_versions)
        if any(not a.passed for a in outcome.audits):
            raise AuditFailed(outcome.audits, outcome.skipped)
        if deployer is not None:  # stacks, Glue jobs, functions, workflows: just before publish
            step("components", "started")
            landed = deployer.apply(
                cfg, release_dir, lambda name, detail: step(name, "done", detail),
                on_event=lambda line: on_step(f"stack {line}", "event"))  # streamed
            step("components", "done", {"changed": [f"{c.kind}:{c.name}" for c in landed
                                                    if c.action != "none"]})
        step("publish", "started", {"versions": new_versions})
        # datasets no job of this release writes any more leave the catalog with it
        kept = {d: v for d, v in catalog.items() if d in graph.producers}
        live_versions = {**kept, **new_versions}
        target.publish(live_versions, exact=True)
        step("publish", "done")
        target.activate_release(manifest.id)
        step("activate", "done")
        state.publish(env, manifest.id, live_versions, dep)
        # only now is the publish final (a failure or crash before this is rolled back): what
        # the published glue runs read is done; a failure from here on completes the
        # deployment (deploy()), a crash is completed by recover()
        glue_bookmarks.commit(target, new_versions)
        from sluice.flow.decision import record_protection

        record_protection(ws, decision, dep)
        reaudited = {(r.dataset, r.version) for r in plan.reaudit}
        for audit in outcome.audits:
            if (audit.dataset, audit.version) in reaudited:
                continue  # its data is in the history already: once per published version
            metrics: dict[str, float | None] = {}
            for res in (audit.contract, audit.rules):
                if res is None:
                    continue
                metrics.update(res.analyzer_metrics)
                for r in res.results:
                    metrics.update(r.metrics)
            history.record(audit.dataset, f"{env}:{dep}", metrics)
    finally:
        history.close()
    state.finish_deployment(dep, "succeeded", f"{len(new_versions)} new versions")
    state.event("published", env=env, release_id=manifest.id,
                actor=state.get_deployment(dep).actor,
                payload={"deployment": dep, "versions": new_versions})
    ws.notify(env, "published", release=manifest.id, deployment=dep,
              actor=state.get_deployment(dep).actor, versions=new_versions)
    return outcome


def _quarantine(state: StateStore, env: str, dep: int, dataset: str, version: str,
                effective: dict[str, str], graph: ProjectGraph, audit: AuditResult) -> None:
    """Keep a version its audit refused, for inspection (``sluice show/query --version``);
    recorded before the failure undoes the deployment, so :func:`_restore` keeps it (and a
    crash before the undo leaves it recorded too). It is never published: plans reuse only
    published versions."""
    job = graph.producers.get(dataset)
    state.record_quarantine(QuarantineRecord(
        env, dataset, version, dep, effective.get(job, "") if job else "",
        "; ".join(audit.failures()[:5])))


def _run_job(state: StateStore, step: Callable[[str, str, dict[str, Any] | None], None],
             node: JobNode, cfg: ProjectConfig, release_dir: Path, target: Target,
             resolver: Resolver, params: dict[str, str], fingerprint: str,
             dep: int, on_step: Step = no_progress) -> JobResult:
    """Run one job into a new version of each of its outputs, journaled and recorded; a
    PySpark job's Spark status reaches ``on_step`` as ``("run:JOB: STATUS", "progress")``."""
    version = new_version_id()
    step(f"run:{node.name}", "started", {"version": version, "outputs": list(node.outputs)})
    runner = target.runner_for(node.type) or (
        run_sql_job if node.type == "sql" else run_python_job)
    if node.type in ("pyspark", "glue") and runner is run_python_job:
        from sluice.deploy.glue_jobs import run_glue_job
        from sluice.deploy.spark_jobs import run_pyspark_job

        runner = functools.partial(
            run_glue_job if node.type == "glue" else run_pyspark_job,
            on_progress=lambda line: on_step(f"run:{node.name}: {line}", "progress"))
    try:
        result = runner(node, cfg, release_dir, target, resolver, params, version, fingerprint)
    except SluiceError as exc:
        state.record_job_run(JobRunRecord(dep, node.name, ",".join(node.outputs), version,
                                          JobRunStatus.FAILED, 0, 0.0, exc.message))
        raise
    for d, v in result.versions.items():
        state.record_job_run(JobRunRecord(dep, node.name, d, v, JobRunStatus.SUCCEEDED,
                                          result.rows.get(d, 0), result.seconds, ""))
    step(f"run:{node.name}", "done", {"rows": result.rows})
    return result


def _migrate(ws: Workspace, env: str, dep: int, release_dir: Path, cfg: ProjectConfig,
             step: Callable[..., None]) -> None:
    """Apply the release's pending schema migrations before any job runs (journaled, so a
    failed deploy can undo them)."""
    from sluice.migrations import apply, project_scripts, session_for

    step("migrate", "started")

    def journal(script: Script) -> None:  # each one as it commits: a failure or crash later
        step(f"migrate:{script.name}", "done", {"version": script.version})  # can undo it

    applied = apply(project_scripts(release_dir), session_for(ws.target(env)),
                    cfg.migrations_dialect, ws.state.get_deployment(dep).actor,
                    on_applied=journal)
    step("migrate", "done", {"versions": [s.version for s in applied if s.version],
                             "scripts": [s.name for s in applied]})


def _undo_migrations(ws: Workspace, env: str, dep: int) -> str:
    """Undo the versions deployment ``dep`` applied; '' or what could not be undone."""
    steps = ws.state.steps(dep)
    installed = [s for s in steps if s.step == "install" and s.status.value == "done"]
    versions = [str(s.detail["version"]) for s in steps
                if s.step.startswith("migrate:") and s.status.value == "done"
                and s.detail.get("version")]
    if not versions or not installed:
        return ""
    # the U scripts come from the verified release, not from a folder anyone could edit
    from sluice.flow.decision import release_config, verified_manifest
    from sluice.migrations import MigrationError, project_scripts, session_for, undo_migrations

    record = ws.state.get_deployment(dep)
    cfg, release_dir = release_config(ws, env, verified_manifest(ws, env, record.release_id))
    try:
        undo_migrations(project_scripts(release_dir), session_for(ws.target(env)),
                        cfg.migrations_dialect, "sluice (automatic rollback)",
                        versions=versions)
    except MigrationError as exc:
        undone = f" (undone: {', '.join(exc.undone)})" if exc.undone else ""
        return f"; its migrations {', '.join(versions)} stay applied{undone}: {exc.message}"
    return f"; migrations {', '.join(reversed(versions))} were undone"


def component_records(steps: list[StepRecord]) -> dict[str, dict[str, Any]]:
    """The ``component:<kind>:<name>`` steps of a deployment journal, by step name."""
    return {s.step: dict(s.detail or {}) for s in steps
            if s.step.startswith("component:") and s.status.value == "done"}


def _undo_components(ws: Workspace, env: str, dep: int) -> str:
    """Put the components deployment ``dep`` changed back as the live release has them."""
    deployer = ws.target(env).components()
    # once the components step started, any of them may have changed (a stack mid-update, a
    # canary cut short): make them all what the live release has
    if deployer is None or not any(s.step == "components" for s in ws.state.steps(dep)):
        return ""
    live = ws.state.live(env)
    if live is None:
        return "; the components it created stay (nothing was live before it)"
    roll_components_to(ws, env, live, lambda name, detail: None)
    return "; its components were put back"


def roll_components_to(ws: Workspace, env: str, goal: LiveState,
                       journal: Callable[[str, dict[str, Any]], object]) -> None:
    """Make ``env``'s components what they were when ``goal`` was live: aliases to the
    versions its deployment journaled, the rest re-applied from its release."""
    target = ws.target(env)
    deployer = target.components()
    if deployer is None:
        return
    goal_dir = target.release_dir(goal.release_id)
    pinned = component_records(ws.state.steps(goal.deployment_id)) \
        if goal.deployment_id is not None else {}
    deployer.roll_to(load_project(goal_dir, environment=env), goal_dir, pinned, journal)


def undo_deployment(ws: Workspace, env: str, dep: int, exc: BaseException) -> None:
    """Leave the environment exactly as it was before deployment ``dep``."""
    state = ws.state
    message = exc.message if isinstance(exc, SluiceError) else f"{type(exc).__name__}: {exc}"
    try:
        try:
            message += _undo_migrations(ws, env, dep)
        except Exception as undo_exc:  # never skip restoring the data because of it
            message += f"; undoing its migrations failed: {undo_exc}"
        try:
            message += _undo_components(ws, env, dep)
        except Exception as undo_exc:  # nor because of this
            message += f"; putting its components back failed: {undo_exc}"
        _restore(ws, env, dep)
    finally:
        state.finish_deployment(dep, "failed", message)
        record = state.get_deployment(dep)
        state.event("deploy_failed", env=env, actor=record.actor, release_id=record.release_id,
                    payload={"deployment": dep, "reason": message})
        ws.notify(env, "deploy_failed", release=record.release_id, deployment=dep,
                  actor=record.actor, reason=message)
        if isinstance(exc, AuditFailed):
            ws.notify(env, "audit_failed", release=record.release_id, deployment=dep,
                      actor=record.actor, failed=failed_audits(exc.audits),
                      skipped=exc.skipped)


def failed_audits(audits: list[AuditResult]) -> list[dict[str, Any]]:
    """The failed audits of a deployment, for a notification: each dataset's version, its
    contract problems and failing rules (the rule as written, where, why)."""
    return [{"dataset": a.dataset, "version": a.version,
             "contract_problems": list(a.contract_problems),
             "rules": [{"rule": r.rule, "location": r.location, "message": r.message}
                       for r in a.failed_rules()]}
            for a in audits if not a.passed]


def _restore(ws: Workspace, env: str, dep: int) -> None:
    state = ws.state
    target = ws.target(env)
    live = state.live(env)
    if live is not None:
        # publish may have happened before the state store recorded it: re-point to the
        # recorded live state (idempotent), and make its release current again
        if target.catalog() != live.versions:
            target.publish(live.versions, exact=True)
        if target.current_release() != live.release_id and target.release_dir(
                live.release_id).is_dir():
            target.activate_release(live.release_id)
    elif target.catalog():
        # a first deploy interrupted after publishing: nothing was live before it
        target.publish({}, exact=True)
    published = set(target.catalog().items())
    # versions an audit refused stay, in quarantine, until `sluice gc` drops them
    published |= {(q.dataset, q.version) for q in state.quarantined(env)}
    # every job run is journaled as `run:<job>` started (with its version and outputs) before
    # it writes anything, so the journal alone names every version this deployment made
    for s in state.steps(dep):
        if s.step.startswith("run:") and s.status == "started" and s.detail:
            version = s.detail.get("version")
            for d in s.detail.get("outputs", []):
                if version and (d, version) not in published and any(
                        v.version == version for v in target.versions(d)):
                    target.drop_version(d, version)


def recover(ws: Workspace, env: str, on_step: Step = no_progress) -> list[int]:
    """Finish deployments of ``env`` that a crash left unfinished. Call under the lock.

    One that crashed before the state store recorded its publish is rolled back; one that
    crashed after it (only bookkeeping was left) is live, so it is completed as succeeded.
    """
    done = []
    for dep in ws.state.unfinished_deployments(env):
        live = ws.state.live(env)
        note = ""
        if live is None or live.deployment_id != dep.id:
            try:  # it never published: the migrations it applied go too
                note = _undo_migrations(ws, env, dep.id)
            except Exception as exc:  # recovery must still restore the data
                note = f"; undoing its migrations failed: {exc}"
            try:  # and the components it changed
                note += _undo_components(ws, env, dep.id)
            except Exception as exc:
                note += f"; putting its components back failed: {exc}"
        _restore(ws, env, dep.id)
        if _published(ws, env, dep.id):
            _complete(ws, env, dep.id, None, "interrupted after publishing; completed on "
                      "recovery")
            outcome = "completed"
        else:
            ws.state.finish_deployment(dep.id, "rolled_back",
                                       "interrupted; rolled back on recovery" + note)
            outcome = "rolled_back"
        ws.state.event("recovered", env=env, release_id=dep.release_id,
                       payload={"deployment": dep.id, "outcome": outcome})
        on_step(f"recover:{dep.id}", "done")
        done.append(dep.id)
    return done


def _published(ws: Workspace, env: str, dep: int) -> bool:
    live = ws.state.live(env)
    return live is not None and live.deployment_id == dep


def _what(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "it was interrupted"
    message = exc.message if isinstance(exc, SluiceError) else f"{type(exc).__name__}: {exc}"
    return f"this failed: {message}"


def _complete(ws: Workspace, env: str, dep: int, decision: GateDecision | None,
              note: str) -> None:
    """Finish a deployment the state store has published: its glue runs' bookmarks are
    committed (what they read is live) and, when its gate decision is known, the rules it let
    in recorded; then it is a success, with ``note`` saying what happened."""
    live = ws.state.live(env)
    problems = []
    try:
        glue_bookmarks.commit(ws.target(env), live.versions if live else {})
    except Exception as exc:  # the deployment is live whatever happens here
        problems.append(f"committing its Glue bookmarks failed: {exc}")
    if decision is not None:
        from sluice.flow.decision import record_protection

        try:
            record_protection(ws, decision, dep)
        except Exception as exc:
            problems.append(f"recording its protection rules failed: {exc}")
    ws.state.finish_deployment(dep, "succeeded", "; ".join([note, *problems]))


def acquire_env_lock(ws: Workspace, env: str, owner: str, *, wait: float = 0.0) -> LockRecord:
    """Take ``env``'s lock, first taking over one whose owner died on this host.

    A SIGKILLed or crashed deploy cannot release its lock; instead of blocking the
    environment until the lock expires, a lock held by a dead process of this host is
    released (a compare-and-delete on its owner, so at most one taker wins) and logged.
    """
    state = ws.state
    deadline = time.monotonic() + wait
    holder = state.current_lock(env)
    if holder is not None and (pid := dead_local_owner(holder.owner)) is not None:
        try:
            if state.release_lock(env, holder.owner):
                state.event(TAKEOVER_EVENT, env=env, actor=owner,
                            payload={"previous_owner": holder.owner,
                                     "reason": f"process {pid} is dead"})
        except LockError:
            pass  # someone else took it over first: queue behind them like anyone else
    record = state.acquire_lock(env, owner, wait_seconds=wait)
    try:  # a remote target's own lock: machines that do not share this state store
        target = ws.target(env)
        target.acquire_lock(owner)
    except BaseException:
        state.release_lock(env, owner)
        raise
    # what is left of --wait also covers a warehouse file another process holds open
    target.open_wait = max(0.0, deadline - time.monotonic())
    return record


def release_env_lock(ws: Workspace, env: str, owner: str) -> None:
    """Release both locks taken by :func:`acquire_env_lock`, closing the warehouse first so
    that whoever queued behind the lock can open it at once."""
    target = ws.target(env)
    target.open_wait = 0.0
    try:
        if not target.capabilities.remote:  # a remote target's engine is a private cache
            target.close()
    finally:
        try:
            target.release_lock(owner)
        finally:
            ws.state.release_lock(env, owner)


def ensure_in_sync(ws: Workspace, env: str) -> None:
    """Refuse to act on a remote environment that this state store has not seen change: a
    restore or a gc from a stale view would unpublish or delete another machine's work."""
    target = ws.target(env)
    if not target.capabilities.remote:
        return
    live = ws.state.live(env)
    recorded = (live.release_id, live.versions) if live else (None, {})
    actual = (target.current_release(), target.catalog())
    if actual != recorded:
        raise LockError(
            f"{env} serves release {actual[0] or 'nothing'} with other versions than this "
            f"state store records (release {recorded[0] or 'nothing'}): another machine "
            "deployed it",
            tip="deploy to remote environments with a state store every machine shares: "
                "SLUICE_STATE_URL=postgresql://…")


__all__ = ["KILL_AT_VAR", "AuditFailed", "DeployOutcome", "JobError", "acquire_env_lock", "deploy",
           "ensure_in_sync", "plan_deploy", "recover", "release_env_lock", "roll_components_to",
           "undo_deployment"]
