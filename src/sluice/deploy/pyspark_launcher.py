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

``python pyspark_launcher.py --serve REQUESTS REPLIES`` makes it the long-lived driver of
:mod:`sluice.deploy.spark_driver`: it reads one JSON request a line from the file descriptor
REQUESTS (script, arguments, cwd, environment), runs that script in this process exactly as the
one-shot mode would (see :func:`serve`), and answers one JSON line on REPLIES. Requests never
travel on a command line, so parameters stay off ``/proc/<pid>/cmdline`` here too.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import threading
import traceback
from typing import Any

PARAMS_ENV = "SLUICE_PARAMS_FILE"
PROGRESS_ENV = "SLUICE_PROGRESS_FILE"
ARGV_ENV = "SLUICE_ARGV_FILE"
POLL_SECONDS = 0.5

# the driver's own channel must survive a script that patches the standard library
_dumps, _loads, _write_fd = json.dumps, json.loads, os.write


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


def prepare_argv(script: str, args: list[str]) -> list[str]:
    """The script's ``sys.argv`` from the launcher's arguments and the files sluice left in
    the environment (the parameters file); both modes (one-shot and ``--serve``) call it, with
    the script's environment in ``os.environ``."""
    return script_argv(script, args + read_argv_file(), _read_params())


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
        context = _spark_context()
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


def _spark_context() -> Any:
    """The running SparkContext, if the scripts imported PySpark and created one."""
    pyspark = sys.modules.get("pyspark")  # imported by the script, never by us
    return getattr(getattr(pyspark, "SparkContext", None), "_active_spark_context", None)


def _keep_spark_alive() -> None:
    """While serving, the SparkContext outlives each script: ``stop()`` of a context that
    started (``SparkSession.stop`` calls it, then forgets the session: the next
    ``getOrCreate`` builds a fresh one on the same context) does nothing, and
    ``SparkContext()`` returns the running context instead of refusing a second one, so Glue's
    ``GlueContext(SparkContext())`` works in every script, not only the first."""
    try:
        from pyspark.core.context import SparkContext
    except ImportError:  # not a PySpark installation: scripts run, just without Spark
        return
    init, stop = SparkContext.__init__, SparkContext.stop

    def new(cls: Any, *args: Any, **kwargs: Any) -> Any:
        active = cls._active_spark_context
        if active is not None and getattr(active, "_sluice_kept", False):
            return active
        return object.__new__(cls)

    def start(self: Any, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "_sluice_kept", False):
            return
        init(self, *args, **kwargs)  # a failed start stops itself, for real
        self._sluice_kept = True
        _STATE["spark_starts"] += 1
        _STATE["hadoop"] = _hadoop_settings(self)  # what every later script starts from

    def keep(self: Any) -> None:
        if not getattr(self, "_sluice_kept", False):
            stop(self)

    SparkContext.__new__ = new  # type: ignore[method-assign]
    SparkContext.__init__ = start  # type: ignore[method-assign]
    SparkContext.stop = keep  # type: ignore[method-assign]
    _STATE["stop"] = stop


_STATE: dict[str, Any] = {"spark_starts": 0, "stop": None}


def _reset_spark(worker_path: str | None) -> bool:
    """Leave the context as a fresh one for the next script: no cached data, no temporary
    views, no session (its SQL settings and UDFs go with it), the worker PYTHONPATH of before.
    False when the context is unusable (its JVM died): the driver must end."""
    context = _spark_context()
    if context is None:
        return True
    try:
        stopped = context._jsc is None or context._jsc.sc().isStopped()
    except Exception:  # the gateway or the JVM is gone
        return False
    if stopped:
        type(context)._active_spark_context = None  # stopped for real: the next starts anew
        return True
    from pyspark.sql import SparkSession, SQLContext

    # a script's stop() forgot its session, not the shared state: a new one reaches that
    session = SparkSession._instantiatedSession or SparkSession(context)
    if session is not None:
        with contextlib.suppress(Exception):
            session.catalog.clearCache()
        with contextlib.suppress(Exception):
            for table in session.catalog.listTables("global_temp"):
                if table.isTemporary:
                    session.catalog.dropGlobalTempView(table.name)
    with contextlib.suppress(Exception):
        for rdd in list(context._jsc.getPersistentRDDs().values()):
            rdd.unpersist()
    with contextlib.suppress(Exception):  # temporary views and SQL settings go with it
        jvm_session = SparkSession._get_j_spark_session_class(context._jvm)
        jvm_session.clearDefaultSession()
        jvm_session.clearActiveSession()
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    SQLContext._instantiatedContext = None
    if worker_path is None:
        context.environment.pop("PYTHONPATH", None)
    else:
        context.environment["PYTHONPATH"] = worker_path
    return True


def _hadoop_settings(context: Any) -> dict[str, str] | None:
    """The context's Hadoop configuration (s3a keys, committers …) as it is before a script."""
    if context is None:
        return None
    try:
        return {str(k): str(v) for k, v in
                dict(context._jsc.hadoopConfiguration().getValByRegex(".*")).items()}
    except Exception:
        return None


def _restore_context(context: Any, hadoop: dict[str, str] | None) -> None:
    """Put back what a script changed on the shared SparkContext itself: the Hadoop
    configuration (as :func:`_hadoop_settings` saw it; a context the script started gets the
    defaults it started with) and the thread's local properties (job groups, pools)."""
    if context is None:
        return
    with contextlib.suppress(Exception):
        conf = context._jsc.hadoopConfiguration()
        if hadoop is not None:
            now = {str(k): str(v) for k, v in dict(conf.getValByRegex(".*")).items()}
            for key in set(now) - set(hadoop):
                conf.unset(key)
            for key, value in hadoop.items():
                if now.get(key) != value:
                    conf.set(key, value)
    with contextlib.suppress(Exception):
        props = context._jsc.sc().getLocalProperties()
        for key in list(props.stringPropertyNames()):
            context.setLocalProperty(str(key), None)


def _exit_code(exc: SystemExit) -> int:
    """The exit status ``sys.exit(code)`` gives a process."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _under(path: str | None, folders: list[str]) -> bool:
    return bool(path) and any(os.path.abspath(str(path)).startswith(f + os.sep)
                              for f in folders)


def _run_request(request: dict[str, Any], base_path: list[str]) -> int:
    """One script, as the one-shot mode runs it, then everything it changed put back: the
    environment, the cwd, ``sys.argv``, ``sys.path``, the modules imported from its folder and
    its PYTHONPATH (and ``awsglue*``), and Spark's per-script state (:func:`_reset_spark`)."""
    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    saved_path, modules = list(sys.path), set(sys.modules)
    saved_umask = os.umask(0o022)
    os.umask(saved_umask)
    saved_hadoop = _hadoop_settings(_spark_context())
    script = str(request["script"])
    folder = os.path.dirname(os.path.abspath(script))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})
    extra = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    context = _spark_context()
    worker_path = None if context is None else context.environment.get("PYTHONPATH")
    if context is not None:  # Python workers import the run's modules as its own process would
        context.environment["PYTHONPATH"] = os.pathsep.join(extra)
    stop = threading.Event()
    code = 1
    try:  # a failure to set the run up is reported as the script's, as a process's start
        os.chdir(str(request["cwd"]))
        sys.argv = prepare_argv(script, [str(a) for a in request["args"]])
        sys.path[:] = [folder, *extra, *base_path]
        progress = os.environ.pop(PROGRESS_ENV, None)
        if progress:
            threading.Thread(target=_watch, args=(progress, stop), daemon=True,
                             name="sluice-spark-progress").start()
        runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:  # what the interpreter prints before it exits with 1
        traceback.print_exc()
    finally:
        stop.set()
        sys.stdout.flush()
        sys.stderr.flush()
        healthy = _reset_spark(worker_path)
        if healthy:
            _restore_context(_spark_context(), saved_hadoop or _STATE.get("hadoop"))
        os.umask(saved_umask)
        for name in set(sys.modules) - modules:
            module = sys.modules.get(name)
            files = [getattr(module, "__file__", None),  # a namespace package: its folders
                     *list(getattr(module, "__path__", None) or [])]
            if name.split(".")[0] == "awsglue" or any(_under(f, [folder, *extra])
                                                      for f in files):
                del sys.modules[name]
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.argv, sys.path[:] = saved_argv, saved_path
    if not healthy:
        _STATE["broken"] = True
    return code


def serve(requests: int, replies: int) -> None:
    """Run scripts one after the other in this process, on one SparkContext, until the
    requests pipe closes; then stop Spark for real."""
    startup = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
               if p]
    base_path = [p for p in sys.path[1:] if os.path.abspath(p) not in startup]  # [0]: ours
    _keep_spark_alive()
    with os.fdopen(requests, "rb") as incoming, os.fdopen(replies, "wb", buffering=0) as out:
        for line in incoming:
            before = _STATE["spark_starts"]
            code = _run_request(_loads(line), base_path)
            broken = bool(_STATE.get("broken"))
            out.write(_dumps({"returncode": code, "pid": os.getpid(),
                                  "spark_started": _STATE["spark_starts"] > before,
                                  "broken": broken}).encode() + b"\n")
            if broken:
                os._exit(code or 1)  # the JVM is gone: no cleanup can succeed
    context, stop = _spark_context(), _STATE["stop"]
    if context is not None and stop is not None:
        with contextlib.suppress(Exception):
            stop(context)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
        return
    if len(sys.argv) < 2:
        raise SystemExit("usage: pyspark_launcher.py SCRIPT [ARGS...]")
    script = sys.argv[1]
    sys.argv = prepare_argv(script, sys.argv[2:])
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
