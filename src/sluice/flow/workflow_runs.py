"""``sluice run ENV --workflow NAME``: on AWS, start a deployed workflow (its live alias),
follow the execution to its end, then audit the datasets the environment serves, where they
live, so a run that leaves bad data behind fails the command. On the local target, execute
the live release's definition here (:mod:`sluice.workflows.local`). ``sluice invoke``: one
local invocation of a function."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sluice.config import builtins
from sluice.deploy.audit import AuditResult, audit_version
from sluice.errors import SluiceError
from sluice.flow.decision import GateRequest, decide_gates
from sluice.project.workspace import Workspace, current_actor

if TYPE_CHECKING:
    from sluice.flow.decision import GateDecision
    from sluice.workflows.functions import Invocation
    from sluice.workflows.interpreter import Execution
    from sluice.workflows.local import Project


@dataclass
class WorkflowRun:
    env: str
    workflow: str
    execution: str
    status: str
    error: str = ""
    cause: str = ""
    audits: list[AuditResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "SUCCEEDED" and all(a.passed for a in self.audits)

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "workflow": self.workflow, "execution": self.execution,
                "status": self.status, "error": self.error, "cause": self.cause,
                "passed": self.passed,
                "audits": [{"dataset": a.dataset, "version": a.version, "passed": a.passed,
                            "failures": a.failures()} for a in self.audits]}


def run_workflow(ws: Workspace, env: str, name: str, execution_input: Any = None,
                 **follow: Any) -> WorkflowRun:
    from sluice.targets.aws.target import AwsTarget
    from sluice.targets.aws.workflows import alias_arn, execute

    live = ws.state.live(env)
    if live is None:
        raise SluiceError(f"nothing is live in {env}", tip=f"sluice deploy {env}")
    target = ws.target(env)
    if not isinstance(target, AwsTarget):
        raise SluiceError(f"{env} does not deploy to AWS: it has no workflows to start",
                          tip=f"sluice run {env}  runs the pipeline on the local target")
    # starting the live workflow is a run: the same gates (verified, not rejected)
    decision = decide_gates(ws, GateRequest("run", env, live.release_id, current_actor()))
    release_dir, cfg = decision.release_dir, decision.config
    if name not in cfg.workflows:
        raise SluiceError(f"release {live.release_id} has no workflow {name!r}",
                          tip="workflows: " + (", ".join(sorted(cfg.workflows)) or "none"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    run_name = re.sub(r"[^\w-]", "-", f"sluice-{stamp}-{live.release_id}")[:80]
    payload = json.dumps({"env": env, "release": live.release_id}
                         if execution_input is None else execution_input)
    done = execute(target.aws, alias_arn(target.aws, target.components().resource(cfg, name)),
                   run_name, payload, **follow)
    run = WorkflowRun(env, name, done.arn, done.status, done.error, done.cause)
    ws.state.event("workflow_run", env=env, release_id=live.release_id,
                   payload={"workflow": name, "execution": done.arn, "status": done.status})
    if done.status == "SUCCEEDED":
        engine = target.engine()
        for dataset, version in sorted(target.catalog().items()):
            table = target.version_table(dataset, version).replace('"', "")
            run.audits.append(audit_version(
                cfg, release_dir, engine, dataset, version, table, None,
                params={**builtins(env, cfg.project), **cfg.environment(env).parameters}))
    if not run.passed:
        ws.notify(env, "workflow_failed", workflow=name, execution=done.arn,
                  status=done.status, error=done.error)
    return run


@dataclass
class LocalWorkflowRun:
    """A workflow executed on the local target (:mod:`sluice.workflows.local`)."""

    env: str
    workflow: str
    release: str
    execution: Execution
    seconds: float

    @property
    def passed(self) -> bool:
        return self.execution.status == "SUCCEEDED"

    def to_dict(self) -> dict[str, Any]:
        return {**self.execution.to_dict(), "env": self.env, "workflow": self.workflow,
                "release": self.release, "seconds": round(self.seconds, 3)}


def _live_release(ws: Workspace, env: str, what: str) -> tuple[str, GateDecision]:
    live = ws.state.live(env)
    if live is None:
        raise SluiceError(f"nothing is live in {env}: {what} runs the live release's code",
                          tip=f"sluice deploy {env}")
    decision = decide_gates(ws, GateRequest("run", env, live.release_id, current_actor()))
    return live.release_id, decision


def _project(ws: Workspace, env: str, release_id: str, decision: GateDecision) -> Project:
    from sluice.deploy.deployer import deploy
    from sluice.targets.local.target import LocalTarget
    from sluice.workflows.local import Project

    target = ws.target(env)
    if not isinstance(target, LocalTarget):
        raise SluiceError(f"{env} does not deploy to the local target")

    def run_job(job: str) -> Mapping[str, Any]:
        outcome = deploy(ws, env, release_id, kind="run", actor=current_actor(),
                         only=frozenset({job}))
        return outcome.versions

    return Project(decision.config, decision.release_dir, env, target.objects, run_job)


def run_local_workflow(ws: Workspace, env: str, name: str, execution_input: Any, *,
                       fast_waits: bool = False) -> LocalWorkflowRun:
    """Execute workflow ``name`` of the release live in ``env`` on the local target: its Glue
    tasks run the project's jobs with write-audit-publish, its Lambda tasks the project's
    handlers, other tasks its mocks. ``fast_waits``: Wait states and retry delays take no
    time."""
    import time

    from sluice.workflows.clock import RealClock, VirtualClock
    from sluice.workflows.local import ProjectResources, run_workflow_definition

    release_id, decision = _live_release(ws, env, f"workflow {name}")
    if name not in decision.config.workflows:
        raise SluiceError(f"release {release_id} has no workflow {name!r}",
                          tip="workflows: " + (", ".join(sorted(decision.config.workflows))
                                               or "none"))
    clock = VirtualClock() if fast_waits else RealClock()
    resources = ProjectResources(_project(ws, env, release_id, decision), clock)
    started = time.perf_counter()
    try:
        done = run_workflow_definition(resources.project, name, execution_input, resources,
                                       clock)
    finally:
        resources.close()
    run = LocalWorkflowRun(env, name, release_id, done, time.perf_counter() - started)
    ws.state.event("workflow_run", env=env, release_id=release_id,
                   payload={"workflow": name, "execution": "local", "status": done.status})
    if not run.passed:
        ws.notify(env, "workflow_failed", workflow=name, execution="local",
                  status=done.status, error=done.error)
    return run


def invoke_function(ws: Workspace, env: str, name: str, event: Any) -> Invocation:
    """One invocation of function ``name`` of the release live in ``env``, in a process of its
    own with its environment and timeout, as Lambda would run it."""
    from sluice.workflows.clock import RealClock
    from sluice.workflows.local import ProjectResources

    release_id, decision = _live_release(ws, env, f"function {name}")
    if name not in decision.config.functions:
        raise SluiceError(f"release {release_id} has no function {name!r}",
                          tip="functions: " + (", ".join(sorted(decision.config.functions))
                                               or "none"))
    resources = ProjectResources(_project(ws, env, release_id, decision), RealClock(),
                                 pool_size=1)
    try:
        return resources.invocation(name, event)
    finally:
        resources.close()
