"""Two engines on one state store never run the same stage twice: two threads with their
own workspaces, two processes, and (marker ``postgres``) two engines on PostgreSQL."""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

import pytest

from sluice.flow.gates import decide
from sluice.serve.executions import claim, logs, release_lease, set_stage
from sluice.serve.pipeline import Engine
from tests.serve import exec_fixtures as fx
from tests.serve.exec_fixtures import Project, RunningEngine

_clean_env, exec_template, project = fx._clean_env, fx.exec_template, fx.project
CHILD = Path(__file__).with_name("engine_child.py")


def _start_four(p: Project) -> list[int]:
    commits = [p.set_pipeline("parallel")] + [p.commit(f"n{i}") for i in range(3)]
    return [p.start(c) for c in commits]


def _assert_each_stage_ran_once(p: Project, ids: list[int]) -> None:
    waiting = [p.wait(i, "waiting") for i in ids]
    ws = p.workspace()
    try:
        started = collections.Counter(
            (i, ln.position) for i in ids for ln in logs(ws.state, i)
            if ln.line.startswith("▶ "))
        deployments = collections.Counter(
            (d.env, d.release_id) for env in ("dev", "staging")
            for d in ws.state.deployments(env, limit=100))
    finally:
        ws.close()
    assert started == {(i, pos): 1 for i in ids for pos in range(4)}
    assert deployments == {(env, ex.release_id): 1 for ex in waiting
                           for env in ("dev", "staging")}


def test_a_lease_has_one_owner(project: Project) -> None:
    eid = project.start(project.commit("lease"))
    ws = project.workspace()
    try:
        assert claim(ws.state, eid, "a@h:1", 30)
        assert not claim(ws.state, eid, "b@h:2", 30)
        release_lease(ws.state, eid, "b@h:2")  # not b's: nothing happens
        assert not claim(ws.state, eid, "b@h:2", 30)
        release_lease(ws.state, eid, "a@h:1")
        assert claim(ws.state, eid, "b@h:2", 30)
    finally:
        ws.close()


def test_a_lapsed_lease_mid_stage_is_interrupted(project: Project) -> None:
    """A server on another host stopped renewing while its stage ran: whoever looks next
    marks the stage and the execution interrupted (and frees a lease lapsed between
    stages without touching the execution)."""
    project.set_pipeline("queued")  # both stay active
    running, between = (project.start(project.commit(f"lapse{i}")) for i in range(2))
    ws = project.workspace()
    try:
        for eid in (running, between):
            assert claim(ws.state, eid, "gone@elsewhere:1", 0.001)
        with ws.state.transaction("test", write=True) as conn:
            set_stage(conn, running, 0, "running")
    finally:
        ws.close()
    engine = Engine(project.root, "looker")
    try:
        engine.recover()
    finally:
        engine.close()
    interrupted = project.execution(running)
    assert interrupted.status == "interrupted"
    assert interrupted.stages[0].status == "interrupted"
    assert "gone@elsewhere:1" in interrupted.stages[0].message
    resumed = project.execution(between)
    assert resumed.status == "queued" and resumed.lease_owner is None


def test_two_engines_in_threads(project: Project) -> None:
    ids = _start_four(project)
    engines = [RunningEngine(project.root, "engine-a"), RunningEngine(project.root, "engine-b")]
    try:
        _assert_each_stage_ran_once(project, ids)
    finally:
        for e in engines:
            e.close()


def test_two_engines_in_processes(project: Project) -> None:
    ids = _start_four(project)
    children = [subprocess.Popen([sys.executable, str(CHILD), str(project.root), name],
                                 stdout=subprocess.PIPE, text=True)
                for name in ("proc-a", "proc-b")]
    try:
        _assert_each_stage_ran_once(project, ids)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            assert child.wait(timeout=120) == 0


@pytest.mark.postgres
def test_two_engines_on_postgresql(project: Project, postgres_db: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_STATE_URL", postgres_db)
    ids = _start_four(project)
    engines = [RunningEngine(project.root, "pg-a"), RunningEngine(project.root, "pg-b")]
    children = [subprocess.Popen([sys.executable, str(CHILD), str(project.root), "pg-c"],
                                 stdout=subprocess.PIPE, text=True)]
    try:
        _assert_each_stage_ran_once(project, ids)
        ex = project.execution(ids[0])
        ws = project.workspace()
        try:
            decide(ws, "prod", ex.release_id, approve=True)
        finally:
            ws.close()
        for e in engines:
            e.engine.wake()
        assert project.wait(ids[0], "succeeded").stages[-1].status == "succeeded"
    finally:
        for e in engines:
            e.close()
        for child in children:
            child.terminate()
            child.wait(timeout=120)
