"""Migrations in CI: names and versions are valid (no duplicates), every script parses and
translates for the engines sluice runs it on, and no script that a deployment already
applied has been edited since (its digest differs from the one in that release)."""

from __future__ import annotations

import json
from collections.abc import Callable

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.model import Finding
from sluice.config import ProjectConfig
from sluice.errors import SluiceError
from sluice.release.artifacts import ArtifactStore

FOLDER = "migrations"
ENGINES = ("duckdb", "postgres")


class MigrationsCheck:
    kind = "migrations"
    description = "migration scripts: names, parsing and translation, no edit of applied ones"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        files = tuple(f for f in ctx.files if f.startswith(FOLDER + "/"))
        if cfg is None or not files:
            return []
        return [Unit("migrations", FOLDER, _runner(ctx, cfg), files=files, always=True,
                     cacheable=False)]  # what was deployed is not a file: compare each time


def _runner(ctx: CheckContext, cfg: ProjectConfig) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        from sluice.migrations import project_scripts
        from sluice.migrations.translate import translate

        try:
            scripts = project_scripts(ctx.root)
        except SluiceError as exc:
            return findings_outcome([Finding(line.split(": ", 1)[-1], line.split(": ", 1)[0])
                                     for line in exc.message.splitlines()])
        findings: list[Finding] = []
        deployed = _deployed_manifests(ctx)
        for s in scripts.all():
            rel = f"{FOLDER}/{s.path.relative_to(ctx.root / FOLDER).as_posix()}"
            for engine in ENGINES:
                if not s.runs_on(engine):
                    continue
                t = translate(s.text(), cfg.migrations_dialect, engine, verbatim=s.verbatim)
                for problem in t.problems:
                    line = int(problem.split(":")[0].removeprefix("line ")) \
                        if problem.startswith("line ") else None
                    findings.append(Finding(f"{problem} ({engine})", rel, line,
                                            tip="mark it `-- sluice: engine=...`, or rewrite it"))
            if s.kind == "versioned":
                findings += _edited_after_deploy(ctx, rel, deployed)
        n = len(scripts.versioned)
        return findings_outcome(findings, f"{n} versioned, {len(scripts.undo)} undo, "
                                          f"{len(scripts.repeatable)} repeatable")

    return run


def _edited_after_deploy(ctx: CheckContext, rel: str,
                         deployed: dict[str, dict[str, str]]) -> list[Finding]:
    digest = ctx.files.get(rel)
    out: list[Finding] = []
    for release_id, files in deployed.items():
        before = files.get(rel)
        if before is not None and before != digest:
            out.append(Finding(
                f"{rel} was edited after release {release_id} applied it", rel, 1,
                tip="revert the edit and put the change in a new version; a deliberate "
                    "change needs `sluice migrate repair ENV`"))
            break
    return out


def _deployed_manifests(ctx: CheckContext) -> dict[str, dict[str, str]]:
    """File digests of every release that a deployment here completed."""
    found: dict[str, dict[str, str]] = {}
    if (ctx.home / "state.db").is_file():
        from sluice.state import StateStore

        store = StateStore(f"sqlite:///{ctx.home / 'state.db'}")
        try:
            ids = {d.release_id for d in store.deployments(limit=10_000)
                   if d.status.value == "succeeded"}
        finally:
            store.close()
        for rid in sorted(ids):
            path = ArtifactStore(ctx.home / "artifacts").release_path(rid)
            try:
                found[rid] = dict(json.loads(path.read_text(encoding="utf-8"))["files"])
            except (OSError, ValueError, KeyError):
                continue
    return found
