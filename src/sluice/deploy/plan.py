"""What a deploy would change in an environment: jobs, datasets to recompute, contracts,
live versions to re-audit.

Plans are data: ``sluice plan`` prints one, ``sluice deploy`` executes one.

Rules and contracts are code: a dataset whose DQDL rules (as substituted for the environment)
or contract differ from the live release's is re-audited with the release's gate before
anything is published, unless it is recomputed anyway (a new version is always audited). A
rules-only change therefore costs an audit, never a recomputation; a contract change is part of
the job's fingerprint and recomputes it (see :mod:`sluice.project.graph`), so the re-audit is
what covers it only when that does not happen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from sluice.config import ProjectConfig, builtins
from sluice.project.contracts import ContractChange, contract_changes
from sluice.project.graph import ProjectGraph
from sluice.project.rules import gate_digests
from sluice.secrecy import keyed_params
from sluice.targets.base import Target

JobStatus = Literal["added", "changed", "unchanged", "removed", "forced"]
ReauditReason = Literal["rules changed", "contract changed", "rules and contract changed"]


@dataclass(frozen=True)
class JobChange:
    job: str
    status: JobStatus
    outputs: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class Reaudit:
    """A live version the release keeps but audits with its own (changed) rules/contract."""

    dataset: str
    version: str
    reason: ReauditReason


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
    #: live versions kept as they are but audited again: their rules or contract changed
    reaudit: list[Reaudit] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        return [d for j in self.jobs if j.job in self.recompute for d in j.outputs]

    @property
    def breaking(self) -> list[ContractChange]:
        return [c for c in self.contract_changes if c.breaking]

    @property
    def empty(self) -> bool:
        return (not self.recompute and all(j.status == "unchanged" for j in self.jobs)
                and not self.migrations.get("pending") and not self.reaudit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env, "release": self.release_id, "live_release": self.live_release,
            "jobs": [asdict(j) for j in self.jobs], "recompute": self.recompute,
            "datasets": self.datasets,
            "contract_changes": [asdict(c) for c in self.contract_changes],
            "breaking": bool(self.breaking),
            "migrations": self.migrations,
            "components": self.components,
            "reaudit": [asdict(r) for r in self.reaudit],
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
              live_config: ProjectConfig | None, *, force_all: bool = False,
              only: frozenset[str] | None = None) -> DeployPlan:
    """Compare the release's job fingerprints with the versions published in ``env``. With
    ``only``, those jobs run and no other (a workflow's task starting one job)."""
    plan = DeployPlan(env, release_id, live_release)
    catalog = target.catalog()
    registry = {(v.dataset, v.version): v.fingerprint for v in target.versions()}
    for name in graph.order:
        node = graph.jobs[name]
        eff = effective_fingerprint(graph.fingerprints[name], params)
        plan.effective[name] = eff
        published = [registry.get((d, catalog[d])) if d in catalog else None
                     for d in node.outputs]
        status: JobStatus
        if only is not None:
            if name not in only:
                plan.jobs.append(JobChange(name, "unchanged", node.outputs, ""))
                continue
            status, reason = "forced", "a workflow's task runs it"
        elif force_all:
            status, reason = "forced", "a run recomputes every job"
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
        if live_release is not None:
            plan.reaudit = _reaudits(env, graph, target, params, catalog, set(plan.datasets),
                                     target.release_dir(live_release), live_config)
    return plan


def _reaudits(env: str, graph: ProjectGraph, target: Target, params: Mapping[str, str],
              catalog: Mapping[str, str], recomputed: set[str], live_dir: Path,
              live_config: ProjectConfig) -> list[Reaudit]:
    """Live versions kept by the release whose gate (rules, contract) is not the live one's.

    The live release's gate is what its live versions passed: every deploy audits the versions
    it publishes with the release it activates (new ones, and these re-audits).
    """
    cfg = graph.config
    new_params = {**builtins(env, cfg.project), **params}
    live_params = {**builtins(env, live_config.project),
                   **(live_config.environments[env].parameters
                      if env in live_config.environments else params)}
    out: list[Reaudit] = []
    for name in graph.order:
        for d in graph.jobs[name].outputs:
            if d in recomputed or d not in catalog:
                continue
            new_rules, new_contract = gate_digests(graph.root, cfg, d, new_params)
            old_rules, old_contract = gate_digests(live_dir, live_config, d, live_params)
            rules = new_rules is None or old_rules is None or new_rules != old_rules
            contract = new_contract != old_contract
            if rules or contract:
                reason: ReauditReason = ("rules and contract changed" if rules and contract
                                         else "rules changed" if rules else "contract changed")
                out.append(Reaudit(d, catalog[d], reason))
    return out
