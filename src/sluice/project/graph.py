"""Dependency graph of a project's jobs and fingerprints of what each job computes.

SQL jobs' inputs are read from their SELECT with sqlglot (every table that is not a CTE);
python and pyspark jobs declare theirs. A job's fingerprint hashes its code, its config,
the contracts of its outputs and the fingerprints of its upstream jobs and sources, so a
change anywhere upstream changes everything downstream — and nothing else. A SQL job's code
is hashed in sqlglot's canonical form (:func:`canonical_sql`), so comments and layout do not
count; python and pyspark files are hashed as written.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot.errors import ErrorLevel, SqlglotError

from sluice.config import ProjectConfig, builtins, substitute
from sluice.errors import ConfigError
from sluice.project.rules import check_rules
from sluice.project.sqlguard import raise_refusal, resolve_dataset, undeclared, vet_query
from sluice.secrecy import keyed_strings


@dataclass(frozen=True)
class JobNode:
    name: str
    type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    code_files: tuple[str, ...]


@dataclass
class ProjectGraph:
    root: Path
    config: ProjectConfig
    jobs: dict[str, JobNode]
    producers: dict[str, str]  # dataset -> job
    order: list[str]  # jobs, topologically sorted (stable: by name among ready jobs)
    fingerprints: dict[str, str] = field(default_factory=dict)

    def upstream_jobs(self, job: str) -> list[str]:
        return sorted({self.producers[d] for d in self.jobs[job].inputs if d in self.producers})

    def downstream(self, jobs: Iterable[str]) -> set[str]:
        """The given jobs and every job that (transitively) reads their outputs."""
        out = set(jobs)
        changed = True
        while changed:
            changed = False
            for name in self.order:
                if name not in out and any(u in out for u in self.upstream_jobs(name)):
                    out.add(name)
                    changed = True
        return out

    def sorted(self, jobs: Iterable[str]) -> list[str]:
        wanted = set(jobs)
        return [j for j in self.order if j in wanted]


def sql_inputs(sql: str, dialect: str, *, where: str) -> list[str]:
    """Tables a SELECT reads (CTE names excluded), as ``schema.name`` strings.

    The SQL is vetted first (:mod:`sluice.project.sqlguard`): SQL that does not parse
    strictly, more than one statement, and reads of files or the network are refused with a
    ConfigError located at ``where``:line:col.
    """
    vetted = vet_query(sql, dialect)
    raise_refusal(vetted, source=where)
    return list(dict.fromkeys(t.name for t in vetted.tables))


def build_graph(root: Path | str, config: ProjectConfig,
                environment: str | None = None) -> ProjectGraph:
    """Read every job, infer SQL inputs, check references and cycles, fingerprint jobs.

    ``${param}`` in SQL is substituted with the parameters of ``environment`` (default: the
    first of the promotion order) before parsing; fingerprints hash the files as written.
    """
    root = Path(root)
    env = environment or config.promotion_order()[0]
    params = {**builtins(env, config.project), **config.environment(env).parameters}
    known = set(config.all_datasets())
    jobs: dict[str, JobNode] = {}
    producers: dict[str, str] = {}
    for name, job in config.jobs.items():
        outputs = tuple(config.job_outputs(job))
        if job.type == "sql":
            path = root / job.sql
            text = substitute(path.read_text(encoding="utf-8"), params, where=job.sql)
            vetted = vet_query(text, config.dialect)
            vetted.refusals += undeclared(vetted.tables, known, job=name)
            raise_refusal(vetted, source=job.sql)
            inputs = list(dict.fromkeys(
                d for t in vetted.tables if (d := resolve_dataset(t.name, known)) is not None))
            code = (job.sql,)
        else:
            inputs = list(job.inputs)
            for t in inputs:
                if t not in known:
                    raise ConfigError(f"job {name!r} reads unknown dataset {t!r}",
                                      tip="declare it under sources: or datasets:")
            code = (job.function.split(":")[0],) if job.type == "python" else (job.script,)
        jobs[name] = JobNode(name, job.type, tuple(inputs), outputs, code)
        for d in outputs:
            producers[d] = name
    # the quality gate is code too: a release whose rules cannot be evaluated is refused here
    check_rules(root, config, params)
    order = _toposort(jobs, producers, root)
    graph = ProjectGraph(root, config, jobs, producers, order)
    graph.fingerprints = _fingerprints(graph)
    return graph


def _toposort(jobs: Mapping[str, JobNode], producers: Mapping[str, str],
              root: Path | None = None) -> list[str]:
    deps = {n: {producers[d] for d in j.inputs if d in producers} for n, j in jobs.items()}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(jobs):
        ready = sorted(n for n in jobs if n not in done and deps[n] <= done)
        if not ready:
            cycle = _cycle(deps, done)
            raise ConfigError(
                f"{_job_location(root, cycle[0])}: jobs depend on each other in a cycle: "
                f"{' -> '.join(cycle)}",
                tip="a job cannot read (directly or not) the dataset it writes",
            )
        order.extend(ready)
        done.update(ready)
    return order


def _job_location(root: Path | None, job: str) -> str:
    """``sluice.yaml:line:col`` of a job's entry (the file alone if it cannot be read)."""
    from sluice.config import CONFIG_FILE, read_config_document

    if root is None or not (root / CONFIG_FILE).is_file():
        return CONFIG_FILE
    try:
        return str(read_config_document(root).locate(("jobs", job), key=True))
    except ConfigError:
        return CONFIG_FILE


def _cycle(deps: Mapping[str, set[str]], done: set[str]) -> list[str]:
    start = sorted(n for n in deps if n not in done)[0]
    path, seen = [start], {start}
    node = start
    while True:
        node = sorted(d for d in deps[node] if d not in done)[0]
        if node in seen:
            return [*path[path.index(node):], node]
        path.append(node)
        seen.add(node)


_PARAM = re.compile(r"\$\{([^}\n]*)\}")


def canonical_sql(text: str, dialect: str) -> str:
    """``text`` as sqlglot regenerates it: comments dropped, whitespace and keyword case
    normalised, so only a change in what the SQL says changes a job's fingerprint.

    ``${name}`` is kept as a placeholder named after it (a renamed parameter is a change).
    SQL that does not parse or regenerate exactly (syntax sqlglot does not know) stays as
    written: its fingerprint then changes with any edit, which recomputes too often, never
    too rarely.
    """
    marked = _PARAM.sub(
        lambda m: f"__sluice_param_{hashlib.sha256(m.group(1).encode()).hexdigest()[:16]}__",
        text)
    try:
        statements = sqlglot.parse(marked, read=dialect)
        if not statements or any(s is None for s in statements):
            return text
        return ";\n".join(s.sql(dialect=dialect, comments=False,
                                 unsupported_level=ErrorLevel.RAISE)
                           for s in statements if s is not None)
    except SqlglotError:
        return text


def code_digest(root: Path, rel: str, job_type: str, dialect: str) -> str:
    """SHA-256 of a job's code file (a SQL job's in :func:`canonical_sql` form)."""
    path = root / rel
    if job_type == "sql":
        canonical = canonical_sql(path.read_text(encoding="utf-8"), dialect)
        return hashlib.sha256(canonical.encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _fingerprints(graph: ProjectGraph) -> dict[str, str]:
    cfg = graph.config
    out: dict[str, str] = {}
    for name in graph.order:
        node = graph.jobs[name]
        job_cfg = cfg.jobs[name].model_dump(mode="json")
        code = {f: code_digest(graph.root, f, node.type, cfg.dialect) for f in node.code_files}
        # only the contract shapes the data; rules and descriptions do not
        outputs: dict[str, Any] = {}
        for d in node.outputs:
            contract = cfg.datasets[d].contract if d in cfg.datasets else None
            outputs[d] = contract.model_dump(mode="json") if contract is not None else None
        upstream: dict[str, Any] = {}
        for d in node.inputs:
            if d in graph.producers:
                upstream[d] = out[graph.producers[d]]
            else:
                upstream[d] = keyed_strings(cfg.sources[d].model_dump(mode="json"))
        # config strings may hold substituted secrets: those are keyed (sluice.secrecy), so
        # a stored fingerprint cannot be checked against a dictionary of passwords
        out[name] = _digest({"job": keyed_strings(job_cfg), "code": code, "outputs": outputs,
                             "upstream": upstream, "dialect": cfg.dialect})
    return out
