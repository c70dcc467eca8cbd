"""Fixtures: the retail example as a git project with one release live in dev and a second
release (one job changed) built, copied fresh for every test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sluice.deploy import spark_driver
from sluice.deploy.deployer import KILL_AT_VAR, deploy
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace
from tests.retail import copy_retail

# Variables that would point a sluice process somewhere else than the project under test.
_FOREIGN = ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG", "SLUICE_USER", KILL_AT_VAR)


@contextmanager
def open_ws(root: Path) -> Iterator[Workspace]:
    ws = Workspace.open(root)
    try:
        yield ws
    finally:
        ws.close()


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@dataclass
class Project:
    """A retail project on disk: release ``a`` live in dev, release ``b`` built, not deployed."""

    root: Path
    a: str
    b: str
    a_versions: dict[str, str]

    def ws(self) -> AbstractContextManager[Workspace]:
        """An in-process workspace; closed on exit, since DuckDB lets one process in."""
        return open_ws(self.root)

    def sluice(self, *args: str, kill_at: str | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``python -m sluice.cli ARGS`` in the project, as a separate process."""
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
        env["SLUICE_USER"] = "tester"
        if kill_at is not None:
            env[KILL_AT_VAR] = kill_at
        proc = subprocess.run([sys.executable, "-m", "sluice.cli", *args], cwd=self.root,
                              env=env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"sluice {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def sluice_json(self, *args: str) -> Any:
        return json.loads(self.sluice(*args, "--json").stdout)

    def commit_change(self, job_file: str, comment: str) -> str:
        """Change one job's code, commit it and build a release; returns its id."""
        path = self.root / "jobs" / job_file
        # a comment alone no longer changes a SQL job's fingerprint: wrap the query instead
        alias = "".join(ch if ch.isalnum() else "_" for ch in comment)
        path.write_text(f"SELECT * FROM (\n{path.read_text()}\n) AS {alias}\n")
        _git(self.root, "commit", "-qam", comment)
        with self.ws() as ws:
            manifest, _ = make_release(ws)
        return manifest.id


@pytest.fixture(scope="session", autouse=True)
def _one_spark_driver() -> Iterator[None]:
    """One Spark driver for every in-process deploy of these tests (started only if a PySpark
    job runs): each deploy's own scope nests in this one, so Spark starts once per session.
    Safe: every script gets a fresh session, environment, cwd and modules (test_spark_driver
    pins that), and scripts of another Spark configuration get their own driver."""
    with spark_driver.shared():
        yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _FOREIGN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_USER", "tester")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("template") / "retail"
    copy_retail(root, spark=False)
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n")
    _git(root, "init", "-q")
    _git(root, "config", "user.name", "tester")
    _git(root, "config", "user.email", "tester@example.com")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    saved = {k: os.environ.pop(k) for k in _FOREIGN if k in os.environ}
    try:
        with open_ws(root) as ws:
            a, _ = make_release(ws)
            shutil.copytree(root / "data", ws.home / "envs" / "dev" / "objects")
            deploy(ws, "dev", a.id, actor="tester")
            live = ws.state.live("dev")
            assert live is not None
        project = Project(root, a.id, "", dict(live.versions))
        project.b = project.commit_change("customer_orders.sql", "second release")
    finally:
        os.environ.update(saved)
    return project


@pytest.fixture
def project(template: Project, tmp_path: Path) -> Project:
    """A private copy of the template (symlinks kept: ``current`` is a relative link)."""
    root = tmp_path / "retail"
    shutil.copytree(template.root, root, symlinks=True)
    return Project(root, template.a, template.b, dict(template.a_versions))
