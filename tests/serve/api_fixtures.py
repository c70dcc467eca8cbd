"""Fixtures of the API tests: the retail example (no Spark) as a git project with an
``access:`` section, release 1 live in dev and staging, and tokens for a cast of callers.

One template per session is built (two deploys, ~2 s); each module copies it (cheap) and
issues its own tokens in its copy's state store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.deploy.deployer import deploy
from sluice.flow.gates import promote
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace
from sluice.state.schema import approvals, deliveries, executions
from tests.flow.conftest import _GIT_ENV
from tests.retail import copy_retail

AUTHOR = "alice"
GIT_ENV = _GIT_ENV  # the flow tests' git settings (no user config, fixed dates)
WEBHOOK_SECRET = "hook-secret-5b1f0c"
ACCESS = """
pipeline: {check: false, mode: queued}
triggers: {webhook: {secret_env: SLUICE_WEBHOOK_SECRET}}
access:
  users:
    priya: {roles: ["approver:prod", "viewer:*"]}
    sam: {roles: ["approver:staging", "viewer:*"]}
    dave: {roles: ["deployer:*"]}
    vic: {roles: ["viewer:*"]}
    alice: {roles: ["approver:prod", "deployer:*"]}
    root: {roles: [admin]}
    gone: {roles: [admin]}
"""
#: who gets a token, with the roles sluice.yaml gives them
CAST = {"priya": ["approver:prod", "viewer:*"], "sam": ["approver:staging", "viewer:*"],
        "dave": ["deployer:*"], "vic": ["viewer:*"], "alice": ["approver:prod", "deployer:*"],
        "root": ["admin"], "gone": ["admin"]}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV},
                          capture_output=True, text=True, check=True, timeout=60).stdout


@dataclass
class ApiProject:
    root: Path
    release: str  # live in dev and staging
    tokens: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def home(self) -> Path:
        return self.root / ".sluice"

    def workspace(self) -> Workspace:
        return Workspace.open(self.root)

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def commit(self, message: str) -> str:
        with (self.root / "sluice.yaml").open("a", encoding="utf-8") as f:
            f.write(f"# {message}\n")
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD").strip()

    def snapshot(self) -> dict[str, Any]:
        """What a refused call must not change: live releases, approvals, executions and
        webhook deliveries."""
        ws = self.workspace()
        try:
            live = {env: (lv.release_id if (lv := ws.state.live(env)) else None)
                    for env in ("dev", "staging", "prod")}
            with ws.state.transaction("snapshot") as conn:
                counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t))
                          .scalar() for t in (approvals, executions, deliveries)}
            return {"live": live, **counts}
        finally:
            ws.close()

    def events(self, kind: str) -> list[Any]:
        ws = self.workspace()
        try:
            return ws.state.events(kind=kind, limit=1000)
        finally:
            ws.close()


def github_push(commit: str, delivery: str, *, ref: str = "refs/heads/main",
                secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    """A GitHub push delivery: its raw body and signed headers."""
    body = json.dumps({"ref": ref, "after": commit, "before": "0" * 40,
                       "pusher": {"name": "alice"},
                       "repository": {"full_name": "team/retail"}}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
                  "X-Hub-Signature-256": f"sha256={signature}",
                  "Content-Type": "application/json"}


def issue_tokens(root: Path) -> dict[str, str]:
    """A token per member of :data:`CAST`; ``gone``'s is revoked at once (kept, to show
    that a revoked token is refused)."""
    from sluice.serve.tokens import issue_token, revoke

    ws = Workspace.open(root)
    try:
        out = {name: issue_token(ws.state, name, "user", roles, "test")
               for name, roles in CAST.items()}
        revoke(ws.state, "gone")
        return out
    finally:
        ws.close()


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> ApiProject:
    root = tmp_path_factory.mktemp("api-template") / "retail"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_SERVER", "SLUICE_TOKEN"):
            mp.delenv(name, raising=False)
        mp.setenv("SLUICE_USER", AUTHOR)
        for k, v in GIT_ENV.items():
            mp.setenv(k, v)
        copy_retail(root, spark=False)
        config = root / "sluice.yaml"
        text = config.read_text(encoding="utf-8").replace(
            "      approval_required: true\n",
            "      approval_required: true\n      distinct_approver: true\n")
        config.write_text(text + ACCESS, encoding="utf-8")
        (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.name", AUTHOR)
        git(root, "config", "user.email", f"{AUTHOR}@example.com")
        git(root, "config", "commit.gpgsign", "false")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
        for env in ("dev", "staging", "prod"):
            shutil.copytree(root / "data", root / ".sluice" / "envs" / env / "objects",
                            dirs_exist_ok=True)
        ws = Workspace.open(root)
        try:
            manifest, _ = make_release(ws)
            deploy(ws, "dev", manifest.id, actor=AUTHOR)
            promote(ws, "dev", "staging")
        finally:
            ws.close()
    return ApiProject(root, manifest.id)


def copy_project(template: ApiProject, dest: Path) -> ApiProject:
    shutil.copytree(template.root, dest, symlinks=True)
    project = ApiProject(dest, template.release)
    project.tokens = issue_tokens(dest)
    return project


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG", "SLUICE_SERVER",
                 "SLUICE_TOKEN", "SLUICE_TEST_KILL_AT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_USER", AUTHOR)
    monkeypatch.setenv("SLUICE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # never the real login
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)


def wait_until(probe: Any, timeout: float, what: str) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_server(project: ApiProject, xdg: Path, extra: dict[str, str] | None = None,
                 ) -> tuple[subprocess.Popen[str], str, str]:
    """``sluice serve --port 0`` in ``project``: the process, its URL and its banner."""
    import select
    import sys

    from tests.flow.conftest import cli_env

    env = cli_env("server", {"SLUICE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                             "XDG_CONFIG_HOME": str(xdg), **(extra or {})})
    proc = subprocess.Popen([sys.executable, "-m", "sluice.cli", "serve", "--port", "0"],
                            cwd=project.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    if not ready:
        proc.kill()
        raise AssertionError("sluice serve printed nothing in 60 s")
    banner = proc.stdout.readline()
    url = next((w for w in banner.split() if w.startswith("http://")), None)
    if url is None:
        proc.kill()
        raise AssertionError(f"no URL in {banner!r}: {proc.communicate(timeout=30)[1]}")
    return proc, url, banner


def module_project(template: ApiProject, factory: pytest.TempPathFactory,
                   name: str) -> Iterator[ApiProject]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_USER", AUTHOR)
        yield copy_project(template, factory.mktemp(name) / "retail")
