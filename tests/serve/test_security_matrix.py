"""Every mutating endpoint against every way to be refused: no token, a bad token, a revoked
token, a viewer, an approver of another environment, a self-approval under
``distinct_approver``, a forged webhook signature, a replayed delivery. Each is refused
(401/403/409), changes nothing (live releases, approvals, executions, deliveries) and is
recorded as an ``auth_refused`` event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sluice.serve.app import create_app
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject, github_push

_clean_env, api_template = fx._clean_env, fx.api_template


@pytest.fixture(scope="module")
def project(api_template: ApiProject,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProject]:
    yield from fx.module_project(api_template, tmp_path_factory, "matrix")


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
    refuses her approval (a ``gate_refused`` event, as for the CLI)."""
    body = _refused(client, project, lambda: client.post(
        "/api/environments/prod/approvals", headers=project.bearer("alice"),
        json={"release": project.release, "decision": "approve"}), (403, 409),
        kinds=("auth_refused", "gate_refused"))
    assert "alice" in body["error"]


def test_the_same_approval_by_someone_else_is_accepted(client: TestClient,
                                                       project: ApiProject) -> None:
    """The control for the refusals above: the endpoint works for the right caller (run
    last in this module: it changes the approvals)."""
    r = client.post("/api/environments/staging/approvals", headers=project.bearer("root"),
                    json={"release": project.release, "decision": "reject"})
    assert r.status_code == 201, r.text


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
