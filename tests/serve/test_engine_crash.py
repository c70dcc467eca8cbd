"""SIGKILL a real engine process in the middle of a deploy stage: the next engine marks the
execution interrupted and the environment, recovered by the deployer's journal, serves what
it served before (catalog, code, versions) — never half-published."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.serve import exec_fixtures as fx
from tests.serve.exec_fixtures import Project, RunningEngine, wait_for

from sluice.serve.executions import Execution, logs
from sluice.serve.pipeline import Engine
from sluice.targets import create_target

_clean_env, exec_template, project = fx._clean_env, fx.exec_template, fx.project
CHILD = Path(__file__).with_name("engine_child.py")


def _snapshot(p: Project, env: str) -> dict[str, Any]:
    target = create_target("local", env, p.home)
    try:
        view: dict[str, Any] = {"catalog": target.catalog(), "current": target.current_release(),
                                "versions": sorted((v.dataset, v.version)
                                                   for v in target.versions())}
    finally:
        target.close()
    ws = p.workspace()
    try:
        live = ws.state.live(env)
        view["live"] = (live.release_id, live.versions) if live else None
        kept = {(q.dataset, q.version) for q in ws.state.quarantined(env)}
    finally:
        ws.close()
    view["versions"] = [v for v in view["versions"] if v not in kept]
    return view


def test_killed_mid_deploy_is_interrupted_and_recovered(project: Project) -> None:
    engine = RunningEngine(project.root, "before")
    try:
        first = project.wait(project.start(project.commit("first")), "waiting")
    finally:
        engine.close()
    before = _snapshot(project, "dev")
    assert before["live"][0] == first.release_id

    sql = project.root / "jobs" / "customer_orders.sql"
    text = sql.read_text(encoding="utf-8").replace("GROUP BY", "WHERE 1 = 1\nGROUP BY")
    sql.write_text(text, encoding="utf-8")  # new code: a new version of customer_orders
    crashed = project.start(project.commit_all("change a job"))
    child = subprocess.run(
        [sys.executable, str(CHILD), str(project.root), "doomed"],
        env={**os.environ, "SLUICE_TEST_KILL_AT": "publish:done"},
        capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    left = project.execution(crashed)
    assert left.status == "running"
    assert [s.status for s in left.stages][:3] == ["succeeded", "running", "pending"]
    assert _snapshot(project, "dev")["catalog"] != before["catalog"]  # published, unrecorded

    restarted = Engine(project.root, "restarted")
    try:
        restarted.recover()
        ws = project.workspace()
        try:
            deployments = ws.state.deployments("dev", limit=5)
            lines = [ln.line for ln in logs(ws.state, crashed)]
            lock = ws.state.current_lock("dev")
        finally:
            ws.close()
    finally:
        restarted.close()
    done = project.execution(crashed)
    assert done.status == "interrupted"
    assert [s.status for s in done.stages] == ["succeeded", "interrupted", "skipped",
                                               "skipped", "skipped"]
    assert "doomed" in done.stages[1].message
    assert _snapshot(project, "dev") == before  # catalog, code and versions as they were
    assert deployments[0].status.value == "rolled_back"
    assert lock is None
    assert any("recovered by the journal" in ln for ln in lines)
    assert not (project.home / "checkouts" / str(crashed)).exists()
    # the interrupted execution is over for good; the next one goes through as usual (up
    # to prod, where the first one still waits for its approval)
    engine = RunningEngine(project.root, "after")
    try:
        again = project.start(project.commit("again"))
        passed = wait_for(lambda: _through_staging(project, again), 90, "staging")
    finally:
        engine.close()
    assert _snapshot(project, "dev")["live"][0] == passed.release_id


def _through_staging(p: Project, eid: int) -> Execution | None:
    ex = p.execution(eid)
    return ex if ex.stages[2].status == "succeeded" else None
