"""sluice's PySpark launcher: runs a job's script as ``__main__`` with its parameters.

``python pyspark_launcher.py SCRIPT ARGS...`` with ``$SLUICE_PARAMS_FILE`` naming a JSON object
of parameters (written by sluice with mode 0600 in a private temporary folder). The script
sees ``sys.argv == [SCRIPT, *ARGS, "--param", "NAME=VALUE", ...]``, exactly what it would see
if started with those arguments, but the process's real command line (``/proc/<pid>/cmdline``,
readable by every user of the machine) holds only ARGS: the inputs and outputs, never a
parameter value. The file is removed as soon as it is read.

With ``$SLUICE_ARGV_FILE`` naming a JSON list (0600, like the parameters file), its items are
the script's arguments, after any ARGS: a glue job's whole argv (``--JOB_NAME``, its
resolved arguments) may hold substituted secrets, so none of it goes on the command line.

With ``$SLUICE_PROGRESS_FILE`` set, a thread polls the script's SparkContext (once the script
has created one) through ``statusTracker()`` every half second and appends a line such as
``Spark job 2, stage 3/5, 120/200 tasks`` to that file whenever it changes; sluice shows the
last line as the job's live progress. No SparkListener is needed, so nothing is added to the
script's Spark configuration.

This file is run by path, not imported from the package: it uses the standard library only,
and the script's folder replaces the launcher's on ``sys.path``, as for ``python SCRIPT``.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import threading
from typing import Any

PARAMS_ENV = "SLUICE_PARAMS_FILE"
PROGRESS_ENV = "SLUICE_PROGRESS_FILE"
ARGV_ENV = "SLUICE_ARGV_FILE"
POLL_SECONDS = 0.5


def script_argv(script: str, args: list[str], params: dict[str, str]) -> list[str]:
    """The argv the script gets: its own arguments, then one ``--param`` per parameter."""
    argv = [script, *args]
    for name, value in params.items():
        argv += ["--param", f"{name}={value}"]
    return argv


def _read_params() -> dict[str, str]:
    path = os.environ.pop(PARAMS_ENV, None)  # Spark's JVM and workers need not see it
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        loaded = json.load(fh)
    with contextlib.suppress(OSError):
        os.unlink(path)  # read once; sluice removes its folder after the run in any case
    return {str(k): str(v) for k, v in dict(loaded).items()}


def read_argv_file() -> list[str]:
    """The arguments in ``$SLUICE_ARGV_FILE`` (a JSON list), read once and removed; none
    without the variable."""
    path = os.environ.pop(ARGV_ENV, None)
    if not path:
        return []
    with open(path, encoding="utf-8") as fh:
        loaded = json.load(fh)
    with contextlib.suppress(OSError):
        os.unlink(path)
    return [str(a) for a in list(loaded)]


def spark_status(tracker: Any) -> str | None:
    """One line on the newest active Spark job of a ``StatusTracker``; None when idle."""
    jobs = sorted(tracker.getActiveJobsIds())
    if not jobs:
        return None
    info = tracker.getJobInfo(jobs[-1])
    if info is None:
        return None
    stages = sorted(info.stageIds)
    active = [st for st in (tracker.getStageInfo(i) for i in tracker.getActiveStageIds()
                            if i in stages) if st is not None]
    if not active:
        return f"Spark job {info.jobId}, {len(stages)} stages"
    stage = min(active, key=lambda st: st.stageId)
    return (f"Spark job {info.jobId}, stage {stages.index(stage.stageId) + 1}/{len(stages)}, "
            f"{stage.numCompletedTasks}/{stage.numTasks} tasks")


def _watch(path: str, stop: threading.Event) -> None:
    """Append the Spark status to ``path`` whenever it changes, until ``stop``."""
    last = None
    while not stop.wait(POLL_SECONDS):
        pyspark = sys.modules.get("pyspark")  # imported by the script, never by us
        context = getattr(getattr(pyspark, "SparkContext", None), "_active_spark_context", None)
        if context is None:
            continue
        try:
            line = spark_status(context.statusTracker())
        except Exception:  # the context is starting or stopping: ask again later
            continue
        if line and line != last:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            last = line


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: pyspark_launcher.py SCRIPT [ARGS...]")
    script = sys.argv[1]
    sys.argv = script_argv(script, sys.argv[2:] + read_argv_file(), _read_params())
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    progress = os.environ.pop(PROGRESS_ENV, None)
    stop = threading.Event()
    if progress:
        threading.Thread(target=_watch, args=(progress, stop), daemon=True,
                         name="sluice-spark-progress").start()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        stop.set()


if __name__ == "__main__":
    main()
