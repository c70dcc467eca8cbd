"""Run one job into a new dataset version on a target.

Every input is resolved explicitly: a dataset recomputed earlier in the same deploy reads its
new (unpublished) version, any other dataset its published version, a source its files in
the environment's object storage. Jobs therefore never see half-published data.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from sluice.config import ProjectConfig, PythonJob, SqlJob, builtins, substitute
from sluice.errors import SluiceError
from sluice.project.graph import JobNode
from sluice.project.sqlguard import raise_refusal, vet_query
from sluice.targets.base import Target


def target_env(target: Target) -> str:
    return str(getattr(target, "env", ""))


class JobError(SluiceError):
    """A job failed; the deploy stops before publishing anything."""

    #: the job's own advice (what to fix, where), kept when a caller's tip replaces it
    advice: str | None = None
    #: the file (and line) of the job's own code where it failed, when known
    location: tuple[str, int | None] | None = None


def release_file(release_dir: Path, job: str, rel: str) -> Path:
    """``rel`` (a job's script or module) resolved inside the release; JobError when it
    resolves outside it, even into a folder beside it whose name starts the same."""
    path = (release_dir / rel).resolve()
    if not path.is_relative_to(release_dir.resolve()):
        raise JobError(f"job {job}: {rel} is outside the release")
    return path


_MAX_FRAMES = 8  # callers shown under a job's error; a deep recursion would bury the message


def user_frames(exc: BaseException, release_dir: Path) -> list[str]:
    """``file:line in function`` of the job's own frames (outermost first), relative to the
    release: what the user wrote, not sluice's or a library's frames around it."""
    root = release_dir.resolve()
    frames: list[str] = []
    for frame in traceback.extract_tb(exc.__traceback__):
        rel = relative_to_release(frame.filename, root)
        if rel is not None:
            frames.append(f"{rel}:{frame.lineno} in {frame.name}")
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        rel = relative_to_release(exc.filename, root)
        if rel is not None:
            frames.append(f"{rel}:{exc.lineno}")
    return frames


def relative_to_release(filename: str, root: Path) -> str | None:
    """``filename`` relative to the (resolved) release folder ``root``; None outside it."""
    try:
        return Path(filename).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None


#: Names an engine's error quotes: ``"statuss"``, ``name lowerr``, ``column status``.
_QUOTED = re.compile(r'"([^"\n]+)"|\bname (\w+)|\bcolumn (\w+)')


def sql_location(source: str, text: str, message: str) -> str:
    """``source:line`` of the first name the engine's error quotes, found in the job's own
    text (the engine ran a rewritten query, so its own positions do not apply); ``source``
    alone when the error names nothing that occurs there."""
    for match in _QUOTED.finditer(message):
        name = next(g for g in match.groups() if g)
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)", re.IGNORECASE)
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line.split("--", 1)[0]):
                return f"{source}:{number}"
    return source


@dataclass(frozen=True)
class JobResult:
    job: str
    versions: dict[str, str]
    rows: dict[str, int]
    seconds: float


class Resolver:
    """Maps dataset names to relations for one deploy or run."""

    def __init__(self, config: ProjectConfig, target: Target, new_versions: Mapping[str, str],
                 published: Mapping[str, str]) -> None:
        self.config, self.target = config, target
        self.new_versions, self.published = new_versions, published

    def relation(self, dataset: str) -> str:
        if dataset in self.new_versions:
            return self.target.version_table(dataset, self.new_versions[dataset])
        if dataset in self.config.sources:
            src = self.config.sources[dataset]
            location = src.table if src.format == "table" else src.path
            assert location is not None
            return self.target.source_sql(dataset, src.format, location)
        if dataset in self.published:
            return self.target.version_table(dataset, self.published[dataset])
        raise JobError(
            f"dataset {dataset} has never been computed in this environment",
            tip="deploy the job that writes it first (sluice deploy computes missing datasets)",
        )


def rewrite_sql(sql: str, dialect: str, engine_dialect: str, resolver: Resolver,
                inputs: tuple[str, ...], *, source: str = "<sql>") -> str:
    """The job's SELECT with every input table replaced by its resolved relation.

    The SQL is vetted again here, where it runs (:mod:`sluice.project.sqlguard`): a release
    built by an older sluice may hold a job that reads a file, and a table the graph did not
    record as an input must not fall through to whatever the warehouse has by that name.
    """
    vetted = vet_query(sql, dialect)
    raise_refusal(vetted, source=source)
    assert vetted.tree is not None  # raise_refusal raised otherwise
    by_name = {}
    for d in inputs:
        by_name[d.lower()] = d
        if d.startswith("main."):
            by_name[d[5:].lower()] = d
    for table in vetted.tables:
        dataset = by_name.get(table.name.lower())
        if dataset is None:
            raise JobError(
                f"{source}:{table.line}:{table.column}: the job reads {table.name}, which is "
                "not one of its inputs",
                tip="declare it under sources: or datasets: in sluice.yaml and build a new "
                    "release")
        relation = sqlglot.parse_one(f"SELECT * FROM {resolver.relation(dataset)}",
                                     read=engine_dialect)
        node = table.node
        node.replace(exp.paren(relation).as_(node.alias or node.name))
    return vetted.tree.sql(engine_dialect)


def run_sql_job(node: JobNode, config: ProjectConfig, release_dir: Path, target: Target,
                resolver: Resolver, params: Mapping[str, str], version: str,
                fingerprint: str) -> JobResult:
    job = config.jobs[node.name]
    assert isinstance(job, SqlJob)
    path = release_dir / job.sql
    params = {**builtins(target_env(target), config.project), **params}
    text = substitute(path.read_text(encoding="utf-8"), params, where=job.sql)
    started = time.perf_counter()
    select = rewrite_sql(text, config.dialect, target.engine().dialect, resolver, node.inputs,
                         source=job.sql)
    output = node.outputs[0]
    try:
        rows = target.create_version(output, version, fingerprint, select)
    except SluiceError:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0]
        raise JobError(f"{sql_location(job.sql, text, first)}: job {node.name} failed: {first}",
                       tip="run the query against the dev warehouse to debug it") from exc
    return JobResult(node.name, {output: version}, {output: rows}, time.perf_counter() - started)


class JobContext:
    """What a python job's function receives: read inputs, write outputs, parameters."""

    def __init__(self, node: JobNode, target: Target, resolver: Resolver,
                 params: Mapping[str, str], version: str, fingerprint: str) -> None:
        self.job = node.name
        self.params = dict(params)
        self._node, self._target, self._resolver = node, target, resolver
        self._version, self._fingerprint = version, fingerprint
        self.written: dict[str, int] = {}
        self._con: duckdb.DuckDBPyConnection | None = None  # holds the relations read

    def read(self, dataset: str) -> Any:
        """An input as a DuckDB relation (``.df()``, ``.arrow()``, ``.fetchall()`` …)."""
        if dataset not in self._node.inputs:
            raise JobError(f"job {self.job} reads {dataset!r}, which it does not declare",
                           tip=f"add it to jobs.{self.job}.inputs in sluice.yaml")
        # any warehouse hands over Arrow; a DuckDB relation over it keeps jobs portable
        table = self._target.read_arrow(f"SELECT * FROM {self._resolver.relation(dataset)}")
        if self._con is None:
            self._con = duckdb.connect()
        return self._con.from_arrow(table)

    def write(self, dataset: str, data: Any) -> None:
        """Write an output from a DuckDB relation, a pyarrow Table or a pandas DataFrame."""
        if dataset not in self._node.outputs:
            raise JobError(f"job {self.job} writes {dataset!r}, which it does not declare",
                           tip=f"add it to jobs.{self.job}.outputs in sluice.yaml")
        self.written[dataset] = self._target.create_version_from(
            dataset, self._version, self._fingerprint, data)


def run_python_job(node: JobNode, config: ProjectConfig, release_dir: Path, target: Target,
                   resolver: Resolver, params: Mapping[str, str], version: str,
                   fingerprint: str) -> JobResult:
    job = config.jobs[node.name]
    assert isinstance(job, PythonJob)
    file, _, func_name = job.function.partition(":")
    path = release_file(release_dir, node.name, file)
    started = time.perf_counter()
    module_name = f"sluice_job_{node.name}_{version}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise JobError(f"job {node.name}: cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    ctx = JobContext(node, target, resolver, params, version, fingerprint)
    try:
        sys.modules[module_name] = module
        # no __pycache__ in the release folder: it is verified file by file before use,
        # and a stray .pyc there would be code nobody released
        dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            spec.loader.exec_module(module)
        finally:
            sys.dont_write_bytecode = dont_write
        func = getattr(module, func_name, None)
        if func is None:
            raise JobError(f"job {node.name}: {file} has no function {func_name!r}")
        func(ctx)
    except SluiceError as exc:
        frames = user_frames(exc, release_dir)
        if frames and isinstance(exc, JobError) and not exc.message.startswith(frames[-1]):
            exc.message = f"{frames[-1]}: {exc.message}"  # where the job called ctx.*
            exc.args = (exc.message,)
        raise
    except (Exception, SystemExit) as exc:  # a job calling sys.exit() failed, nothing more
        frames = user_frames(exc, release_dir)
        where = frames[-1] if frames else file
        callers = list(reversed(frames[:-1]))
        called = "".join(f"\n  at {f}" for f in callers[:_MAX_FRAMES]) + (
            f"\n  … {len(callers) - _MAX_FRAMES} more frames" if len(callers) > _MAX_FRAMES
            else "")
        raise JobError(
            f"{where}: job {node.name} ({job.function}) raised {type(exc).__name__}: "
            f"{exc}{called}",
            tip="run its unit tests, or re-run the deployment with --debug for the traceback",
        ) from exc
    finally:
        sys.modules.pop(module_name, None)
    missing = [d for d in node.outputs if d not in ctx.written]
    if missing:
        raise JobError(f"job {node.name} did not write {', '.join(missing)}",
                       tip="call ctx.write(name, data) for every declared output")
    return JobResult(node.name, {d: version for d in node.outputs}, ctx.written,
                     time.perf_counter() - started)
