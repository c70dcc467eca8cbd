"""The approval bridge: CodePipeline's record of a manual approval (botocore's Stubber, checked
against the CodePipeline API model: moto has no ListActionExecutions) recorded in sluice by
the CLI's library path and by the server, which reads it with its own client; the gate then
lets the release into prod, and history names the approver."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from sluice.errors import GateError
from sluice.flow import codepipeline as cp
from sluice.flow.gates import promote
from sluice.project.workspace import Workspace
from sluice.serve.app import create_app
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject

_clean_env, api_template = fx._clean_env, fx.api_template

PIPELINE, EXECUTION = "retail-sluice", "3137f7cb-7cf7-4f3b-9b4c-5fc9a1f0c1a2"
PRIYA = "arn:aws:sts::111122223333:assumed-role/Approvers/priya"
T0 = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def project(api_template: ApiProject, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> ApiProject:
    """The API project with priya's IAM principal declared (fake AWS credentials only)."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEPIPELINE"):
        monkeypatch.delenv(name, raising=False)
    dest = tmp_path / "retail"
    shutil.copytree(api_template.root, dest, symlinks=True)
    config = dest / "sluice.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'priya: {roles: ["approver:prod", "viewer:*"]}',
        'priya: {roles: ["approver:prod", "viewer:*"], aws_principals: '
        '["arn:aws:sts::111122223333:assumed-role/Approvers/priya"]}'), encoding="utf-8")
    found = ApiProject(dest, api_template.release)
    found.tokens = fx.issue_tokens(dest)
    return found


@contextmanager
def opened(project: ApiProject) -> Iterator[Workspace]:
    ws = project.workspace()
    try:
        yield ws
    finally:
        ws.close()


def details(release: str, status: str = "Succeeded", approver: str | None = PRIYA,
            summary: str = "numbers match the dashboard") -> list[dict[str, Any]]:
    """An execution's actions as ListActionExecutions answers: the ship action that
    exported the release, and prod's manual approval."""
    approval: dict[str, Any] = {
        "pipelineExecutionId": EXECUTION, "actionExecutionId": "a-2",
        "stageName": "Deploy-prod", "actionName": "Approve", "status": status,
        "startTime": T0, "lastUpdateTime": T0 + dt.timedelta(hours=1),
        "input": {"actionTypeId": {"category": "Approval", "owner": "AWS",
                                   "provider": "Manual", "version": "1"}},
        "output": {"executionResult": {"externalExecutionSummary": summary}}}
    if approver:
        approval["updatedBy"] = approver
    ship = {"pipelineExecutionId": EXECUTION, "actionExecutionId": "a-1",
            "stageName": "Ship", "actionName": "Ship", "status": "Succeeded",
            "startTime": T0, "lastUpdateTime": T0,
            "input": {"actionTypeId": {"category": "Build", "owner": "AWS",
                                       "provider": "CodeBuild", "version": "1"}},
            "output": {"outputVariables": {"SLUICE_RELEASE": release}}}
    return [ship, approval]


def stubbed(actions: list[dict[str, Any]]) -> tuple[Any, Stubber]:
    """A real CodePipeline client (AWS's endpoint) whose one call is stubbed."""
    client = cp.codepipeline_client("eu-west-1")
    stub = Stubber(client)
    # two pages: the bridge follows nextToken
    stub.add_response("list_action_executions",
                      {"actionExecutionDetails": actions[:1], "nextToken": "page-2"},
                      {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": EXECUTION}})
    stub.add_response("list_action_executions", {"actionExecutionDetails": actions[1:]},
                      {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": EXECUTION},
                       "nextToken": "page-2"})
    stub.activate()
    return client, stub


def test_an_approval_in_codepipeline_is_recorded_as_its_approver_and_opens_the_gate(
        project: ApiProject) -> None:
    client, stub = stubbed(details(project.release))
    approval = cp.read_approval(client, PIPELINE, EXECUTION, "Deploy-prod/Approve")
    stub.assert_no_pending_responses()
    assert cp.is_aws_endpoint(client)
    with opened(project) as ws:
        rec = cp.record_approval(ws, "prod", approval, verified=True)
        assert (rec.actor, rec.via, rec.comment, rec.release_id) == (
            "priya", "codepipeline", "numbers match the dashboard", project.release)
        outcome = promote(ws, "staging", "prod")  # access: declared, and it counts
        assert outcome.release_id == project.release
        event = ws.state.events(kind="approved", limit=5)[0]
    assert event.payload["aws_principal"] == PRIYA
    assert event.payload["execution_id"] == EXECUTION and event.payload["via"] == "codepipeline"
    from sluice.cli.sentences import describe

    assert f"in CodePipeline by {PRIYA}" in describe(event)


@pytest.mark.parametrize(("status", "approver", "words"), [
    ("Failed", PRIYA, "rejected"), ("InProgress", None, "still waiting"),
    ("Abandoned", None, "abandoned")])
def test_anything_but_an_approval_is_refused_and_nothing_is_recorded(
        project: ApiProject, status: str, approver: str | None, words: str) -> None:
    client, _ = stubbed(details(project.release, status, approver))
    approval = cp.read_approval(client, PIPELINE, EXECUTION)
    with opened(project) as ws, pytest.raises(GateError, match=words):
        cp.record_approval(ws, "prod", approval, verified=True)
    with opened(project) as ws:
        assert ws.state.approvals("prod", project.release) == []


def test_a_missing_approval_an_unknown_approver_or_an_unverified_read_is_refused(
        project: ApiProject) -> None:
    client, _ = stubbed(details(project.release)[:1] * 2)  # the ship action only
    with pytest.raises(GateError, match="has no manual approval action that ran"):
        cp.read_approval(client, PIPELINE, EXECUTION)
    stranger = "arn:aws:iam::111122223333:user/mallory"
    client, _ = stubbed(details(project.release, approver=stranger))
    approval = cp.read_approval(client, PIPELINE, EXECUTION, "Approve")
    with opened(project) as ws:
        with pytest.raises(GateError, match="mallory is not a sluice user") as exc:
            cp.record_approval(ws, "prod", approval, verified=True)
        assert "aws_principals" in (exc.value.tip or "")
        client, _ = stubbed(details(project.release))
        approval = cp.read_approval(client, PIPELINE, EXECUTION)
        with pytest.raises(GateError, match="not read from AWS's own endpoint"):
            cp.record_approval(ws, "prod", approval, verified=False)
        with pytest.raises(GateError, match=r"not deadbeef"):
            cp.record_approval(ws, "prod", approval, "deadbeef", verified=True)
        assert ws.state.approvals("prod", project.release) == []


@pytest.fixture
def server(project: ApiProject) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_USER", "server")
        with TestClient(create_app(project.root, background=False)) as c:
            yield c


def test_the_server_reads_the_approval_itself_and_a_caller_cannot_name_an_approver(
        project: ApiProject, server: TestClient) -> None:
    path = "/api/environments/prod/approvals/codepipeline"
    body = {"pipeline": PIPELINE, "execution_id": EXECUTION,
            "approval_action": "Deploy-prod/Approve"}
    services = server.app.state.services  # type: ignore[attr-defined]
    refused = server.post(path, json={**body, "approver": "dave"}, headers=project.bearer("dave"))
    assert refused.status_code == 422 and "approver" in refused.json()["error"]
    viewer = server.post(path, json=body, headers=project.bearer("vic"))
    assert viewer.status_code == 403
    client, stub = stubbed(details(project.release, status="Failed"))
    services._codepipeline = client
    rejected = server.post(path, json=body, headers=project.bearer("dave"))
    assert rejected.status_code == 409 and "rejected" in rejected.json()["error"]

    client, stub = stubbed(details(project.release))
    services._codepipeline = client  # the server's own client, never the caller's
    r = server.post(path, json=body, headers=project.bearer("dave"))
    assert r.status_code == 201, r.text
    stub.assert_no_pending_responses()
    got = r.json()
    assert (got["actor"], got["via"], got["aws_principal"], got["release"]) == (
        "priya", "codepipeline", PRIYA, project.release)
    with opened(project) as ws:
        assert ws.state.events(kind="approved", limit=1)[0].payload["relayed_by"] == "dave"
    promoted = server.post("/api/environments/prod/promotions", json={"from": "staging"},
                           headers=project.bearer("dave"))
    assert promoted.status_code == 201, promoted.text
    history = server.get("/api/history", params={"env": "prod"}, headers=project.bearer("vic"))
    assert PRIYA in history.text
