"""Fixtures of the execution tests: the retail example (without Spark) as a real git
repository with source data loaded in every environment, copied per test from one session
template; engines run in threads of the test process or in child processes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from sluice.project.workspace import Workspace
from sluice.serve.executions import ACTIVE, Execution, get_execution, logs, start_execution
from sluice.serve.pipeline import Engine
from tests.flow.conftest import _GIT_ENV
from tests.retail import copy_retail

USER = "alice"
GIT_ENV = _GIT_ENV  # the flow tests' git settings (no user config, fixed dates)
ENVS = ("dev", "staging", "prod")
PIPELINE_LINE = "pipeline: {check: false, mode: superseded}"
T = TypeVar("T")


class Project:
    """A copy of the template: a git repository whose commits the test makes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / ".sluice"
        self._changes = 0

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, env={**os.environ, **GIT_ENV},
                              capture_output=True, text=True, check=True).stdout

    def commit(self, message: str = "change") -> str:
        """A new commit (a comment line in sluice.yaml: a new release, nothing to compute)."""
        self._changes += 1
        with (self.root / "sluice.yaml").open("a", encoding="utf-8") as f:
            f.write(f"# {message} {self._changes}\n")
        return self.commit_all(message)

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def set_pipeline(self, mode: str = "superseded", *, check: bool = False) -> str:
        """Set ``pipeline:`` in sluice.yaml and commit it."""
        path = self.root / "sluice.yaml"
        text = path.read_text(encoding="utf-8")
        line = f"pipeline: {{check: {str(check).lower()}, mode: {mode}}}"
        path.write_text(re.sub(r"(?m)^pipeline: .*$", line, text), encoding="utf-8")
        return self.commit_all(f"pipeline {mode}")

    def workspace(self) -> Workspace:
        return Workspace.open(self.root)

    def start(self, commit: str, **kwargs: object) -> int:
        ws = self.workspace()
        try:
            return start_execution(ws, commit=commit, ref="refs/heads/main", trigger="api",
                                   detail={}, actor=USER, **kwargs)  # type: ignore[arg-type]
        finally:
            ws.close()

    def execution(self, eid: int) -> Execution:
        ws = self.workspace()
        try:
            return get_execution(ws.state, eid)
        finally:
            ws.close()

    def wait(self, eid: int, *statuses: str, timeout: float = 240.0) -> Execution:
        """The execution once its status is one of ``statuses`` (fails after ``timeout``)."""
        try:
            return wait_for(lambda: _if(self.execution(eid), statuses), timeout,
                            f"execution #{eid} to become {'/'.join(statuses)}")
        except AssertionError as exc:  # say where it is stuck
            ex = self.execution(eid)
            ws = self.workspace()
            try:
                tail = [ln.line for ln in logs(ws.state, eid)][-15:]
            finally:
                ws.close()
            raise AssertionError(f"{exc}: {ex.to_dict()}\nlog tail: {tail}") from None


def _if(ex: Execution, statuses: tuple[str, ...]) -> Execution | None:
    if ex.status not in statuses and ex.status not in ACTIVE:
        raise AssertionError(f"execution #{ex.id} ended {ex.status}: {ex.message}")
    return ex if ex.status in statuses else None


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class RunningEngine:
    """An Engine ticking in a thread of the test process."""

    def __init__(self, root: Path, owner: str) -> None:
        self.engine = Engine(root, owner, tick_seconds=0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.engine.run_forever, args=(self.stop,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG", "SLUICE_TEST_KILL_AT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_USER", USER)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def exec_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The retail project, committed, ``sluice check`` off, data loaded in every env."""
    root = tmp_path_factory.mktemp("exec-template") / "retail"
    copy_retail(root, spark=False)
    p = Project(root)
    p.git("init", "-q", "-b", "main")
    p.git("config", "user.name", USER)
    p.git("config", "user.email", f"{USER}@example.com")
    p.git("config", "commit.gpgsign", "false")
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    with (root / "sluice.yaml").open("a", encoding="utf-8") as f:
        f.write(f"\n{PIPELINE_LINE}\n")
    p.commit_all("initial")
    for env in ENVS:
        shutil.copytree(root / "data", p.home / "envs" / env / "objects", dirs_exist_ok=True)
    return root


@pytest.fixture
def project(exec_template: Path, tmp_path: Path) -> Project:
    dest = tmp_path / "retail"
    shutil.copytree(exec_template, dest, symlinks=True)
    return Project(dest)


@pytest.fixture
def engine(project: Project) -> Iterator[RunningEngine]:
    running = RunningEngine(project.root, "engine-a")
    try:
        yield running
    finally:
        running.close()
