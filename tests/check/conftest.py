"""Fixture projects for ``sluice check``: the retail example (without its PySpark job, see
tests/retail.py) as a committed git repository, driven through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.retail import copy_retail

_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": "alice@example.com",
            "GIT_COMMITTER_NAME": "alice", "GIT_COMMITTER_EMAIL": "alice@example.com"}


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, env={**os.environ, **_GIT_ENV},
                              capture_output=True, text=True, check=True).stdout

    def commit(self, message: str = "change") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} is not in {rel} exactly once"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_text(text, encoding="utf-8")

    def sluice(self, *args: str, env: dict[str, str] | None = None) -> Run:
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SLUICE_", "GITHUB_"))}
        proc = subprocess.run([sys.executable, "-m", "sluice.cli", *args], cwd=self.root,
                              env={**clean, **_GIT_ENV, "SLUICE_USER": "alice",
                                   "COLUMNS": "300", "NO_COLOR": "1", **(env or {})},
                              capture_output=True, text=True, timeout=600, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def check(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
        run = self.sluice("check", "--json", *args, env=env)
        assert run.code in (0, 1), run.err
        return run.code, run.json()


def results(report: Any, kind: str) -> list[Any]:
    return [r for r in report["results"] if r["kind"] == kind]


def errors(report: Any, kind: str) -> list[Any]:
    return [f for r in results(report, kind) for f in r["findings"] if f["severity"] == "error"]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = copy_retail(tmp_path / "retail", spark=False)
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n")
    r = Repo(root)
    r.git("init", "-q", "-b", "main")
    r.commit("initial")
    return r
