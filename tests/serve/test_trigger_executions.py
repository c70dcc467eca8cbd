"""Webhooks and triggers with the real ``start_execution``: what they start is an execution
in the state store, with its trigger, commit, action and planned stages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from sluice.project.workspace import Workspace
from sluice.serve.executions import get_execution, list_executions, start_execution
from sluice.serve.hooks import receive, sign
from sluice.serve.triggers import Triggers
from tests.serve.trigger_fixtures import git, make_project

SECRET = "another-shared-secret"
CONFIG = """\
pipeline:
  mode: queued
  check: false
triggers:
  poll:
    remote: ../upstream
schedules:
  staging: "*/15 * * * *"
  prod: "0 6 * * *"
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trigger-executions")
    project = make_project(folder / "retail", CONFIG)
    git(folder, "clone", "-q", str(project), str(folder / "upstream"))
    return folder


@pytest.fixture
def ws(base: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.delenv("SLUICE_HOME", raising=False)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    monkeypatch.setenv("SLUICE_WEBHOOK_SECRET", SECRET)
    workspace = Workspace.open(base / "retail")
    try:
        yield workspace
    finally:
        workspace.close()


def test_a_push_webhook_starts_a_pipeline_execution(ws: Workspace) -> None:
    head = git(ws.root, "rev-parse", "HEAD")
    body = json.dumps({"ref": "refs/heads/main", "commit": head, "pusher": "ci-bot"}).encode()
    headers = {"X-Sluice-Signature": sign(SECRET, body), "X-Sluice-Delivery": "exec-1"}
    outcome = receive(ws, "generic", headers, body, partial(start_execution, ws))
    assert outcome.status == "started" and outcome.execution_id is not None
    execution = get_execution(ws.state, outcome.execution_id)
    assert (execution.status, execution.action, execution.trigger, execution.commit,
            execution.ref, execution.actor) == (
        "queued", "pipeline", "webhook", head, "refs/heads/main", "ci-bot")
    assert execution.detail["delivery"] == "exec-1"
    assert [s.name for s in execution.stages] == [
        "release", "deploy:dev", "promote:staging", "approval:prod", "promote:prod"]
    assert receive(ws, "generic", headers, body, partial(start_execution, ws)).status \
        == "replayed"
    assert [e.id for e in list_executions(ws.state) if e.trigger == "webhook"] == [execution.id]


def test_schedules_and_polls_start_executions(ws: Workspace, base: Path) -> None:
    triggers = Triggers(ws.root, "server-x", partial(start_execution, ws))
    try:
        t0 = dt.datetime(2026, 3, 2, 5, 50, tzinfo=dt.UTC)
        assert triggers.tick(t0) == []  # first looks: slots scheduled, upstream's sha noted
        up = base / "upstream"
        (up / "NOTES.md").write_text("polled\n", encoding="utf-8")
        git(up, "add", "-A")
        git(up, "commit", "-q", "-m", "polled change")
        sha = git(up, "rev-parse", "HEAD")
        started = triggers.tick(t0 + dt.timedelta(minutes=10))  # 06:00: both schedules due
        runs = [get_execution(ws.state, i) for i in started]
        assert sorted((e.action, e.trigger, e.stages[0].name) for e in runs) == [
            ("pipeline", "poll", "release"), ("run", "schedule", "run:prod"),
            ("run", "schedule", "run:staging")]
        polled = next(e for e in runs if e.trigger == "poll")
        assert (polled.commit, polled.actor) == (sha, "trigger:poll")
    finally:
        triggers.close()
