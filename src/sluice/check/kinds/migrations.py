"""Migrations in CI: names and versions are valid (no duplicates), every script parses and
translates for the engines sluice runs it on (what the translation changed is listed as
notes), all of them run on scratch engines in order (:mod:`.migrations_exec`), and no script
that a deployment already applied has been edited since (its digest differs from the one in
that release)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.kinds.contracts import state_url
from sluice.check.model import Finding
from sluice.config import ProjectConfig
from sluice.errors import SluiceError
from sluice.migrations.scripts import FOLDER
from sluice.release.artifacts import ArtifactStore

ENGINES = ("duckdb", "postgres")


class MigrationsCheck:
    kind = "migrations"
    description = ("migration scripts: names, parsing and translation, executed on scratch "
                   "engines, no edit of applied ones")

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        files = tuple(f for f in ctx.files if f.startswith(FOLDER + "/"))
        if cfg is None or not files:
            return []
        return [Unit("migrations", FOLDER, _runner(ctx, cfg), files=files, always=True,
                     cacheable=False)]  # what was deployed is not a file: compare each time


def _runner(ctx: CheckContext, cfg: ProjectConfig) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        from sluice.check.kinds.integration import samples_folder
        from sluice.check.kinds.migrations_exec import execution_findings
        from sluice.migrations import project_scripts
        from sluice.migrations.translate import translate

        try:
            scripts = project_scripts(ctx.root)
        except SluiceError as exc:
            return findings_outcome([Finding(line.split(": ", 1)[-1], line.split(": ", 1)[0])
                                     for line in exc.message.splitlines()])
        findings: list[Finding] = []
        deployed = _deployed_manifests(ctx)
        samples = samples_folder(ctx, cfg)
        objects = ctx.root / samples if samples else None  # what a COPY reads in the check
        for s in scripts.all():
            rel = f"{FOLDER}/{s.path.relative_to(ctx.root / FOLDER).as_posix()}"
            written_in = (sorted(s.engines)[0] if s.verbatim and s.engines
                          else cfg.migrations_dialect)
            findings += _parse_findings(s.text(), written_in, rel)
            for engine in ENGINES:
                if not s.runs_on(engine):
                    continue
                t = translate(s.text(), cfg.migrations_dialect, engine, verbatim=s.verbatim,
                              objects=objects)
                for problem in t.problems:
                    findings.append(Finding(f"{problem} ({engine})", rel, _line(problem),
                                            tip="mark it `-- sluice: engine=...`, or rewrite it"))
                findings += [Finding(f"{note.split(': ', 1)[-1]} ({engine})", rel, _line(note),
                                     severity="info") for note in t.notes]
            if s.kind == "versioned":
                findings += _edited_after_deploy(ctx, rel, deployed)
        findings += execution_findings(cfg, scripts, objects)
        n = len(scripts.versioned)
        return findings_outcome(findings, f"{n} versioned, {len(scripts.undo)} undo, "
                                          f"{len(scripts.repeatable)} repeatable")

    return run


def _line(text: str) -> int | None:
    """N of a translation problem or note that starts ``line N: ``."""
    head = text.split(":")[0]
    return int(head.removeprefix("line ")) if head.startswith("line ") else None


def _parse_findings(text: str, dialect: str, rel: str) -> list[Finding]:
    """Every statement parses in the dialect it is written in (even when it runs as is)."""
    import logging

    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    from sluice.migrations.redshift import classify
    from sluice.migrations.translate import split_statements

    out: list[Finding] = []
    log = logging.getLogger("sqlglot")
    level = log.level
    log.setLevel(logging.ERROR)  # its "falling back to a Command" warning becomes a finding
    try:
        for stmt in split_statements(text, dialect):
            try:
                trees = sqlglot.parse(stmt.text, read=dialect)
            except ParseError as exc:
                err = exc.errors[0] if exc.errors else {}
                out.append(Finding(f"does not parse as {dialect}: "
                                   f"{err.get('description', str(exc).splitlines()[0])}", rel,
                                   stmt.line + max(int(err.get("line", 1)), 1) - 1,
                                   err.get("col")))
                continue
            if any(isinstance(t, exp.Command) for t in trees) and not (
                    dialect == "redshift" and classify(stmt.text) is not None):
                out.append(Finding(f"sqlglot does not understand this {dialect} statement; it "
                                   "is neither checked nor translated", rel, stmt.line,
                                   severity="warning"))
    finally:
        log.setLevel(level)
    return out


def _edited_after_deploy(ctx: CheckContext, rel: str,
                         deployed: dict[str, dict[str, str]]) -> list[Finding]:
    """Compared as Flyway does: by checksum, so a CRLF/LF or BOM change is not an edit."""
    from sluice.migrations.scripts import flyway_checksum

    digest = ctx.files.get(rel)
    now = flyway_checksum((ctx.root / rel).read_bytes())
    store = ArtifactStore(ctx.home / "artifacts")
    out: list[Finding] = []
    for release_id, files in deployed.items():
        before = files.get(rel)
        if before is None or before == digest or not store.has(before):
            continue
        if flyway_checksum(store.read(before)) != now:
            out.append(Finding(
                f"{rel} was edited after release {release_id} applied it", rel, 1,
                tip="revert the edit and put the change in a new version; a deliberate "
                    "change needs `sluice migrate repair ENV`"))
            break
    return out


def _deployed_manifests(ctx: CheckContext) -> dict[str, dict[str, str]]:
    """File digests of every release that a deployment here completed."""
    found: dict[str, dict[str, str]] = {}
    if os.environ.get("SLUICE_STATE_URL") or (ctx.home / "state.db").is_file():
        from sluice.state import StateStore

        store = StateStore(state_url(ctx))
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
