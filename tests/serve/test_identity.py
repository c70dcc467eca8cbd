"""Callers, roles and the Authenticator: who may do what, and every refusal on record."""

from __future__ import annotations

import json

import pytest

from sluice.errors import AuthError, ForbiddenError
from sluice.project.workspace import Workspace
from sluice.serve.identity import Authenticator, Caller, parse_roles, require
from sluice.serve.tokens import issue_token, revoke


def _caller(*roles: str) -> Caller:
    return Caller("x", "user", parse_roles(roles))


@pytest.mark.parametrize(("roles", "action", "env", "allowed"), [
    (["viewer:prod"], "view", "prod", True),
    (["viewer:prod"], "view", "dev", False),
    (["viewer:prod"], "deploy", "prod", False),
    (["viewer"], "view", "anything", True),  # no env = every environment
    (["viewer:*"], "view", "dev", True),
    (["deployer:dev"], "view", "dev", True),  # deployer implies view
    (["deployer:dev"], "deploy", "dev", True),
    (["deployer:dev"], "deploy", "prod", False),
    (["deployer:dev"], "approve", "dev", False),
    (["approver:prod"], "view", "prod", True),  # approver implies view
    (["approver:prod"], "approve", "prod", True),
    (["approver:prod"], "deploy", "prod", False),  # but not deploy
    (["approver:staging"], "approve", "prod", False),
    (["admin:dev"], "deploy", "dev", True),
    (["admin:dev"], "approve", "dev", True),
    (["admin:dev"], "admin", "dev", True),
    (["admin:dev"], "view", "prod", False),
    (["admin"], "approve", "prod", True),
    (["admin"], "admin", None, True),
    (["admin:dev"], "admin", None, False),  # managing users needs admin on every env
    (["viewer:dev"], "view", None, True),  # some environment is enough to look
    (["approver:prod"], "approve", None, True),
    ([], "view", None, False),
    (["admin"], "fly", "dev", False),  # unknown actions are never allowed
])
def test_role_semantics(roles: list[str], action: str, env: str | None, allowed: bool) -> None:
    assert _caller(*roles).can(action, env) is allowed


def test_parse_roles_reads_an_env_less_role_as_every_environment() -> None:
    assert parse_roles(["admin", "approver:prod", "viewer:*"]) == {
        ("admin", "*"), ("approver", "prod"), ("viewer", "*")}


def _refusals(ws: Workspace) -> list[dict[str, object]]:
    return [e.payload for e in ws.state.events(kind="auth_refused")]


def test_a_declared_user_with_a_token_has_the_declared_and_added_roles(ws: Workspace) -> None:
    token = issue_token(ws.state, "priya", "user", ["deployer:dev"], "admin")
    caller = Authenticator(ws).authenticate(f"Bearer {token}", path="/api/status")
    assert caller.name == "priya" and caller.kind == "user" and caller.via == "token"
    assert caller.roles == {("approver", "prod"), ("viewer", "*"), ("deployer", "dev")}
    assert caller.names() == {"priya", "priya patel", "priya@example.com"}
    assert caller.can("approve", "prod") and caller.can("deploy", "dev")
    assert not caller.can("deploy", "prod")


def test_an_added_principal_needs_no_declaration(ws: Workspace) -> None:
    token = issue_token(ws.state, "eve", "user", ["viewer:dev"], "admin")
    caller = Authenticator(ws).authenticate(f"bearer  {token} ")  # scheme is case-insensitive
    assert caller.name == "eve" and caller.roles == {("viewer", "dev")}
    assert caller.aliases == frozenset()


def test_a_role_added_later_counts_on_the_next_call(ws: Workspace) -> None:
    auth = Authenticator(ws)
    token = issue_token(ws.state, "eve", "user", ["viewer:dev"], "admin")
    assert not auth.authenticate(f"Bearer {token}").can("deploy", "dev")
    issue_token(ws.state, "eve", "user", ["deployer:dev"], "admin")
    assert auth.authenticate(f"Bearer {token}").can("deploy", "dev")


@pytest.mark.parametrize(("header", "reason"), [
    (None, "no credential"),
    ("", "no credential"),
    ("Basic cHJpeWE6c2VjcmV0", "unsupported Authorization scheme 'Basic'"),
    ("Bearer", "unsupported Authorization scheme"),
    ("Bearer hunter2hunter2", "neither a sluice token"),
    ("Bearer slc_0123456789ab_" + "A" * 43, "is not valid"),
    ("Bearer slc_nothex", "malformed"),
])
def test_bad_credentials_are_refused_with_401_and_recorded(ws: Workspace, header: str | None,
                                                         reason: str) -> None:
    auth = Authenticator(ws)
    with pytest.raises(AuthError) as info:
        auth.authenticate(header, path="/api/environments/prod/approvals")
    assert type(info.value) is AuthError and info.value.status == 401
    assert reason in info.value.message
    assert "Authorization" in (info.value.tip or "") or "token" in (info.value.tip or "")
    [refusal] = _refusals(ws)
    assert refusal["path"] == "/api/environments/prod/approvals"
    assert reason in str(refusal["reason"])
    if header:  # the credential itself is never recorded
        secret = header.partition(" ")[2]
        stored = json.dumps([e.payload for e in ws.state.events(limit=1000)])
        assert not secret or secret not in stored


def test_a_revoked_token_is_refused_and_the_secret_is_in_no_event(ws: Workspace) -> None:
    auth = Authenticator(ws)
    token = issue_token(ws.state, "priya", "user", [], "admin")
    assert auth.authenticate(f"Bearer {token}").name == "priya"
    revoke(ws.state, "priya")
    with pytest.raises(AuthError, match="revoked"):
        auth.authenticate(f"Bearer {token}", path="/api/status")
    events = json.dumps([(e.kind, e.actor, e.payload) for e in ws.state.events(limit=1000)])
    assert token.split("_", 2)[2] not in events
    assert "revoked" in events


def test_a_token_of_a_principal_gone_from_both_places_is_refused(ws: Workspace) -> None:
    token = issue_token(ws.state, "temp", "user", ["viewer"], "admin")
    with ws.state.transaction("test", write=True) as conn:
        conn.exec_driver_sql("DELETE FROM principals WHERE name = 'temp'")
    with pytest.raises(AuthError, match="temp is not a known user"):
        Authenticator(ws).authenticate(f"Bearer {token}")


def test_a_jwt_without_configured_issuers_is_refused(ws: Workspace) -> None:
    with pytest.raises(AuthError, match="trusts no OIDC issuer"):
        Authenticator(ws).authenticate("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")


def test_require_refuses_with_403_and_records_who(ws: Workspace) -> None:
    auth = Authenticator(ws)
    token = issue_token(ws.state, "dan", "user", [], "admin")
    dan = auth.authenticate(f"Bearer {token}")
    auth.require(dan, "deploy", "staging")  # declared: deployer:staging
    with pytest.raises(ForbiddenError) as info:
        auth.require(dan, "approve", "prod", path="/api/environments/prod/approvals")
    assert info.value.status == 403 and info.value.exit_code == 1
    assert "dan may not approve in prod" in info.value.message
    assert "--role approver:prod" in (info.value.tip or "")
    [event] = ws.state.events(kind="auth_refused")
    assert event.actor == "dan" and event.env == "prod"
    assert event.payload["action"] == "approve"
    assert event.payload["path"] == "/api/environments/prod/approvals"


def test_require_without_a_store_only_refuses() -> None:
    with pytest.raises(ForbiddenError, match="holds no roles"):
        require(_caller(), "view", "dev")
    require(_caller("viewer:dev"), "view", "dev")
