"""Fixtures for the flow tests: the retail example as a real git project, driven through the
real CLI (a ``python -m sluice.cli`` subprocess) or, where speed matters, through the library.

Deploying the first release to dev takes a few hundred milliseconds, so it is done once per
session into a template project that every test copies (git repository, ``.sluice`` home and
all).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.retail import copy_retail

from sluice.deploy.deployer import DeployOutcome, deploy
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace
from sluice.targets import create_target

USER = "alice"

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_DATE": "2026-01-05T09:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-05T09:00:00+00:00",
}


@dataclass
class Result:
    """What a CLI invocation did."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def error(self) -> str:
        """The ``Error:`` line (the first one) of stderr."""
        lines = [ln for ln in self.err.splitlines() if ln.startswith("Error: ")]
        assert lines, f"no Error: line in stderr of sluice {' '.join(self.args)}:\n{self.err}"
        return lines[0]

    @property
    def tip(self) -> str:
        lines = [ln for ln in self.err.splitlines() if ln.startswith("Tip: ")]
        assert lines, f"no Tip: line in stderr of sluice {' '.join(self.args)}:\n{self.err}"
        return lines[0]

    def json(self) -> Any:
        return json.loads(self.out)


class Project:
    """A copy of examples/retail that is a git repository with a local identity."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def home(self) -> Path:
        return self.root / ".sluice"

    # ------------------------------------------------------------------ files and git
    def git(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env={**os.environ, **_GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout

    def init_git(self) -> None:
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", USER)
        self.git("config", "user.email", f"{USER}@example.com")
        self.git("config", "commit.gpgsign", "false")
        (self.root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
        self.commit("initial")

    def commit(self, message: str = "change") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} is not in {rel} exactly once"
        path.write_text(text.replace(old, new), encoding="utf-8")

    # ------------------------------------------------------------------ the CLI
    def sluice(self, *args: str, user: str = USER, env: dict[str, str] | None = None) -> Result:
        """Run ``sluice ARGS`` in the project; never raises on a non-zero exit."""
        proc = subprocess.run(
            [sys.executable, "-m", "sluice.cli", *args],
            cwd=self.root,
            env=cli_env(user, env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        result = Result(args, proc.returncode, proc.stdout, proc.stderr)
        # no command may leak a traceback unless --debug is given
        if "--debug" not in args:
            assert "Traceback" not in proc.stderr, proc.stderr
        return result

    def ok(self, *args: str, user: str = USER) -> Result:
        result = self.sluice(*args, user=user)
        assert result.code == 0, f"sluice {' '.join(args)} failed:\n{result.err}"
        return result

    def json(self, *args: str, user: str = USER) -> Any:
        return self.ok(*args, "--json", user=user).json()

    # ------------------------------------------------------------------ the library
    @contextmanager
    def workspace(self) -> Iterator[Workspace]:
        ws = Workspace.open(self.root)
        try:
            yield ws
        finally:
            ws.close()  # the CLI cannot open the DuckDB warehouse while we hold it

    def release(self, *, allow_dirty: bool = False) -> str:
        with self.workspace() as ws:
            manifest, _ = make_release(ws, allow_dirty=allow_dirty)
            return manifest.id

    def deploy(
        self, env: str, release: str, *, kind: str = "deploy", force_all: bool = False
    ) -> DeployOutcome:
        with self.workspace() as ws:
            return deploy(ws, env, release, kind=kind, actor=USER, force_all=force_all)

    def load(self, env: str, folder: Path | None = None) -> None:
        dest = self.home / "envs" / env / "objects"
        shutil.copytree(folder or self.root / "data", dest, dirs_exist_ok=True)

    def snapshot(self, env: str) -> dict[str, Any]:
        """Everything that says what ``env`` serves: catalog, code, versions, live record."""
        target = create_target("local", env, self.home)  # independent of sluice.yaml
        try:
            view = {
                "catalog": target.catalog(),
                "current": target.current_release(),
                "versions": sorted((v.dataset, v.version) for v in target.versions()),
            }
        finally:
            target.close()
        with self.workspace() as ws:
            live = ws.state.live(env)
            view["live"] = (live.release_id, live.versions) if live else None
            view["lock"] = ws.state.current_lock(env)
            # versions an audit refused are kept apart, for inspection (docs/explore.md):
            # not part of what the environment serves
            kept = {(q.dataset, q.version) for q in ws.state.quarantined(env)}
        view["versions"] = [v for v in view["versions"] if v not in kept]
        return view


def cli_env(user: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SLUICE_") and k not in {"COLUMNS", "LINES"}
    }
    # wide enough that rich never wraps an Error: line
    env.update({**_GIT_ENV, "SLUICE_USER": user, "COLUMNS": "400", "NO_COLOR": "1"})
    env.update(extra or {})
    return env


def _copy_example(dest: Path, *, spark: bool = False) -> Project:
    copy_retail(dest, spark=spark)
    project = Project(dest)
    project.init_git()
    return project


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_USER", USER)


@dataclass(frozen=True)
class Template:
    root: Path
    release: str  # the first release, live in dev


@pytest.fixture(scope="session")
def deployed_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The retail project with its first release built and live in dev (data loaded)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG"):
            mp.delenv(name, raising=False)
        mp.setenv("SLUICE_USER", USER)
        project = _copy_example(tmp_path_factory.mktemp("template") / "retail")
        release = project.release()
        project.load("dev")
        project.deploy("dev", release)
    return Template(project.root, release)


@pytest.fixture
def fresh(tmp_path: Path) -> Project:
    """The retail example (without its PySpark job: see tests/retail.py) committed to a new
    git repository; nothing built yet."""
    return _copy_example(tmp_path / "retail")


@pytest.fixture
def fresh_with_spark(tmp_path: Path, spark_runtime: None) -> Project:
    """The whole retail example, its PySpark job included; nothing built yet."""
    return _copy_example(tmp_path / "retail", spark=True)


@pytest.fixture
def deployed(deployed_template: Template, tmp_path: Path) -> Project:
    """A private copy of the template: release 1 live in dev."""
    dest = tmp_path / "retail"
    shutil.copytree(deployed_template.root, dest, symlinks=True)
    return Project(dest)
