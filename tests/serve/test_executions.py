"""A commit carried through dev → staging → prod by a real engine on the retail example:
stages planned up front, logs, the wait at prod's approval, resume on approval (recorded
through ``flow.gates.decide``), rejection, failures with the gate's message."""

from __future__ import annotations

import pytest

from sluice.errors import StateError, UsageError
from sluice.flow.gates import decide
from sluice.serve.executions import (
    append_log,
    cancel_execution,
    get_execution,
    list_executions,
    logs,
    start_execution,
)
from tests.serve import exec_fixtures as fx
from tests.serve.exec_fixtures import USER, Project, RunningEngine

_clean_env, exec_template, project, engine = (fx._clean_env, fx.exec_template, fx.project,
                                              fx.engine)


def _decide(p: Project, env: str, release: str, *, approve: bool, comment: str = "") -> None:
    ws = p.workspace()
    try:
        decide(ws, env, release, approve=approve, comment=comment)
    finally:
        ws.close()


def test_stages_are_planned_up_front(project: Project) -> None:
    eid = project.start(project.commit("one"))
    ex = project.execution(eid)
    assert ex.status == "queued"
    assert [s.name for s in ex.stages] == ["release", "deploy:dev", "promote:staging",
                                           "approval:prod", "promote:prod"]
    assert {s.status for s in ex.stages} == {"pending"}
    assert [s.kind for s in ex.stages] == ["release", "deploy", "promote", "approval",
                                           "promote"]
    data = ex.to_dict()
    assert data["stages"][3] == {"position": 3, "name": "approval:prod", "kind": "approval",
                                 "env": "prod", "status": "pending", "started_at": None,
                                 "finished_at": None, "message": ""}
    assert list_executions(project.workspace().state, status="queued")[0].id == eid


def test_pipeline_waits_for_approval_then_resumes(project: Project,
                                                  engine: RunningEngine) -> None:
    commit = project.commit("feature")
    eid = project.start(commit)
    engine.engine.wake()
    ex = project.wait(eid, "waiting")
    assert [s.status for s in ex.stages] == ["succeeded", "succeeded", "succeeded",
                                             "waiting", "pending"]
    assert ex.release_id is not None
    assert ex.commit == commit
    assert "needs an approval" in ex.stages[3].message
    ws = project.workspace()
    try:
        assert ws.state.live("staging").release_id == ex.release_id  # type: ignore[union-attr]
        assert ws.state.live("prod") is None
        lines = [ln.line for ln in logs(ws.state, eid)]
    finally:
        ws.close()
    assert "▶ deploy:dev" in lines
    assert any("publish" in ln for ln in lines)  # the deployer's steps, streamed

    _decide(project, "prod", ex.release_id, approve=True, comment="looks good")
    engine.engine.wake()
    done = project.wait(eid, "succeeded")
    assert [s.status for s in done.stages] == ["succeeded"] * 5
    assert done.stages[3].message.startswith(f"approved by {USER}")
    ws = project.workspace()
    try:
        assert ws.state.live("prod").release_id == ex.release_id  # type: ignore[union-attr]
        kinds = [e.kind for e in ws.state.events(limit=500)]
    finally:
        ws.close()
    assert "execution_started" in kinds and "execution_finished" in kinds


def test_rejection_ends_the_execution(project: Project, engine: RunningEngine) -> None:
    eid = project.start(project.commit("risky"))
    ex = project.wait(eid, "waiting")
    assert ex.release_id is not None
    _decide(project, "prod", ex.release_id, approve=False, comment="not today")
    engine.engine.wake()
    done = project.wait(eid, "rejected")
    assert [s.status for s in done.stages][-2:] == ["rejected", "skipped"]
    assert "not today" in done.stages[3].message
    ws = project.workspace()
    try:
        assert ws.state.live("prod") is None
    finally:
        ws.close()


def test_unknown_commit_fails_with_a_clear_message(project: Project,
                                                   engine: RunningEngine) -> None:
    eid = project.start("0123456789abcdef0123456789abcdef01234567")
    done = project.wait(eid, "failed")
    assert done.stages[0].status == "failed"
    assert "is not in the repository" in done.stages[0].message
    assert {s.status for s in done.stages[1:]} == {"skipped"}


def test_run_execution_reruns_the_live_release(project: Project,
                                               engine: RunningEngine) -> None:
    first = project.start(project.commit("live"))
    ex = project.wait(first, "waiting")
    ws = project.workspace()
    try:
        run = start_execution(ws, commit=None, trigger="schedule",
                              detail={"env": "staging", "action": "run"}, actor="scheduler")
    finally:
        ws.close()
    engine.engine.wake()
    done = project.wait(run, "succeeded")
    assert [(s.name, s.status) for s in done.stages] == [("run:staging", "succeeded")]
    assert done.action == "run" and done.trigger == "schedule"
    assert ex.release_id in done.stages[0].message


def test_bad_input_is_a_clear_error(project: Project) -> None:
    ws = project.workspace()
    try:
        with pytest.raises(UsageError, match="names its environment"):
            start_execution(ws, commit=None, detail={"action": "run"}, actor=USER)
        with pytest.raises(UsageError, match="needs a commit"):
            start_execution(ws, commit=None, actor=USER)
        with pytest.raises(StateError, match="no execution #999"):
            get_execution(ws.state, 999)
        with pytest.raises(UsageError, match="unknown execution status"):
            list_executions(ws.state, status="done")
    finally:
        ws.close()


def test_check_stage_gates_the_release(project: Project, engine: RunningEngine) -> None:
    passing = project.start(project.set_pipeline(check=True))
    ex = project.wait(passing, "waiting")
    assert [s.name for s in ex.stages][:2] == ["check", "release"]
    assert ex.stages[0].status == "succeeded" and "0 failed" in ex.stages[0].message
    ws = project.workspace()
    try:
        assert ws.state.get_release(ex.release_id or "").checks_passed is True
    finally:
        ws.close()
    sql = project.root / "jobs" / "orders.sql"
    sql.write_text(sql.read_text(encoding="utf-8").replace("FROM raw.orders", "FROM"),
                   encoding="utf-8")
    failing = project.start(project.commit_all("broken SQL"))
    engine.engine.wake()
    done = project.wait(failing, "failed")
    assert done.stages[0].status == "failed"
    assert done.stages[0].message.startswith("check failed: sql:")
    assert done.release_id is None  # nothing was released
    assert {s.status for s in done.stages[1:]} == {"skipped"}


def test_cancel_a_waiting_execution(project: Project, engine: RunningEngine) -> None:
    eid = project.start(project.commit("cancel me"))
    project.wait(eid, "waiting")
    ws = project.workspace()
    try:
        assert cancel_execution(ws.state, eid, "bob")
        assert not cancel_execution(ws.state, eid, "bob")  # over already
    finally:
        ws.close()
    done = project.execution(eid)
    assert done.status == "cancelled" and done.message == "cancelled by bob"
    assert [s.status for s in done.stages][-2:] == ["skipped", "skipped"]


def test_logs_are_redacted_and_pollable(project: Project) -> None:
    eid = project.start(project.commit("logs"))
    ws = project.workspace()
    try:
        append_log(ws.state, eid, 0, "connecting to postgresql://etl:hunter2@db/warehouse")
        append_log(ws.state, eid, 0, "second")
        first, second = logs(ws.state, eid)
        assert "hunter2" not in first.line and "etl:***@db" in first.line
        assert [ln.line for ln in logs(ws.state, eid, after_seq=first.seq)] == ["second"]
        assert logs(ws.state, eid, after_seq=second.seq) == []
    finally:
        ws.close()


def test_a_checkout_that_cannot_be_made_fails_clearly(project: Project,
                                                      engine: RunningEngine) -> None:
    (project.home / "checkouts").write_text("in the way", encoding="utf-8")
    eid = project.start(project.commit("no room"))
    done = project.wait(eid, "failed")
    assert done.stages[0].status == "failed"
    assert done.stages[0].message.startswith("cannot create the checkout folder")
