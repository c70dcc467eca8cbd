"""PySpark jobs: a script run in its own process on PySpark in local mode.

The script gets ``--input NAME=PATH`` and ``--output NAME=PATH`` arguments (Parquet folders)
and the environment's parameters as ``--param NAME=VALUE``. Parameters never go on the real
command line (``/proc/<pid>/cmdline`` is readable by every user): sluice starts
:mod:`sluice.deploy.pyspark_launcher`, which reads them from a 0600 file in the run's private
temporary folder and adds them to the script's ``sys.argv``. Inputs are exported from the
warehouse to Parquet and outputs read back into new dataset versions through Arrow, so a
PySpark job runs on any warehouse (DuckDB or PostgreSQL) inside the same write-audit-publish
cycle as every other job. Inside a deploy, the scripts share one long-lived Spark driver
(:mod:`sluice.deploy.spark_driver`), so Spark starts once per deploy, not once per job.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pyarrow.parquet as pq

from sluice.config import ProjectConfig, PySparkJob
from sluice.deploy import spark_driver
from sluice.deploy.glue_outputs import arrow_format
from sluice.deploy.jobs import JobError, JobResult, Resolver, release_file
from sluice.deploy.pyspark_launcher import PARAMS_ENV, POLL_SECONDS, PROGRESS_ENV
from sluice.deploy.spark_driver import LAUNCHER, Progress
from sluice.errors import EngineUnavailableError
from sluice.project.graph import JobNode
from sluice.targets.base import Target

JOB_TIMEOUT = 3600


JAVA_TIP = "install a JDK (apt-get install openjdk-17-jre-headless) or set JAVA_HOME to one"


def java_tip() -> str:
    """What to do about :func:`java_problem`: unset a JAVA_HOME without Java when a java is
    on PATH (Spark would take it then), else install one."""
    found = shutil.which("java")
    if os.environ.get("JAVA_HOME") and found:
        return f"unset JAVA_HOME (Spark then uses {found}) or point it at a JDK"
    return JAVA_TIP


def java_problem() -> str | None:
    """Why Spark could not start a JVM here (None: it can). Spark's launcher takes
    ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, whatever is on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return None if Path(home, "bin", "java").exists() else \
            f"JAVA_HOME={home} has no bin/java"
    return None if shutil.which("java") else "no `java` is on PATH and JAVA_HOME is not set"


def require_spark(job: str, kind: str) -> None:
    """Raise EngineUnavailableError unless PySpark and Java can run ``job`` (``kind``:
    "a PySpark job", "a glue job") in a process of its own."""
    if importlib.util.find_spec("pyspark") is None:
        raise EngineUnavailableError(
            f"job {job} is {kind}, but PySpark is not installed",
            tip="pip install 'sluice-cd[spark]' (make demo and make test install it)",
        )
    problem = java_problem()
    if problem is not None:
        raise EngineUnavailableError(f"job {job} is {kind} and PySpark needs Java 17, but "
                                     f"{problem}", tip=java_tip())


def launch_command(script: Path) -> list[str]:
    """The start of a PySpark job's command line: the launcher, then the script."""
    return [sys.executable, str(LAUNCHER), str(script)]


def write_private_json(path: Path, value: Any) -> Path:
    """``value`` as JSON in a new file of mode 0600 (refusing to reuse one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
    return path


def write_params(folder: Path, params: Mapping[str, str]) -> Path:
    """The parameters as JSON in ``folder`` (a private temporary folder), mode 0600."""
    return write_private_json(folder / "params.json", dict(sorted(params.items())))


def run_script(args: list[str], cwd: Path, env: Mapping[str, str], progress_file: Path,
               on_progress: Callable[[str], None] | None = None,
               timeout: float = JOB_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run the launcher ``args``; while it runs, pass each new line the launcher appends to
    ``progress_file`` (its Spark status) to ``on_progress``. Raises ``TimeoutExpired`` after
    ``timeout`` seconds (the process is killed).

    Inside :func:`sluice.deploy.spark_driver.shared` (a deploy, a run, a check's integration
    run) a launcher command runs in the scope's long-lived driver instead of a new process,
    with the same result: exit status, stdout and stderr as a process would give them."""
    shared = spark_driver.run(args, cwd, env, progress_file, on_progress, timeout)
    if shared is not None:
        return shared
    deadline = time.monotonic() + timeout
    progress = Progress(progress_file, on_progress)
    with subprocess.Popen(list(args), cwd=cwd, env={**env, PROGRESS_ENV: str(progress_file)},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        while True:
            try:  # communicate drains both pipes (Spark logs a lot); retrying loses nothing
                out, err = proc.communicate(timeout=min(POLL_SECONDS,
                                                        max(deadline - time.monotonic(), 0)))
                break
            except subprocess.TimeoutExpired:
                progress.forward()
                if time.monotonic() >= deadline:
                    proc.kill()
                    proc.communicate()
                    raise
        progress.forward()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def run_pyspark_job(node: JobNode, config: ProjectConfig, release_dir: Path, target: Target,
                    resolver: Resolver, params: Mapping[str, str], version: str,
                    fingerprint: str,
                    on_progress: Callable[[str], None] | None = None) -> JobResult:
    """Run a PySpark job's script (see the module docstring); ``on_progress`` gets its Spark
    status lines (``Spark job 2, stage 3/5, 120/200 tasks``) while it runs."""
    job = config.jobs[node.name]
    assert isinstance(job, PySparkJob)
    require_spark(node.name, "a PySpark job")
    script = release_file(release_dir, node.name, job.script)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"sluice-{node.name}-") as tmp:
        args = launch_command(script)
        for d in node.inputs:
            path = Path(tmp) / "in" / d
            path.mkdir(parents=True)
            table = target.read_arrow(f"SELECT * FROM {resolver.relation(d)}")
            pq.write_table(table, path / "part-0.parquet")
            args += ["--input", f"{d}={path}"]
        outputs = {d: Path(tmp) / "out" / d for d in node.outputs}
        for d, p in outputs.items():
            args += ["--output", f"{d}={p}"]
        params_file = write_params(Path(tmp), params)
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONDONTWRITEBYTECODE": "1",
               PARAMS_ENV: str(params_file),
               **{f"SLUICE_SPARK_CONF_{k}": v for k, v in job.spark_conf.items()}}
        try:
            proc = run_script(args, release_dir, env, Path(tmp) / "progress.log", on_progress)
        except subprocess.TimeoutExpired as exc:
            raise JobError(f"job {node.name} ran longer than {JOB_TIMEOUT}s") from exc
        if proc.returncode != 0:
            tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-8:]
            raise JobError(
                f"job {node.name} ({job.script}) failed with exit code {proc.returncode}:\n    "
                + "\n    ".join(tail),
                tip="run the script locally with the same --input/--output arguments",
            )
        rows: dict[str, int] = {}
        for d, p in outputs.items():
            files = list(p.rglob("*.parquet")) if p.exists() else []
            if not files:
                raise JobError(f"job {node.name} wrote no Parquet files for {d} at {p}",
                               tip="write every --output path with df.write.parquet(path)")
            # a folder as Spark writes it: part files, hive partitions, _SUCCESS/.crc ignored
            table = pads.dataset(str(p), format=arrow_format("parquet"),
                                 partitioning="hive").to_table()
            rows[d] = target.create_version_from(d, version, fingerprint, table)
    return JobResult(node.name, {d: version for d in node.outputs}, rows,
                     time.perf_counter() - started)
