"""``sluice run ENV --workflow NAME``: start a deployed workflow (its live alias) on AWS,
follow the execution to its end, then audit the datasets the environment serves, where they
live, so a run that leaves bad data behind fails the command."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sluice.config import builtins
from sluice.deploy.audit import AuditResult, audit_version
from sluice.errors import SluiceError
from sluice.flow.decision import GateRequest, decide_gates
from sluice.project.workspace import Workspace, current_actor


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


def run_workflow(ws: Workspace, env: str, name: str, **follow: Any) -> WorkflowRun:
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
    payload = json.dumps({"env": env, "release": live.release_id})
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
