"""``sluice users add|list|revoke`` through the real console script (a subprocess), against
the project's real SQLite state store, then checked by the server's own Authenticator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sluice.errors import AuthError
from sluice.project.workspace import Workspace
from sluice.serve.identity import Authenticator
from tests.flow.conftest import Result, cli_env
from tests.serve.conftest import project_with


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project for the module (each test uses its own names)."""
    return project_with(tmp_path_factory.mktemp("users") / "retail")


def sluice(root: Path, *args: str) -> Result:
    proc = subprocess.run([sys.executable, "-m", "sluice.cli", "users", *args], cwd=root,
                          env=cli_env("admin"), capture_output=True, text=True, timeout=120,
                          check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(("users", *args), proc.returncode, proc.stdout, proc.stderr)


def authenticate(root: Path, token: str) -> tuple[str, set[tuple[str, str]]]:
    ws = Workspace.open(root)
    try:
        caller = Authenticator(ws).authenticate(f"Bearer {token}")
        return caller.name, set(caller.roles)
    finally:
        ws.close()


def test_add_prints_the_token_once_and_the_server_accepts_it(root: Path) -> None:
    r = sluice(root, "add", "eve", "--role", "approver:prod", "--role", "viewer")
    assert r.code == 0, r.err
    [token] = [ln for ln in r.out.split() if ln.startswith("slc_")]
    assert "cannot be shown again" in r.out
    assert f"sluice users revoke {token.split('_')[1]}" in r.out
    assert "user eve: approver:prod, viewer:*" in r.out
    assert authenticate(root, token) == ("eve", {("approver", "prod"), ("viewer", "*")})
    listed = {u["name"]: u for u in json.loads(sluice(root, "list", "--json").out)}
    assert listed["eve"]["source"] == "added" and listed["eve"]["tokens_active"] == 1
    assert token not in json.dumps(listed)  # never shown again
    assert token.split("_", 2)[2] not in (root / ".sluice" / "state.db").read_bytes().decode(
        "latin-1")


def test_add_json_for_a_declared_service_account(root: Path) -> None:
    r = sluice(root, "add", "ci", "--role", "deployer:staging", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["name"] == "ci" and data["kind"] == "service"  # as declared, no --service
    assert data["roles"] == ["deployer:dev", "deployer:staging"]  # declared and added
    assert authenticate(root, data["token"])[0] == "ci"
    listed = {u["name"]: u for u in json.loads(sluice(root, "list", "--json").out)}
    assert listed["ci"]["source"] == "config+added"
    assert listed["priya"]["source"] == "config" and listed["priya"]["tokens_active"] == 0


def test_a_declared_user_gets_a_token_without_naming_roles(root: Path) -> None:
    r = sluice(root, "add", "priya", "--json")
    assert r.code == 0, r.err
    name, roles = authenticate(root, r.json()["token"])
    assert name == "priya" and roles == {("approver", "prod"), ("viewer", "*")}


@pytest.mark.parametrize(("args", "message"), [
    (["add", "zed", "--role", "aprover:prod"], "unknown role 'aprover'; did you mean 'approver'?"),
    (["add", "zed", "--role", "approver:prd"],
     "unknown environment 'prd'; did you mean 'prod'?"),
    (["add", "zed"], "zed is not declared under access: in sluice.yaml: give it a role"),
    (["add", "Zed", "--role", "viewer"], "invalid name 'Zed'"),
    (["add", "priya", "--service"], "priya is declared as a user in sluice.yaml"),
    (["revoke", "nobdy"], "no token or principal 'nobdy'"),
])
def test_bad_input_is_refused_with_a_tip(root: Path, args: list[str], message: str) -> None:
    r = sluice(root, *args)
    assert r.code == 2, r.err
    assert message in r.error
    assert not any(ln.startswith("slc_") for ln in r.out.split())


def test_revoke_one_token_then_all_of_a_name(root: Path) -> None:
    one = sluice(root, "add", "rob", "--role", "deployer:dev", "--json").json()["token"]
    two = sluice(root, "add", "rob", "--json").json()["token"]  # more tokens need no role
    r = sluice(root, "revoke", one.split("_")[1])
    assert r.code == 0 and "revoked 1 token(s)" in r.out
    with pytest.raises(AuthError, match="revoked"):
        authenticate(root, one)
    assert authenticate(root, two)[0] == "rob"
    again = sluice(root, "revoke", one)  # the whole token names its id; never echoed back
    assert again.code == 2 and "already revoked" in again.error
    assert one.split("_", 2)[2] not in again.err + again.out
    r = sluice(root, "revoke", "rob", "--json")
    assert r.json() == {"revoked": 1, "what": "rob"}
    with pytest.raises(AuthError, match="revoked"):
        authenticate(root, two)
    listed = {u["name"]: u for u in json.loads(sluice(root, "list", "--json").out)}
    assert listed["rob"]["tokens_active"] == 0
    assert [t["active"] for t in listed["rob"]["tokens"]] == [False, False]


def test_list_as_a_table(root: Path) -> None:
    r = sluice(root, "list")
    assert r.code == 0, r.err
    for word in ("name", "kind", "roles", "source", "priya", "approver:prod", "config"):
        assert word in r.out
