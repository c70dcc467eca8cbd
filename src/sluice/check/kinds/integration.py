"""Integration: the candidate release deployed to a local environment of its own, loaded
with the project's sample data, every job run and audited (contracts and DQDL rules).

The environment lives in ``.sluice/check/integration`` (its own state store, artifact store
and DuckDB warehouse, whatever the project's real targets are). It is kept between checks so
a one-job change recomputes that job and its downstream only, as a deploy does; changed
sample data recomputes everything, and ``--no-cache`` tears it down first.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from typing import Any

from sluice.check.base import Unit, UnitOutcome, findings_outcome, skipped
from sluice.check.context import CheckContext
from sluice.check.kinds.project import error_findings
from sluice.check.model import Finding
from sluice.config import ProjectConfig
from sluice.errors import SluiceError
from sluice.secrecy import private_dir

ACTOR = "sluice check"


def samples_folder(ctx: CheckContext, cfg: ProjectConfig) -> str | None:
    if cfg.checks.samples:
        return cfg.checks.samples
    return "data" if (ctx.root / "data").is_dir() else None


class IntegrationCheck:
    kind = "integration"
    description = "the release deployed to a throw-away environment with the sample data"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        if cfg is None or not cfg.jobs or not cfg.environments:
            return []
        samples = samples_folder(ctx, cfg)

        def run() -> UnitOutcome:
            if samples is None:
                return skipped("no sample data: put it in data/ or set checks.samples")
            return _integrate(ctx, cfg, samples)

        return [Unit("integration", "pipeline", run, files=tuple(ctx.files),
                     nodes=frozenset(cfg.jobs) | frozenset(cfg.datasets))]


def _integrate(ctx: CheckContext, cfg: ProjectConfig, samples: str) -> UnitOutcome:
    # imported here, not at module level: a fully cached check never loads the deployer
    from sluice.deploy.deployer import AuditFailed, JobError, deploy
    from sluice.deploy.glue_bookmarks import folder_of
    from sluice.flow.releases import make_release
    from sluice.project.workspace import Workspace
    from sluice.state import StateStore
    from sluice.targets.base import create_target

    home = ctx.home / "check" / "integration"
    env = cfg.promotion_order()[0]  # its parameters are the ones samples are made for
    # new samples, or edited migrations (their history lives in this environment), start over
    sample_files = {f: d for f, d in ctx.files.items()
                    if f.startswith((samples.rstrip("/") + "/", "migrations/"))}
    digest = hashlib.sha256(json.dumps(sample_files, sort_keys=True).encode()).hexdigest()
    marker = home / "samples.sha256"
    fresh_data = (not ctx.options.use_cache or not marker.is_file()
                  or marker.read_text() != digest)
    if fresh_data and home.exists():
        shutil.rmtree(home)
    objects = home / "envs" / env / "objects"
    private_dir(objects.parent)  # a sluice home like the project's: owner only, every level
    if fresh_data:
        shutil.rmtree(objects, ignore_errors=True)
        shutil.copytree(ctx.root / samples, objects)
    ws = Workspace(ctx.root, home, _state=StateStore(f"sqlite:///{home / 'state.db'}"),
                   silent=True)  # a check of samples is no news for anyone
    ws._targets[env] = create_target("local", env, home)  # never the project's real target
    # every run of a glue job reads all the samples: no bookmark of an earlier check skips them
    bookmarks = folder_of(ws._targets[env])
    if bookmarks is not None:
        shutil.rmtree(bookmarks, ignore_errors=True)
    try:
        manifest, _ = make_release(ws, allow_dirty=True, message="sluice check candidate")
        outcome = deploy(ws, env, manifest.id, actor=ACTOR, force_all=fresh_data)
    except AuditFailed as exc:
        return findings_outcome(_audit_findings(ctx, exc), "audit failed on the sample data")
    except SluiceError as exc:
        if isinstance(exc, JobError):  # its tip names the throwaway release of this run
            exc.tip = (f"{exc.advice or 'fix the job'}, then run  sluice check  again (the "
                       "integration run deploys the work tree on the samples)")
        if isinstance(exc, JobError) and exc.location is not None:  # the job's own file
            path, line = exc.location
            at = f"{path}:{line}" if line is not None else path
            message = exc.message.replace(f" failed at {at}: ", " failed: ", 1)  # said once
            return findings_outcome([Finding(message, path, line, tip=exc.tip or "")])
        return findings_outcome(error_findings(exc) if ":" in exc.message.split("\n")[0]
                                else [Finding(exc.message, tip=exc.tip or "")])
    finally:
        ws.close()
    marker.write_text(digest)
    ran = len(outcome.plan.recompute)
    rows = sum(outcome.rows.values())
    reused = len(outcome.plan.jobs) - ran
    return findings_outcome([], f"{ran}/{len(outcome.plan.jobs)} jobs ran on the samples "
                                f"({rows} rows), {len(outcome.audits)} audits passed"
                                + (f"; {reused} unchanged jobs reused" if reused else ""))


def _audit_findings(ctx: CheckContext, exc: Any) -> list[Finding]:
    """Findings of an AuditFailed: each failing rule at its DQDL line."""
    out: list[Finding] = []
    for audit in exc.audits:
        if audit.passed:
            continue
        for problem in audit.contract_problems:
            path, line, col = ctx.locate("datasets", audit.dataset, "contract")
            out.append(Finding(f"{audit.dataset}: {problem}", path, line, col,
                               tip="fix the job or the contract; the samples break it"))
        for res in (audit.contract, audit.rules):
            if res is None:
                continue
            for r in res.results:
                if r.outcome.value not in {"fail", "error"}:
                    continue
                path, _, rest = r.location.partition(":")
                line_s, _, col_s = rest.partition(":")
                out.append(Finding(
                    f"{audit.dataset}: {r.rule}: {r.message}", path or None,
                    int(line_s) if line_s.isdigit() else None,
                    int(col_s) if col_s.isdigit() else None,
                    tip="the sample data fails this rule: fix the job, the rule or the samples"))
    if exc.skipped:
        out.append(Finding(f"not run (upstream audit failed): {', '.join(exc.skipped)}",
                           severity="warning"))
    return out
