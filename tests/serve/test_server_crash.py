"""SIGKILL a real ``sluice serve`` in the middle of an execution (right after the deploy to
dev journaled its publish): the restarted server marks the execution interrupted, and the
environment, recovered by the deployer's journal, serves what it served before."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx

from sluice.targets import create_target
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject, wait_until

_clean_env, api_template = fx._clean_env, fx.api_template


def _dev(project: ApiProject) -> dict[str, Any]:
    target = create_target("local", "dev", project.home)
    try:
        return {"catalog": target.catalog(), "current": target.current_release()}
    finally:
        target.close()


def test_a_killed_server_leaves_no_half_published_environment(api_template: ApiProject,
                                                              tmp_path: Path) -> None:
    project = fx.copy_project(api_template, tmp_path / "retail")
    before = _dev(project)
    sql = project.root / "jobs" / "customer_orders.sql"
    sql.write_text(sql.read_text(encoding="utf-8").replace("GROUP BY", "WHERE 1 = 1\nGROUP BY"),
                   encoding="utf-8")  # new code: dev gets a new version to publish
    commit = project.commit("change a job")
    proc, url, _ = fx.start_server(project, tmp_path / "xdg",
                                   {"SLUICE_TEST_KILL_AT": "publish:done"})
    try:
        r = httpx.post(url + "/api/executions", json={"commit": commit},
                       headers=project.bearer("dave"), timeout=30)
        assert r.status_code == 202, r.text
        eid = r.json()["execution"]
        assert proc.wait(120) == -signal.SIGKILL  # the deployer killed its own process
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _dev(project)["catalog"] != before["catalog"]  # published, never recorded

    proc, url, _ = fx.start_server(project, tmp_path / "xdg")
    try:
        def final() -> dict[str, Any] | None:
            ex = httpx.get(f"{url}/api/executions/{eid}", headers=project.bearer("vic"),
                           timeout=30).json()
            return ex if ex["status"] not in ("queued", "running", "waiting") else None

        done = wait_until(final, 120, f"execution {eid} to be marked")

        def recovered() -> list[dict[str, Any]] | None:  # right after marking it
            found = httpx.get(url + "/api/status", headers=project.bearer("vic"),
                              timeout=30).json()
            return found if found[0]["last_deployment"]["status"] != "running" else None

        status = wait_until(recovered, 120, "dev to be recovered")
    finally:
        proc.terminate()
        proc.wait(60)
    assert done["status"] == "interrupted"
    assert [s["status"] for s in done["stages"]][:3] == ["succeeded", "interrupted", "skipped"]
    assert _dev(project) == before  # the journal put dev back: catalog and code
    assert status[0]["release"] == project.release
    assert status[0]["last_deployment"]["status"] == "rolled_back"
