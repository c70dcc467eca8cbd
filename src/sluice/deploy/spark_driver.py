"""One Spark per deploy: a long-lived driver process that runs every PySpark (and glue) script
of a deploy, a ``sluice run`` or a check's integration run, so Spark starts once, not once
per job (5-10 s each).

:func:`shared` opens a scope (re-entrant, counted across threads). Inside it,
:func:`sluice.deploy.spark_jobs.run_script` hands each launcher command
(``python pyspark_launcher.py SCRIPT ARGS...``) to a driver: the same launcher file started as
``pyspark_launcher.py --serve``, which runs each script in its own process with the script's
argv, cwd, environment, ``sys.path`` and progress file, then puts them back (see
:func:`sluice.deploy.pyspark_launcher.serve`). The SparkContext survives between scripts; the
session, cached data and temporary views do not. Outside a scope nothing changes: one process
per script.

What a caller sees is what a process gives: the script's stdout and stderr (the driver's own
file descriptors point at two files of this run, so the JVM's log lines are in them too), its
exit status (``sys.exit(n)`` → n, an exception → 1 with its traceback), and
``TimeoutExpired`` after ``timeout`` (the driver and its JVM are killed). When the driver
dies during a script (``os._exit``, a JVM crash) that script fails with the driver's exit
status and output, and the next script gets a fresh driver.

Drivers are keyed by what fixes a SparkContext at its start: the interpreter and the
environment variables that reach Spark's launch (``SLUICE_SPARK_CONF_*`` from a job's
``spark_conf``, ``SPARK_*``, ``PYSPARK_*``, ``JAVA_HOME``...). Jobs with different static
confs therefore never share a context configured for someone else: each key has its own
driver, and all of them end with the scope (or at interpreter exit). Scripts of one driver run
one at a time; a ``run_script`` waiting for the driver starts its timeout when its script
starts.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluice.deploy.pyspark_launcher import PARAMS_ENV, POLL_SECONDS, PROGRESS_ENV

LAUNCHER = Path(__file__).with_name("pyspark_launcher.py")
SHARED_ENV = "SLUICE_SPARK_SHARED"
CLOSE_SECONDS = 30.0  # for Spark to stop cleanly when a scope ends
_KEY_PREFIXES = ("SLUICE_SPARK_CONF_", "SPARK_", "PYSPARK_", "HADOOP_")
_KEY_NAMES = frozenset({"JAVA_HOME", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "TZ"})

Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Stats:
    """Counted over the life of this process: drivers started, SparkContexts started in
    them, scripts they ran (benchmarks and tests read these)."""

    drivers: int = 0
    spark_starts: int = 0
    scripts: int = 0


STATS = Stats()
_lock = threading.Lock()
_depth = 0
_drivers: dict[Key, Driver] = {}


@contextmanager
def shared() -> Iterator[None]:
    """Inside, PySpark scripts run in shared drivers; the last scope to exit ends them."""
    global _depth
    with _lock:
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            ending = list(_drivers.values()) if _depth == 0 else []
            if _depth == 0:
                _drivers.clear()
        for driver in ending:
            driver.close()


def active() -> bool:
    """Whether a :func:`shared` scope is open (in any thread) and not switched off with
    ``SLUICE_SPARK_SHARED=0`` (one process per script, as outside a scope: for a script that
    will not share, and for benchmarks comparing both)."""
    return _depth > 0 and os.environ.get(SHARED_ENV, "1") != "0"


def driver_key(args: list[str], env: Mapping[str, str]) -> Key:
    """What a driver's SparkContext was started with and a script must agree on."""
    return args[0], tuple(sorted((k, v) for k, v in env.items()
                                 if k.startswith(_KEY_PREFIXES) or k in _KEY_NAMES))


def is_launch(args: list[str]) -> bool:
    """A launcher command (the only kind a driver can run): ``PYTHON LAUNCHER SCRIPT ...``."""
    return len(args) >= 3 and args[1] == str(LAUNCHER) and args[2] != "--serve"


def run(args: list[str], cwd: Path, env: Mapping[str, str], progress_file: Path,
        on_progress: Callable[[str], None] | None,
        timeout: float) -> subprocess.CompletedProcess[str] | None:
    """Run a launcher command in a shared driver; None outside a scope (or for a command
    that is not the launcher's), for the caller to start a process as usual."""
    if not active() or not is_launch(args):
        return None
    key = driver_key(args, env)
    while True:
        with _lock:
            driver = _drivers.get(key)
            if driver is None or not driver.alive():
                if driver is not None:  # died between two scripts
                    driver.close()
                driver = _drivers[key] = Driver(args[0], env)
        with driver.busy:
            if not driver.alive():  # ended while this one waited its turn: take a fresh one
                continue
            proc = driver.run(args, cwd, env, progress_file, on_progress, timeout)
        if not driver.alive():
            with _lock:
                if _drivers.get(key) is driver:
                    del _drivers[key]
        return proc


class Progress:
    """Passes each complete line newly appended to a progress file on to a callback (only the
    newest of a batch: it feeds a live line)."""

    def __init__(self, path: Path, on_progress: Callable[[str], None] | None) -> None:
        self.path, self.on_progress, self.seen = path, on_progress, 0

    def forward(self) -> None:
        if self.on_progress is None or not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            text = fh.read()
        lines = text[:text.rfind("\n") + 1].splitlines()  # a line being written waits
        fresh = lines[self.seen:]
        self.seen = len(lines)
        if fresh:
            self.on_progress(fresh[-1])


@dataclass
class Driver:
    """One ``pyspark_launcher.py --serve`` process; its stdout/stderr are files that each
    script's run truncates first, so what they hold after it is that script's output."""

    python: str
    env: Mapping[str, str]
    busy: threading.Lock = field(default_factory=threading.Lock)
    proc: subprocess.Popen[bytes] | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="sluice-spark-driver-"))  # 0700
        self.out_path, self.err_path = self.folder / "stdout", self.folder / "stderr"
        requests_r, self.requests = os.pipe()
        self.replies, replies_w = os.pipe()
        env = {k: v for k, v in self.env.items() if k not in (PARAMS_ENV, PROGRESS_ENV)}
        with self.out_path.open("ab") as out, self.err_path.open("ab") as err:
            # O_APPEND: truncating between scripts is safe for every writer, the JVM's too
            self.proc = subprocess.Popen(
                [self.python, str(LAUNCHER), "--serve", str(requests_r), str(replies_w)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                pass_fds=(requests_r, replies_w), start_new_session=True)
        os.close(requests_r)
        os.close(replies_w)
        STATS.drivers += 1

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return not self.closed and self.proc is not None and self.proc.poll() is None

    def run(self, args: list[str], cwd: Path, env: Mapping[str, str], progress_file: Path,
            on_progress: Callable[[str], None] | None,
            timeout: float) -> subprocess.CompletedProcess[str]:
        """One script; the caller holds :attr:`busy`."""
        assert self.proc is not None
        for path in (self.out_path, self.err_path):
            os.truncate(path, 0)
        request = {"script": args[2], "args": args[3:], "cwd": str(cwd),
                   "env": {**env, PROGRESS_ENV: str(progress_file)}}
        progress = Progress(progress_file, on_progress)
        deadline = time.monotonic() + timeout
        reply: dict[str, Any] | None = None
        try:
            os.write(self.requests, json.dumps(request).encode() + b"\n")
            reply = self._reply(progress, deadline)
        except BrokenPipeError:  # it was on its way out: make sure, report it as a death
            self._terminate()
        if reply is None and self.proc.poll() is None:  # timed out
            out, err = self._read(self.out_path), self._read(self.err_path)
            self.kill()
            raise subprocess.TimeoutExpired(args, timeout, out, err)
        progress.forward()
        STATS.scripts += 1
        out, err = self._read(self.out_path), self._read(self.err_path)
        if reply is None:  # the driver died with the script: its status, as a process's
            code = self.proc.returncode
        else:
            code = int(reply["returncode"])
            STATS.spark_starts += bool(reply.get("spark_started"))
        if reply is not None and reply.get("garbled"):
            err += ("\nsluice: the Spark driver answered something unreadable after this "
                    "script (did it replace part of the standard library?); the driver was "
                    "ended and the next job gets a fresh one\n")
            self.kill()
        elif reply is None or reply.get("broken"):
            self.close()
        return subprocess.CompletedProcess(args, code, out, err)

    def _reply(self, progress: Progress, deadline: float) -> dict[str, Any] | None:
        """The driver's answer; None when it died or the deadline passed first."""
        assert self.proc is not None
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.replies], [], [], min(POLL_SECONDS, left))
            if ready:
                chunk = os.read(self.replies, 65536)
                if not chunk:  # its end of the pipe closed: it exited
                    self.proc.wait()
                    return None
                data += chunk
                if data.endswith(b"\n"):
                    try:
                        return dict(json.loads(data))
                    except (ValueError, TypeError):  # a script broke the driver's own json
                        return {"returncode": 1, "broken": True, "garbled": True}
            progress.forward()

    @staticmethod
    def _read(path: Path) -> str:
        return path.read_bytes().decode("utf-8", errors="replace")

    def _terminate(self) -> None:
        """Kill the driver and everything it started (its JVM), keeping its output files."""
        if self.proc is not None and self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill(self) -> None:
        """End the driver and everything it started now."""
        self._terminate()
        self.close()

    def close(self) -> None:
        """Let Spark stop (closing the requests pipe ends the serve loop), then clean up."""
        if self.closed:
            return
        self.closed = True
        for fd in (self.requests, self.replies):
            with suppress(OSError):
                os.close(fd)
        if self.proc is not None:
            try:
                self.proc.wait(CLOSE_SECONDS)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            with suppress(ProcessLookupError):  # a JVM the driver left behind
                os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


def _end_all() -> None:
    with _lock:
        ending = list(_drivers.values())
        _drivers.clear()
    for driver in ending:
        driver.kill()


atexit.register(_end_all)


def pids() -> list[int]:
    """The process ids of the running drivers (tests look for them)."""
    with _lock:
        return [d.pid for d in _drivers.values() if d.alive()]


__all__ = ["SHARED_ENV", "STATS", "Driver", "Stats", "active", "driver_key", "is_launch", "pids",
           "run", "shared"]
