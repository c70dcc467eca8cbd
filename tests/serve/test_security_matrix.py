"""Every mutating endpoint against every way to be refused: no token, a bad token, a revoked
token, a viewer, an approver of another environment, a self-approval under
``distinct_approver``, a forged webhook signature, a replayed delivery. Each is refused
(401/403/409), changes nothing (live releases, approvals, executions, deliveries) and is
recorded as an ``auth_refused`` event. Every endpoint is aimed at a call that succeeds for
the right caller (the controls at the end show it), so "changes nothing" can fail."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sluice.deploy.deployer import deploy
from sluice.flow.gates import decide, promote
from sluice.flow.releases import make_release
from sluice.serve.app import create_app
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject, github_push

_clean_env, api_template = fx._clean_env, fx.api_template


@pytest.fixture(scope="module")
def project(api_template: ApiProject,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProject]:
    """Release 2 live in dev and staging and approved for prod by priya (authenticated),
    release 1 before it in staging: every endpoint below would change something."""
    for p in fx.module_project(api_template, tmp_path_factory, "matrix"):
        p.commit("release 2")
        ws = p.workspace()
        try:
            manifest, _ = make_release(ws)
            deploy(ws, "dev", manifest.id, actor=fx.AUTHOR)
            promote(ws, "dev", "staging")
            decide(ws, "prod", manifest.id, approve=True, actor="priya", via="authenticated")
        finally:
            ws.close()
        yield replace(p, release=manifest.id)


@pytest.fixture(scope="module")
def client(project: ApiProject) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_WEBHOOK_SECRET", fx.WEBHOOK_SECRET)
        # no engine: a refused call must not even queue work
        with TestClient(create_app(project.root, background=False)) as c:
            yield c


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    body: Callable[[ApiProject], dict[str, Any]]


def _head(p: ApiProject) -> str:
    return fx.git(p.root, "rev-parse", "HEAD").strip()


BEARER_ENDPOINTS = [
    Endpoint("approve", "/api/environments/prod/approvals",
             lambda p: {"release": p.release, "decision": "approve"}),
    Endpoint("reject", "/api/environments/prod/approvals",
             lambda p: {"release": p.release, "decision": "reject"}),
    Endpoint("promote", "/api/environments/prod/promotions", lambda p: {"from": "staging"}),
    Endpoint("deploy", "/api/environments/prod/deployments", lambda p: {"release": p.release}),
    Endpoint("rollback", "/api/environments/staging/rollbacks", lambda p: {}),
    Endpoint("execution", "/api/executions", lambda p: {"commit": _head(p)}),
]

#: who may call each endpoint (the controls)
ALLOWED = {"approve": "priya", "reject": "priya", "promote": "dave", "deploy": "dave",
           "rollback": "dave", "execution": "dave"}

#: case → (Authorization header from the project's tokens, expected status)
BEARER_CASES: dict[str, tuple[Callable[[ApiProject], dict[str, str]], int]] = {
    "no token": (lambda p: {}, 401),
    "bad token": (lambda p: {"Authorization": "Bearer slc_0123456789ab_forgedsecret"}, 401),
    "not a bearer": (lambda p: {"Authorization": f"Basic {p.tokens['root']}"}, 401),
    "revoked token": (lambda p: p.bearer("gone"), 401),
    "viewer": (lambda p: p.bearer("vic"), 403),
    "approver of another environment": (lambda p: p.bearer("sam"), 403),
}


def _refused(client: TestClient, project: ApiProject, call: Callable[[], Any],
             statuses: tuple[int, ...], kinds: tuple[str, ...] = ("auth_refused",)
             ) -> dict[str, Any]:
    before = project.snapshot()
    events = sum(len(project.events(k)) for k in kinds)
    r = call()
    assert r.status_code in statuses, r.text
    body = r.json()
    assert body["error"] and body["type"]
    assert project.snapshot() == before, "a refused call changed something"
    assert sum(len(project.events(k)) for k in kinds) > events, "the refusal was not recorded"
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", list(BEARER_CASES))
@pytest.mark.parametrize("endpoint", BEARER_ENDPOINTS, ids=[e.name for e in BEARER_ENDPOINTS])
def test_refused_and_nothing_changed(client: TestClient, project: ApiProject,
                                     endpoint: Endpoint, case: str) -> None:
    headers, status = BEARER_CASES[case]
    body = _refused(client, project, lambda: client.post(
        endpoint.path, json=endpoint.body(project), headers=headers(project)), (status,))
    token_values = set(project.tokens.values())
    assert not any(t in str(body) for t in token_values)
    if status == 403:
        assert body["tip"] and "sluice users add" in body["tip"]


def test_self_approval_under_distinct_approver_is_refused(client: TestClient,
                                                         project: ApiProject) -> None:
    """alice authored the commit and built the release; she holds approver:prod. The gate
    refuses her approval (a ``gate_refused`` event, as for the CLI), not her role."""
    body = _refused(client, project, lambda: client.post(
        "/api/environments/prod/approvals", headers=project.bearer("alice"),
        json={"release": project.release, "decision": "approve"}), (409,),
        kinds=("gate_refused",))
    assert body["type"] == "GateError", body
    assert "alice" in body["error"] and "requires a distinct approver" in body["error"], body


@pytest.mark.parametrize("endpoint", BEARER_ENDPOINTS, ids=[e.name for e in BEARER_ENDPOINTS])
def test_the_right_caller_changes_something(project: ApiProject, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            endpoint: Endpoint) -> None:
    """The controls of the refusals above, each in its own copy of the module's project:
    the same request by the caller the rules allow succeeds and changes the state."""
    copy = replace(project, root=tmp_path / "retail")
    shutil.copytree(project.root, copy.root, symlinks=True)
    monkeypatch.setenv("SLUICE_WEBHOOK_SECRET", fx.WEBHOOK_SECRET)
    before = copy.snapshot()
    with TestClient(create_app(copy.root, background=False)) as c:
        r = c.post(endpoint.path, json=endpoint.body(copy),
                   headers=copy.bearer(ALLOWED[endpoint.name]))
    assert 200 <= r.status_code < 300, r.text
    assert copy.snapshot() != before


def test_a_forged_or_missing_webhook_signature_is_refused(client: TestClient,
                                                          project: ApiProject) -> None:
    body, headers = github_push(_head(project), "forged-1", secret="guessed")
    _refused(client, project, lambda: client.post("/api/hooks/github", content=body,
                                                  headers=headers), (401,))
    unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    _refused(client, project, lambda: client.post("/api/hooks/github", content=body,
                                                  headers=unsigned), (401,))
    # a valid signature over another body: the signature is over the raw bytes
    good, signed = github_push(_head(project), "forged-2")
    _refused(client, project, lambda: client.post("/api/hooks/github", content=good + b" ",
                                                  headers=signed), (401,))


def test_a_replayed_delivery_is_refused(client: TestClient, project: ApiProject) -> None:
    body, headers = github_push(_head(project), "replayed-1", ref="refs/heads/topic")
    first = client.post("/api/hooks/github", content=body, headers=headers)
    assert first.status_code == 202 and first.json()["status"] == "ignored"
    refused = _refused(client, project, lambda: client.post("/api/hooks/github", content=body,
                                                            headers=headers), (409,))
    assert "replay" in refused["error"]
