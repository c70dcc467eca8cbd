"""What a deploy would change in an environment: jobs, datasets to recompute, contracts.

Plans are data: ``sluice plan`` prints one, ``sluice deploy`` executes one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sluice.config import ProjectConfig
from sluice.project.contracts import ContractChange, contract_changes
from sluice.project.graph import ProjectGraph
from sluice.secrecy import keyed_params
from sluice.targets.base import Target

JobStatus = Literal["added", "changed", "unchanged", "removed", "forced"]


@dataclass(frozen=True)
class JobChange:
    job: str
    status: JobStatus
    outputs: tuple[str, ...]
    reason: str = ""


@dataclass
class DeployPlan:
    env: str
    release_id: str
    live_release: str | None
    jobs: list[JobChange] = field(default_factory=list)
    recompute: list[str] = field(default_factory=list)  # jobs to run, in order
    contract_changes: list[ContractChange] = field(default_factory=list)
    effective: dict[str, str] = field(default_factory=dict)  # job -> env fingerprint
    migrations: dict[str, Any] = field(default_factory=dict)  # MigrationPlan.to_dict()
    #: stacks, Glue jobs, functions and workflows (targets that deploy them; `sluice plan`)
    components: list[dict[str, Any]] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        return [d for j in self.jobs if j.job in self.recompute for d in j.outputs]

    @property
    def breaking(self) -> list[ContractChange]:
        return [c for c in self.contract_changes if c.breaking]

    @property
    def empty(self) -> bool:
        return (not self.recompute and all(j.status == "unchanged" for j in self.jobs)
                and not self.migrations.get("pending"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env, "release": self.release_id, "live_release": self.live_release,
            "jobs": [asdict(j) for j in self.jobs], "recompute": self.recompute,
            "datasets": self.datasets,
            "contract_changes": [asdict(c) for c in self.contract_changes],
            "breaking": bool(self.breaking),
            "migrations": self.migrations,
            "components": self.components,
        }


def effective_fingerprint(job_fingerprint: str, params: Mapping[str, str]) -> str:
    """A job's fingerprint in one environment: its code and config plus that env's parameters.

    Secret parameters (secret-looking names, ``SLUICE_ENV_*`` values) enter as their keyed
    hash (:func:`sluice.secrecy.keyed`): a changed secret still recomputes, but the stored
    fingerprint cannot be tested against a dictionary of passwords.
    """
    blob = json.dumps({"job": job_fingerprint,
                       "params": dict(sorted(keyed_params(params).items()))}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def make_plan(env: str, release_id: str, graph: ProjectGraph, target: Target,
              params: Mapping[str, str], live_release: str | None,
              live_config: ProjectConfig | None, *, force_all: bool = False) -> DeployPlan:
    """Compare the release's job fingerprints with the versions published in ``env``."""
    plan = DeployPlan(env, release_id, live_release)
    catalog = target.catalog()
    registry = {(v.dataset, v.version): v.fingerprint for v in target.versions()}
    for name in graph.order:
        node = graph.jobs[name]
        eff = effective_fingerprint(graph.fingerprints[name], params)
        plan.effective[name] = eff
        published = [registry.get((d, catalog[d])) if d in catalog else None
                     for d in node.outputs]
        if force_all:
            status: JobStatus = "forced"
            reason = "a run recomputes every job"
        elif live_config is None or name not in live_config.jobs:
            status, reason = "added", "new job"
        elif all(p == eff for p in published):
            status, reason = "unchanged", ""
        else:
            status, reason = "changed", "code, config, parameters or an upstream changed"
        if status != "unchanged" or any(p is None for p in published):
            if status == "unchanged":
                status, reason = "changed", "its output was never computed here"
            plan.recompute.append(name)
        plan.jobs.append(JobChange(name, status, node.outputs, reason))
    if live_config is not None:
        for name, job in live_config.jobs.items():
            if name not in graph.jobs:
                plan.jobs.append(JobChange(name, "removed", tuple(live_config.job_outputs(job)),
                                           "no longer in the release"))
        plan.contract_changes = contract_changes(live_config, graph.config)
    return plan
