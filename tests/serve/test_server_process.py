"""A real ``sluice serve`` process on a free loopback port, and the CLI in team mode (real
``sluice`` subprocesses with SLUICE_SERVER and SLUICE_TOKEN, or after ``sluice login``)
approving, promoting, shipping and reading through it; refusals exit as in local mode."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.flow.conftest import Result, cli_env
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject

_clean_env, api_template = fx._clean_env, fx.api_template


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    banner: str
    project: ApiProject
    xdg: Path

    def get(self, path: str, who: str = "vic") -> Any:
        r = httpx.get(self.url + path, headers=self.project.bearer(who), timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def server(api_template: ApiProject,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("served")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_USER", fx.AUTHOR)
        project = fx.copy_project(api_template, base / "retail")
    proc, url, banner = fx.start_server(project, base / "xdg-server")
    try:
        yield Server(proc, url, banner, project, base / "xdg")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def sluice(server: Server, *args: str, who: str | None = "vic", cwd: Path | None = None,
           extra: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    env = {"XDG_CONFIG_HOME": str(server.xdg)}
    if who is not None:
        env |= {"SLUICE_SERVER": server.url, "SLUICE_TOKEN": server.project.tokens[who]}
    env |= extra or {}
    proc = subprocess.run([sys.executable, "-m", "sluice.cli", *args],
                          cwd=cwd or server.project.root, env=cli_env("mallory", env),
                          input=stdin, capture_output=True, text=True, timeout=180,
                          check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    for token in server.project.tokens.values():  # never shown, whatever happens
        assert token not in proc.stdout + proc.stderr
    return Result(args, proc.returncode, proc.stdout, proc.stderr)


def test_the_server_says_where_it_listens_and_its_store(server: Server) -> None:
    assert "sluice serve: http://127.0.0.1:" in server.banner
    assert "state store sqlite" in server.banner
    health = httpx.get(server.url + "/healthz", timeout=30).json()
    assert health["status"] == "ok" and health["state"] == "sqlite"


def test_status_and_history_come_from_the_server(server: Server, tmp_path: Path) -> None:
    # in a folder that is no project: only the server can answer
    res = sluice(server, "status", "--json", cwd=tmp_path)
    assert res.code == 0, res.err
    assert res.json() == server.get("/api/status")
    table = sluice(server, "status", cwd=tmp_path)
    assert table.code == 0 and "pending approval" in table.out
    assert server.project.release in table.out
    history = sluice(server, "history", "staging", "--limit", "3", "--json", cwd=tmp_path)
    assert history.code == 0
    assert history.json() == server.get("/api/history?env=staging&limit=3")


def test_approve_and_promote_through_the_server(server: Server) -> None:
    rid = server.project.release
    denied = sluice(server, "promote", "staging", "prod", who="dave")
    assert denied.code == 1 and "approv" in denied.error and denied.tip
    approved = sluice(server, "approve", "prod", "--release", rid, "--comment", "ship it",
                      who="priya")
    assert approved.code == 0, approved.err
    assert approved.out.strip() == f"approved release {rid} for prod by priya"
    promoted = sluice(server, "promote", "staging", "prod", who="dave")
    assert promoted.code == 0, promoted.err
    assert promoted.out.startswith(f"prod: release {rid} is live")
    prod = server.get("/api/status")[2]
    assert prod["release"] == rid and prod["last_deployment"]["kind"] == "promote"
    kinds = {(e["kind"], e["actor"]) for e in server.get("/api/history?env=prod&limit=10")}
    assert ("approved", "priya") in kinds


def test_refusals_exit_as_in_local_mode(server: Server, tmp_path: Path) -> None:
    bad = sluice(server, "status", cwd=tmp_path, who=None,
                 extra={"SLUICE_SERVER": server.url, "SLUICE_TOKEN": "slc_0000_nope"})
    assert bad.code == 2 and bad.error.startswith("Error: ") and "sluice login" in bad.tip
    revoked = sluice(server, "status", cwd=tmp_path, who="gone")
    assert revoked.code == 2 and "revoked" in revoked.error and "sluice login" in revoked.tip
    viewer = sluice(server, "rollback", "staging", who="vic")
    assert viewer.code == 1 and "vic may not deploy in staging" in viewer.error
    assert "deployer:staging" in viewer.tip
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    gone = sluice(server, "status", cwd=tmp_path, who=None,
                  extra={"SLUICE_SERVER": closed, "SLUICE_TOKEN": "slc_0000_nope"})
    assert gone.code == 2 and closed in gone.error


def test_login_stores_the_token_privately_and_logout_forgets_it(server: Server,
                                                                tmp_path: Path) -> None:
    no_tty = sluice(server, "login", server.url, who=None, stdin="")  # CI: a pipe, no terminal
    assert no_tty.code == 2 and "no terminal" in no_tty.error and "--token-stdin" in no_tty.tip
    assert "Warning" not in no_tty.err
    wrong = sluice(server, "login", server.url, "--token-stdin", who=None, stdin="slc_x_y\n")
    assert wrong.code == 2 and not (server.xdg / "sluice" / "credentials.json").exists()
    ok = sluice(server, "login", server.url, "--token-stdin", who=None,
                stdin=server.project.tokens["vic"] + "\n")
    assert ok.code == 0, ok.err
    assert "as vic (viewer:*)" in ok.out
    path = server.xdg / "sluice" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["server"] == server.url
    res = sluice(server, "status", "--json", who=None, cwd=tmp_path)  # no SLUICE_* at all
    assert res.code == 0, res.err
    assert [e["env"] for e in res.json()] == ["dev", "staging", "prod"]
    # a project that names the server uses it; one that names none stays local
    declared = tmp_path / "declared"
    declared.mkdir()
    (declared / "sluice.yaml").write_text(f"server: {{url: {server.url}}}\n")
    assert sluice(server, "status", "--json", who=None, cwd=declared).json() == res.json()
    personal = tmp_path / "personal"
    personal.mkdir()
    (personal / "sluice.yaml").write_text("project: mine\n")
    mine = sluice(server, "status", "--json", who=None, cwd=personal)
    assert mine.code == 0 and mine.json() == []  # its own (empty) state, not the server's
    assert sluice(server, "logout", who=None, cwd=tmp_path).code == 0
    local = sluice(server, "status", who=None, cwd=tmp_path)
    assert local.code == 2 and "no sluice.yaml" in local.error  # local mode again


def test_ship_runs_on_the_server_and_stops_at_the_approval(server: Server) -> None:
    server.project.commit("shipped through the server")
    res = sluice(server, "ship", who="dave")
    assert res.code == 0, res.err
    assert "✓ deploy:dev succeeded" in res.err and "approval:prod waiting" in res.err
    assert "deployed to dev, staging" in res.out and "stopped before prod" in res.out
    executions = server.get("/api/executions?limit=1")
    assert executions[0]["status"] == "waiting" and executions[0]["actor"] == "dave"


def test_sigterm_stops_the_server_cleanly(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 60
    while server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.proc.returncode == 0
    err = server.proc.stderr.read() if server.proc.stderr else ""
    assert "Traceback" not in err
