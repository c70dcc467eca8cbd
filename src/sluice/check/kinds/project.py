"""Checks of the project as a whole: its config loads, and its dependency graph is sound
(no cycles, no unknown references, no dataset nobody writes, no source nobody reads)."""

from __future__ import annotations

import re

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.model import Finding
from sluice.config import CONFIG_FILE, ProjectConfig, check_files, substitute
from sluice.config.names import qualify
from sluice.errors import SluiceError
from sluice.project.graph import sql_inputs

_LOCATED = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")


def error_findings(exc: SluiceError) -> list[Finding]:
    """A (possibly multi-problem) located error as one finding per ``file:line:col`` line."""
    out: list[Finding] = []
    for text in exc.message.splitlines():
        m = _LOCATED.match(text)
        if m:
            out.append(Finding(m["msg"], m["path"], int(m["line"]), int(m["col"]),
                               tip=exc.tip or ""))
        elif out and text.startswith(" "):
            if text.strip() and not set(text.strip()) <= {"^", "~"}:  # detail, not a caret
                last = out[-1]
                out[-1] = Finding(f"{last.message} {text.strip()}", last.path, last.line,
                                  last.col, last.severity, last.code, last.tip)
        else:
            out.append(Finding(text, CONFIG_FILE, tip=exc.tip or ""))
    return out


class ConfigCheck:
    kind = "config"
    description = "sluice.yaml validates and every file it names exists"

    def units(self, ctx: CheckContext) -> list[Unit]:
        def run() -> UnitOutcome:
            if ctx.config_error is not None:
                return findings_outcome(error_findings(ctx.config_error))
            assert ctx.config is not None
            try:
                check_files(ctx.config, ctx.root)
            except SluiceError as exc:
                return findings_outcome(error_findings(exc))
            return findings_outcome([], f"{len(ctx.config.jobs)} jobs, "
                                        f"{len(ctx.config.datasets)} datasets")

        return [Unit("config", "sluice.yaml", run, files=(CONFIG_FILE,), always=True,
                     key={"files": sorted(ctx.files)})]


class GraphCheck:
    kind = "graph"
    description = "dependency graph: cycles, unknown references, unwritten and unread datasets"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        if cfg is None:
            return []
        sql_files = tuple(sorted({j.sql for j in cfg.jobs.values() if j.type == "sql"}))
        return [Unit("graph", "project", lambda: findings_outcome(*_graph(ctx, cfg)),
                     files=(CONFIG_FILE, *sql_files), always=True,
                     key={"params": ctx.params})]


def _graph(ctx: CheckContext, cfg: ProjectConfig) -> tuple[list[Finding], str]:
    findings: list[Finding] = []
    known = set(cfg.all_datasets())
    producers: dict[str, str] = {}
    reads: dict[str, set[str]] = {}
    for name, job in cfg.jobs.items():
        for d in cfg.job_outputs(job):
            producers[d] = name
        if job.type == "sql":
            try:
                text = substitute((ctx.root / job.sql).read_text(encoding="utf-8"),
                                  ctx.params, where=job.sql)
                raw = sql_inputs(text, cfg.dialect, where=job.sql)
            except (SluiceError, OSError):
                raw = []  # the sql and config checks report unreadable or broken SQL
            inputs = {_known(t, known) or t for t in raw}
        else:
            inputs = set(job.inputs)
            for i, d in enumerate(job.inputs):
                if d not in known:
                    path, line, col = ctx.locate("jobs", name, "inputs", i)
                    findings.append(Finding(
                        f"job {name} reads {d}, which is neither a source nor a dataset",
                        path, line, col, tip="declare it under sources: or datasets:"))
        reads[name] = inputs & known
    deps = {n: {producers[d] for d in r if d in producers} for n, r in reads.items()}
    cycle = _find_cycle(deps)
    if cycle:
        path, line, col = ctx.locate("jobs", cycle[0])
        findings.append(Finding(f"jobs depend on each other in a cycle: {' -> '.join(cycle)}",
                                path, line, col,
                                tip="a job cannot read, directly or not, what it writes"))
    read_anywhere = set().union(*reads.values()) if reads else set()
    keys = raw_keys(ctx)
    for d in cfg.datasets:
        if d not in producers:
            path, line, col = ctx.locate("datasets", keys.get(d, d))
            findings.append(Finding(f"dataset {d} is declared but no job writes it",
                                    path, line, col,
                                    tip="add a job with it as output, or remove it"))
    for s in cfg.sources:
        if s not in read_anywhere:
            path, line, col = ctx.locate("sources", keys.get(s, s))
            findings.append(Finding(f"source {s} is declared but no job reads it", path, line,
                                    col, severity="warning"))
    return findings, f"{len(cfg.jobs)} jobs, {len(known)} datasets"


def _known(name: str, known: set[str]) -> str | None:
    if name in known:
        return name
    q = qualify(name) if "." not in name else name
    lowered = {k.lower(): k for k in known}
    return lowered.get(q.lower())


def raw_keys(ctx: CheckContext) -> dict[str, str]:
    """Qualified dataset name -> the key as written in sluice.yaml (for locations)."""
    doc = ctx.document
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    out: dict[str, str] = {}
    for section in ("sources", "datasets"):
        block = data.get(section)
        if isinstance(block, dict):
            out.update({qualify(str(k)): str(k) for k in block})
    return out


def _find_cycle(deps: dict[str, set[str]]) -> list[str]:
    """One dependency cycle as [a, b, …, a], or [] when the graph is acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str]:
        state[n] = 1
        stack.append(n)
        for m in sorted(deps.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m):], m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return []

    for n in sorted(deps):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return []
