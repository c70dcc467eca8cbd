"""The API through an ASGI client (the real app, its engine thread and a real state store):
health, OpenAPI, authentication, the listings the CLI prints, an execution approved and
resumed through the API, rejection, promotion, deployment, rollback, server-sent events,
webhooks, and bad input answered as errors with a tip."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sluice.errors import ForbiddenError, GateError
from sluice.serve.app import create_app
from sluice.serve.client import Client, Remote, parse_sse
from tests.flow.conftest import cli_env
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject, github_push, wait_until

_clean_env, api_template = fx._clean_env, fx.api_template


@pytest.fixture(scope="module")
def project(api_template: ApiProject,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProject]:
    yield from fx.module_project(api_template, tmp_path_factory, "api")


@pytest.fixture(scope="module")
def client(project: ApiProject) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_WEBHOOK_SECRET", fx.WEBHOOK_SECRET)
        mp.setenv("SLUICE_USER", "server")
        with TestClient(create_app(project.root, background=True)) as c:
            yield c


def _get(client: TestClient, project: ApiProject, path: str, who: str = "vic",
         **params: Any) -> Any:
    r = client.get(path, headers=project.bearer(who), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _execution(client: TestClient, project: ApiProject, eid: int) -> dict[str, Any]:
    return _get(client, project, f"/api/executions/{eid}")  # type: ignore[no-any-return]


def _wait(client: TestClient, project: ApiProject, eid: int, *statuses: str) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (ex if (ex := _execution(client, project, eid))["status"] in statuses
                 else None), 120, f"execution {eid} to be {statuses}")


def test_health_needs_no_token_and_names_the_store(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["state"] == "sqlite" and body["version"]


def test_openapi_documents_every_endpoint_and_their_shapes(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/api/status", "/api/history", "/api/releases", "/api/executions",
                 "/api/executions/{execution_id}", "/api/executions/{execution_id}/events",
                 "/api/environments/{env}/approvals", "/api/environments/{env}/promotions",
                 "/api/environments/{env}/rollbacks", "/api/environments/{env}/deployments",
                 "/api/hooks/{provider}", "/api/whoami", "/healthz"):
        assert path in doc["paths"], path
    schemas = doc["components"]["schemas"]
    assert set(schemas["ApprovalIn"]["properties"]) == {"release", "decision", "comment",
                                                        "acknowledge"}
    assert "pending_approval" in schemas["StatusEntry"]["properties"]


@pytest.mark.parametrize("header", [None, "Bearer slc_nothing_here", "Basic YWxpY2U6cHc="])
def test_calls_without_a_valid_token_are_401_and_recorded(
        client: TestClient, project: ApiProject, header: str | None) -> None:
    before = len(project.events("auth_refused"))
    r = client.get("/api/status", headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    body = r.json()
    assert body["type"] == "AuthError" and body["exit_code"] == 2 and body["tip"]
    refused = project.events("auth_refused")
    assert len(refused) == before + 1
    assert refused[0].payload["path"] == "GET /api/status"
    assert "slc_nothing_here" not in json.dumps([e.payload for e in refused])


def test_whoami_names_the_caller_and_roles(client: TestClient, project: ApiProject) -> None:
    assert _get(client, project, "/api/whoami", "priya") == {
        "name": "priya", "kind": "user", "roles": ["approver:prod", "viewer:*"]}


def test_status_is_what_sluice_status_json_prints(client: TestClient,
                                                  project: ApiProject) -> None:
    api = _get(client, project, "/api/status")
    proc = subprocess.run([sys.executable, "-m", "sluice.cli", "status", "--json"],
                          cwd=project.root, env=cli_env("alice"), capture_output=True,
                          text=True, timeout=120, check=True)
    assert api == json.loads(proc.stdout)
    assert [e["env"] for e in api] == ["dev", "staging", "prod"]
    assert api[1]["release"] == project.release
    assert api[2]["pending_approval"] == project.release  # prod waits for an approval


def test_history_and_releases(client: TestClient, project: ApiProject) -> None:
    dev = _get(client, project, "/api/history", env="dev", limit=5)
    assert dev and len(dev) <= 5 and {e["env"] for e in dev} == {"dev"}
    assert all(e["detail"] for e in dev)  # sentences, as `sluice history` prints them
    r = client.get("/api/history", params={"env": "prdo"}, headers=project.bearer("vic"))
    assert r.status_code == 404 and "did you mean 'prod'" in r.json()["error"]
    releases = _get(client, project, "/api/releases")
    assert releases[0]["id"] == project.release and releases[0]["commit"]


def test_an_approval_through_the_api_resumes_the_waiting_execution(
        client: TestClient, project: ApiProject) -> None:
    commit = project.commit("feature one")
    r = client.post("/api/executions", json={"commit": commit}, headers=project.bearer("dave"))
    assert r.status_code == 202, r.text
    eid = r.json()["execution"]
    waiting = _wait(client, project, eid, "waiting", "failed")
    assert waiting["status"] == "waiting", waiting
    assert [s["status"] for s in waiting["stages"]] == [
        "succeeded", "succeeded", "succeeded", "waiting", "pending"]
    release = waiting["release_id"]
    status = _get(client, project, "/api/status")
    assert status[2]["pending_approval"] == release

    r = client.post("/api/environments/prod/approvals", headers=project.bearer("priya"),
                    json={"release": release, "decision": "approve", "comment": "looks right"})
    assert r.status_code == 201, r.text
    assert r.json() | {"acknowledges": []} == {
        "env": "prod", "release": release, "decision": "approved", "actor": "priya",
        "via": "authenticated", "comment": "looks right", "acknowledges": []}
    done = _wait(client, project, eid, "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert _get(client, project, "/api/status")[2]["release"] == release
    assert any("approved by priya" in ln["line"] for ln in done["logs"])


def test_a_rejection_through_the_api_stops_the_execution(client: TestClient,
                                                         project: ApiProject) -> None:
    eid = client.post("/api/executions", json={"commit": project.commit("feature two")},
                      headers=project.bearer("dave")).json()["execution"]
    waiting = _wait(client, project, eid, "waiting", "failed")
    live_prod = _get(client, project, "/api/status")[2]["release"]
    r = client.post("/api/environments/prod/approvals", headers=project.bearer("priya"),
                    json={"release": waiting["release_id"], "decision": "reject",
                          "comment": "not this week"})
    assert r.status_code == 201 and r.json()["decision"] == "rejected"
    stopped = _wait(client, project, eid, "rejected", "failed", "succeeded")
    assert stopped["status"] == "rejected"
    assert _get(client, project, "/api/status")[2]["release"] == live_prod


def test_events_stream_stages_and_logs_and_resume_after_an_id(
        client: TestClient, project: ApiProject) -> None:
    finished = _get(client, project, "/api/executions", status="succeeded,rejected")
    eid = finished[0]["id"]
    with client.stream("GET", f"/api/executions/{eid}/events",
                       headers=project.bearer("vic")) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = list(r.iter_lines())
    events = list(parse_sse(iter(raw)))
    kinds = [k for k, _ in events]
    assert kinds[-1] == "end" and "execution" in kinds and kinds.count("log") >= 3
    ids = [int(line[4:]) for line in raw if line.startswith("id: ")]
    log_seqs = [d["seq"] for k, d in events if k == "log"]
    assert log_seqs == sorted(log_seqs) and set(log_seqs) <= set(ids)
    middle = log_seqs[len(log_seqs) // 2]
    with client.stream("GET", f"/api/executions/{eid}/events",
                       headers={**project.bearer("vic"), "Last-Event-ID": str(middle)}) as r:
        resumed = list(parse_sse(r.iter_lines()))
    assert [d["seq"] for k, d in resumed if k == "log"] == [s for s in log_seqs if s > middle]
    assert resumed[-1][0] == "end"


def test_rollback_and_promotion_through_the_api(client: TestClient,
                                                project: ApiProject) -> None:
    before = _get(client, project, "/api/status")
    r = client.post("/api/environments/staging/rollbacks", json={},
                    headers=project.bearer("dave"))
    assert r.status_code == 201, r.text
    back = r.json()
    assert back["from_release"] == before[1]["release"] and back["to_release"] != \
        back["from_release"]
    assert _get(client, project, "/api/status")[1]["release"] == back["to_release"]
    r = client.post("/api/environments/staging/promotions", json={"from": "dev"},
                    headers=project.bearer("dave"))
    assert r.status_code == 201, r.text
    assert r.json()["release"] == before[0]["release"]
    history = _get(client, project, "/api/history", env="staging", limit=5)
    assert "rolled_back" in {e["kind"] for e in history}
    assert any(e["actor"] == "dave" for e in history)
    staging = _get(client, project, "/api/status")[1]
    assert staging["last_deployment"]["kind"] == "promote"
    assert staging["release"] == before[0]["release"]


def test_deployment_behind_the_gates(client: TestClient, project: ApiProject) -> None:
    r = client.post("/api/environments/dev/deployments", json={"release": project.release},
                    headers=project.bearer("dave"))
    assert r.status_code == 201, r.text
    assert r.json()["env"] == "dev" and r.json()["release"] == project.release
    # prod without an approval of that release: the gate refuses, with its tip
    r = client.post("/api/environments/prod/deployments", json={"release": project.release},
                    headers=project.bearer("dave"))
    assert r.status_code == 409
    assert r.json()["type"] in ("GateError", "ApprovalNeeded") and r.json()["tip"]


def test_a_signed_push_starts_an_execution_and_a_replay_starts_nothing(
        client: TestClient, project: ApiProject) -> None:
    commit = project.commit("pushed")
    body, headers = github_push(commit, "delivery-1")
    r = client.post("/api/hooks/github", content=body, headers=headers)
    assert r.status_code == 202, r.text
    eid = r.json()["execution"]
    ex = _execution(client, project, eid)
    assert ex["commit"] == commit and ex["trigger"] == "webhook"
    count = len(_get(client, project, "/api/executions", limit=1000))
    r = client.post("/api/hooks/github", content=body, headers=headers)
    assert r.status_code == 409 and "replay" in r.json()["error"]
    forged, bad = github_push(commit, "delivery-2", secret="not-the-secret")
    r = client.post("/api/hooks/github", content=forged, headers=bad)
    assert r.status_code == 401
    assert len(_get(client, project, "/api/executions", limit=1000)) == count
    other, signed = github_push(commit, "delivery-3", ref="refs/heads/topic")
    r = client.post("/api/hooks/github", content=other, headers=signed)
    assert r.status_code == 202 and r.json()["execution"] is None
    assert r.json()["status"] == "ignored"


@pytest.mark.parametrize(("method", "path", "body", "status", "needle"), [
    ("post", "/api/environments/prod/approvals", {"decision": "maybe"}, 422, "decision"),
    ("post", "/api/environments/prdo/approvals", {"decision": "approve"}, 404,
     "did you mean 'prod'"),
    ("post", "/api/environments/prod/approvals",
     {"decision": "approve", "release": "f00dfeed"}, 404, "no release matches"),
    ("post", "/api/environments/prod/approvals",
     {"decision": "approve", "acknowledge": ["everything"]}, 400, "unknown"),
    ("post", "/api/environments/dev/promotions", {}, 400, "not promoted from"),
    ("post", "/api/executions", {"commit": "no-such-commit"}, 400, "not a commit"),
    ("get", "/api/executions/999999", None, 404, "no execution #999999"),
    ("get", "/api/executions?status=sleeping", None, 400, "unknown execution status"),
])
def test_bad_input_is_an_error_with_a_tip_never_a_500(
        client: TestClient, project: ApiProject, method: str, path: str,
        body: dict[str, Any] | None, status: int, needle: str) -> None:
    kwargs: dict[str, Any] = {"headers": project.bearer("root")}
    if body is not None:
        kwargs["json"] = body
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]
    assert set(r.json()) == {"error", "tip", "type", "exit_code"}


def test_the_cli_client_raises_the_servers_error_classes(client: TestClient,
                                                         project: ApiProject) -> None:
    def api(who: str) -> Client:
        return Client(Remote("http://testserver", project.tokens[who]),
                      transport=client._transport)

    with api("vic") as viewer, pytest.raises(ForbiddenError) as refused:
        viewer.post("/api/environments/staging/promotions", {"from": "dev"})
    assert refused.value.exit_code == 1 and "deployer:staging" in (refused.value.tip or "")
    with api("dave") as deployer, pytest.raises(GateError) as gate:
        deployer.post("/api/environments/prod/deployments", {"release": project.release})
    assert gate.value.exit_code == 1
