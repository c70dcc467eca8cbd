"""What a caller sees through the API is what its roles let it view, and ``status`` shows a
release as waiting for approval until an approval the gate counts exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sluice.serve.app import create_app
from sluice.serve.tokens import issue_token
from sluice.state import ApprovalDecision, ApprovalRecord
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject

_clean_env, api_template = fx._clean_env, fx.api_template


@pytest.fixture(scope="module")
def project(api_template: ApiProject,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProject]:
    for p in fx.module_project(api_template, tmp_path_factory, "visibility"):
        ws = p.workspace()
        try:
            p.tokens["devview"] = issue_token(ws.state, "devview", "user", ["viewer:dev"],
                                              "test")
        finally:
            ws.close()
        yield p


@pytest.fixture(scope="module")
def client(project: ApiProject) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_WEBHOOK_SECRET", fx.WEBHOOK_SECRET)
        with TestClient(create_app(project.root, background=False)) as c:
            yield c  # no engine: a started execution stays queued, its stages planned


def _get(client: TestClient, project: ApiProject, path: str, who: str) -> Any:
    r = client.get(path, headers=project.bearer(who))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_viewer_of_dev_sees_dev_only(client: TestClient, project: ApiProject) -> None:
    r = client.post("/api/executions", json={"commit": project.commit("seen by whom")},
                    headers=project.bearer("dave"))
    assert r.status_code == 202, r.text
    eid = r.json()["execution"]

    assert [e["env"] for e in _get(client, project, "/api/status", "vic")] == \
        ["dev", "staging", "prod"]
    assert [e["env"] for e in _get(client, project, "/api/status", "devview")] == ["dev"]
    assert [e["env"] for e in _get(client, project, "/api/environments", "devview")] == \
        ["dev"]

    everything = _get(client, project, "/api/history?limit=500", "vic")
    assert {e["env"] for e in everything} >= {"dev", "staging", None}
    mine = _get(client, project, "/api/history?limit=500", "devview")
    assert mine and {e["env"] for e in mine} == {"dev"}
    assert [e["seq"] for e in mine] == [e["seq"] for e in everything if e["env"] == "dev"]

    assert eid in [e["id"] for e in _get(client, project, "/api/executions", "vic")]
    assert eid not in [e["id"] for e in _get(client, project, "/api/executions", "devview")]
    for path in (f"/api/executions/{eid}", f"/api/executions/{eid}/events"):
        assert client.get(path, headers=project.bearer("devview")).status_code == 404
    assert client.get(f"/api/executions/{eid}", headers=project.bearer("vic")).status_code \
        == 200


def test_status_keeps_a_release_pending_until_an_approval_counts(
        client: TestClient, project: ApiProject) -> None:
    def pending() -> Any:
        prod = _get(client, project, "/api/status", "vic")[2]
        assert prod["env"] == "prod"
        return prod["pending_approval"]

    assert pending() == project.release
    ws = project.workspace()
    try:  # a claimed approval (the CLI's $SLUICE_USER) under access: opens nothing
        ws.state.record_approval(ApprovalRecord("prod", project.release,
                                                ApprovalDecision.APPROVED, "priya"))
    finally:
        ws.close()
    assert pending() == project.release
    r = client.post("/api/environments/prod/approvals",  # the author: not distinct
                    json={"release": project.release, "decision": "approve"},
                    headers=project.bearer("alice"))
    assert r.status_code == 409, r.text
    assert pending() == project.release
    r = client.post("/api/environments/prod/approvals",
                    json={"release": project.release, "decision": "approve"},
                    headers=project.bearer("priya"))
    assert r.status_code == 201, r.text
    assert pending() is None
