"""Fixtures for the release tests: real git repositories in temporary directories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.release import ArtifactStore


class Repo:
    """A throwaway git repository with a local identity and helpers to change it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Ada Lovelace")
        self.git("config", "user.email", "ada@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_DATE": "2024-05-01T12:00:00+00:00",
            "GIT_COMMITTER_DATE": "2024-05-01T12:00:00+00:00",
        }
        proc = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return proc.stdout

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture(autouse=True)
def _no_sluice_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SLUICE_HOME", raising=False)
    yield


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A repository with a small pipeline committed."""
    r = Repo(tmp_path / "proj")
    r.write("sluice.yaml", "project: demo\n")
    r.write("jobs/orders.sql", "select * from raw.orders\n")
    r.write("jobs/customers.sql", "select * from raw.customers\n")
    r.write(".gitignore", "*.log\n")
    r.commit("initial")
    return r


@pytest.fixture
def store(repo: Repo) -> ArtifactStore:
    return ArtifactStore.for_project(repo.root)
