"""Glue jobs on the local target: an AWS Glue script run as written, on PySpark local mode.

A run gives the script what a Glue job run gives it, resolved for this environment:

- ``sys.argv`` from :func:`sluice.glue.arguments.glue_argv` (``--JOB_NAME`` = the job's name,
  ``${input:NAME}`` = where the input lives, ``${output:NAME}`` = ``tmp/out/NAME/``). The
  argv never goes on the process's command line (arguments may hold substituted secrets):
  the launcher reads it from a 0600 file (:func:`~sluice.deploy.pyspark_launcher.read_argv_file`).
- ``import awsglue`` finds sluice's runtime (:func:`sluice.glue.runtime_path` on PYTHONPATH).
- The run context file (``$SLUICE_GLUE_CONTEXT``, see ``awsglue/_run.py``): the catalog
  tables of every input, the Glue database names (the bare schema and the aws target's
  ``<prefix><schema>``), the outputs, the bookmark files, the temp dir, the writes log.

A file source is read where it lies in the environment's object store (its path up to the
first wildcard); a dataset is exported to Parquet under ``tmp/in/NAME/``. Each output folder is
read back into a new version with the format and partition keys its writes logged, then
audited and published like any job's output.

Job bookmarks (:mod:`sluice.deploy.glue_bookmarks`) are kept per environment and advance only
when the deploy that read the new files publishes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sluice import secrecy
from sluice.config import GlueJob, ProjectConfig
from sluice.config.datasets import Contract
from sluice.config.names import source_folder
from sluice.deploy import glue_bookmarks
from sluice.deploy.glue_outputs import last_write, read_output, written
from sluice.deploy.jobs import (
    JobError,
    JobResult,
    Resolver,
    relative_to_release,
    release_file,
    target_env,
)
from sluice.deploy.pyspark_launcher import ARGV_ENV
from sluice.deploy.spark_jobs import (
    JOB_TIMEOUT,
    launch_command,
    require_spark,
    run_script,
    write_private_json,
)
from sluice.glue import arguments as glue_arguments
from sluice.glue import runtime_path
from sluice.project.graph import JobNode
from sluice.targets.base import Target

#: Glue's format_options for what a source's format means in sluice (csv sources have a
#: header row, as DuckDB reads them).
_SOURCE_OPTIONS: dict[str, dict[str, Any]] = {
    "csv": {"withHeader": True, "separator": ","}, "json": {}, "parquet": {}}
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')


def source_location(objects: str, pattern: str) -> str:
    """Where a file source's files are in the object store ``objects``
    (:func:`sluice.config.names.source_folder`: ``raw/orders/*.csv`` →
    ``…/objects/raw/orders/``)."""
    return f"{objects.rstrip('/')}/{source_folder(pattern)}"


def spark_columns(contract: Contract | None, dialect: str) -> dict[str, str]:
    """A contract's columns as Spark SQL types (what a catalog table's schema says); a type
    sqlglot cannot read is left out."""
    import sqlglot
    from sqlglot import exp

    out: dict[str, str] = {}
    for name, column in (contract.columns if contract is not None else {}).items():
        try:
            spark = exp.DataType.build(column.type, dialect=dialect).sql("spark").lower()
        except (sqlglot.errors.SqlglotError, ValueError):
            continue
        out[name] = "timestamp" if spark == "timestamp_ntz" else spark  # as Glue's catalog
    return out


def glue_databases(config: ProjectConfig, env: str, schemas: set[str]) -> dict[str, str]:
    """Glue database → schema: the bare schema and the name the aws target gives it in this
    environment (``<glue_database_prefix><schema>``, ``<env>_<schema>`` by default)."""
    spec = config.environment(env).target if env in config.environments else None
    prefix = getattr(spec, "glue_database_prefix", None)
    prefix = f"{env}_" if prefix is None else prefix
    out = {s: s for s in sorted(schemas)}
    out.update({f"{prefix}{s}": s for s in sorted(schemas)})
    return out


def _catalog_tables(node: JobNode, config: ProjectConfig, target: Target, resolver: Resolver,
                    tmp: Path) -> dict[str, dict[str, Any]]:
    """The catalog table of every input: a file source where it lies, anything else (a
    dataset, a table source) exported to Parquet under ``tmp/in/NAME/``."""
    import pyarrow.parquet as pq

    tables: dict[str, dict[str, Any]] = {}
    for d in node.inputs:
        src = config.sources.get(d)
        contract = src.contract if src is not None else (
            config.datasets[d].contract if d in config.datasets else None)
        columns = spark_columns(contract, config.dialect)
        if src is not None and src.format != "table" and src.path is not None:
            resolver.relation(d)  # a missing source fails here, with sluice's own message
            location = source_location(target.objects_url(), src.path)
            options = dict(_SOURCE_OPTIONS[src.format])
            if src.format == "json" and _json_arrays(target.objects_url(), src.path):
                options["multiline"] = True  # DuckDB reads arrays too; Spark needs telling
            tables[d] = {"path": location, "format": src.format, "options": options,
                         "columns": columns}
            continue
        folder = tmp / "in" / d
        folder.mkdir(parents=True)
        pq.write_table(target.read_arrow(f"SELECT * FROM {resolver.relation(d)}"),
                       folder / "part-0.parquet")
        tables[d] = {"path": f"{folder}/", "format": "parquet", "options": {},
                     "columns": columns}
    return tables


def _json_arrays(objects: str, pattern: str) -> bool:
    """Whether a local JSON source's first file holds a JSON array rather than JSON lines."""
    root = Path(objects)
    if not root.is_dir():
        return False  # not a local object store (s3://): Glue's default, JSON lines
    found = sorted(root.glob(pattern))
    files = [f for f in found if f.is_file()] or [
        f for d in found if d.is_dir() for f in sorted(d.rglob("*")) if f.is_file()]
    if not files:
        return False
    with files[0].open("rb") as fh:
        return fh.read(4096).lstrip().startswith(b"[")


def failure_message(job: str, script: str, stderr: str, release_dir: Path,
                    returncode: int) -> tuple[str, str]:
    """``(message, location)`` for a script that failed: the innermost frame of the last
    traceback that is in the release (``glue/persons.py:12``) and the exception line."""
    lines = stderr.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call")]
    block = lines[starts[-1]:] if starts else []
    where, error = script, ""
    root = release_dir.resolve()
    for line in block[1:]:
        m = _FRAME.match(line)
        if m:
            rel = relative_to_release(m["file"], root)
            if rel is not None:
                where = f"{rel}:{m['line']}"
        elif line and not line[0].isspace():
            error = line
            break
    if not error:
        error = next((ln for ln in reversed(lines) if ln.strip()), f"exit code {returncode}")
    return secrecy.mask(f"job {job} failed at {where}: {error}"), where


def run_glue_job(node: JobNode, config: ProjectConfig, release_dir: Path, target: Target,
                 resolver: Resolver, params: Mapping[str, str], version: str,
                 fingerprint: str,
                 on_progress: Callable[[str], None] | None = None) -> JobResult:
    """Run a glue job's script (see the module docstring) into a new version of each of its
    outputs; ``on_progress`` gets its Spark status lines while it runs."""
    job = config.jobs[node.name]
    assert isinstance(job, GlueJob)
    require_spark(node.name, "a glue job")
    script = release_file(release_dir, node.name, job.script)
    env_name = target_env(target)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"sluice-{node.name}-") as tmp_name:
        tmp = Path(tmp_name)
        tables = _catalog_tables(node, config, target, resolver, tmp)
        outputs = {d: tmp / "out" / d for d in node.outputs}
        resolved = glue_arguments.resolve(job, lambda d: str(tables[d]["path"]),
                                          lambda d: f"{outputs[d]}/")
        temp_dir = tmp / "glue-temp"
        temp_dir.mkdir()
        argv = glue_arguments.glue_argv(str(script), node.name, resolved,
                                        temp_dir=f"{temp_dir}/")
        marks = glue_bookmarks.Bookmarks.of(target, node.name)
        pending = tmp / "bookmarks.json"
        writes = tmp / "writes.jsonl"
        schemas = {d.partition(".")[0] for d in (*node.inputs, *node.outputs)}
        context = {
            "job": node.name, "env": env_name, "tables": tables,
            "databases": glue_databases(config, env_name, schemas),
            "outputs": {d: f"{p}/" for d, p in outputs.items()},
            "bookmarks": {"state": marks.state_path(), "pending": str(pending)},
            "temp_dir": f"{temp_dir}/", "writes": str(writes)}
        context_file = write_private_json(tmp / "context.json", context)
        argv_file = write_private_json(tmp / "argv.json", argv[1:])
        path = os.pathsep.join(p for p in (str(runtime_path()), os.environ.get("PYTHONPATH"))
                               if p)
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": path, "SLUICE_GLUE_CONTEXT": str(context_file),
               ARGV_ENV: str(argv_file),
               **{f"SLUICE_SPARK_CONF_{k}": v for k, v in job.spark_conf.items()}}
        try:
            proc = run_script(launch_command(script), release_dir, env,
                              tmp / "progress.log", on_progress)
        except subprocess.TimeoutExpired as exc:
            raise JobError(f"job {node.name} ran longer than {JOB_TIMEOUT}s") from exc
        if proc.returncode != 0:
            message, where = failure_message(node.name, job.script, proc.stderr, release_dir,
                                             proc.returncode)
            error = JobError(message, tip=_failure_tip(node.name, job, message))
            path, _, line = where.rpartition(":")
            error.location = (path, int(line)) if path and line.isdigit() else (where, None)
            raise error
        rows: dict[str, int] = {}
        log = written(writes)
        for d, folder in outputs.items():
            table = read_output(folder, log, d)
            if table is None and (last_write(folder, log, d) or {}).get("columns") == 0:
                raise JobError(f"job {node.name} wrote only a frame without columns for "
                               f"output {d} (a read that found no files, such as a bookmarked "
                               "read with no new files, gives one)",
                               tip="give a frame without rows the output's columns "
                                   "(spark.createDataFrame([], schema)), or run without "
                                   "--job-bookmark-option to read every file")
            if table is None:
                raise JobError(_never_written(node.name, job, d, folder),
                               tip="write it to the path of that argument "
                                   "(glueContext.write_dynamic_frame.from_options(..., "
                                   "connection_options={\"path\": args[...]})); a run that "
                                   "found nothing new still writes its empty frame (an "
                                   "early sys.exit skips the write)")
            rows[d] = target.create_version_from(d, version, fingerprint, table)
        marks.stage(pending, version)
    return JobResult(node.name, {d: version for d in node.outputs}, rows,
                     time.perf_counter() - started)


_REQUIRED = re.compile(r"the following arguments are required: (?P<names>[^\n]+)")


def _failure_tip(name: str, job: GlueJob, message: str) -> str:
    """What to change: an argument the script asks for goes in sluice.yaml, not the script;
    one that is a near miss of an argument sluice.yaml passes is probably a typo."""
    import difflib

    missing = _REQUIRED.search(message)
    if missing is None:
        return f"fix {job.script}"
    names = [n.strip() for n in missing["names"].split(",") if n.strip()]
    passed = list(job.arguments)
    for wanted in names:
        close = difflib.get_close_matches(wanted, passed, n=1)
        if close:
            return (f"sluice.yaml passes {close[0]} (jobs.{name}.arguments) but {job.script} "
                    f"asks for {wanted}: rename one of them")
    return (f"pass {', '.join(names)} in jobs.{name}.arguments of sluice.yaml (e.g. "
            f"{names[0]}: <value or ${{parameter}}>), or drop it from getResolvedOptions in "
            f"{job.script}")


def _never_written(job: str, config: GlueJob, dataset: str, folder: Path) -> str:
    named = [k for k, v in config.arguments.items() if ("output", dataset) in
             config.references(v)]
    via = (" or ".join(f"{k} (${{output:{dataset}}})" for k in named) if named
           else f"no argument names ${{output:{dataset}}}")
    return f"job {job} wrote nothing for output {dataset}: {via} was never written"
