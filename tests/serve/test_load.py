"""Load, bounded and on loopback only: 200 signed webhook deliveries (four per commit, with
distinct delivery ids, as a provider's retries and several hooks would send them) for 50
commits within 10 s, into a real ``sluice serve``, while ``GET /api/status`` is polled.

``queued``: exactly one execution per commit, created in push order, none lost, none
superseded. ``superseded``: the executions that had not started when a newer one came are
superseded, and the newest commit's execution is the one that goes on. Nothing is lost or
duplicated (every delivery recorded once). How long the deliveries took and the p95 of
``GET /api/status`` under that load are reported (printed), not asserted: no test asserts
timings (alone, one delivery takes ~15 ms; next to running deploys on two cores, more).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sluice.state.schema import deliveries
from tests.serve import api_fixtures as fx
from tests.serve.api_fixtures import ApiProject, github_push, wait_until

_clean_env, api_template = fx._clean_env, fx.api_template
COMMITS = 50
PER_COMMIT = 4


@contextmanager
def _served(template: ApiProject, base: Path, mode: str) -> Iterator[tuple[ApiProject, str]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLUICE_USER", fx.AUTHOR)
        project = fx.copy_project(template, base / "retail")
    config = project.root / "sluice.yaml"
    config.write_text(re.sub(r"(?m)^pipeline: .*$", f"pipeline: {{check: false, mode: {mode}}}",
                             config.read_text(encoding="utf-8")), encoding="utf-8")
    project.commit(f"mode {mode}")
    proc, url, _ = fx.start_server(project, base / "xdg")
    try:
        yield project, url
    finally:
        proc.kill()
        proc.wait(60)


def _burst(project: ApiProject, url: str) -> tuple[list[str], list[float], float]:
    """Make the commits, then push each commit's deliveries together, commit after
    commit, while another thread polls the status. The commits, the status latencies (ms)
    and how long the deliveries took (s)."""
    commits = [project.commit(f"load {i}") for i in range(COMMITS)]
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, headers=project.bearer("vic"), timeout=30) as http:
            while not done.is_set():
                began = time.perf_counter()
                assert http.get("/api/status").status_code == 200
                latencies.append((time.perf_counter() - began) * 1000)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    began = time.monotonic()
    with httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(PER_COMMIT) as pool:
        for i, commit in enumerate(commits):
            pushes = [github_push(commit, f"load-{i}-{n}") for n in range(PER_COMMIT)]
            answers = list(pool.map(lambda p: http.post("/api/hooks/github", content=p[0],
                                                        headers=p[1]), pushes))
            assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
            started = [a.json()["execution"] for a in answers if a.json()["status"] == "started"]
            assert len(started) == 1, [a.json() for a in answers]  # one per commit
    took = time.monotonic() - began
    done.set()
    poller.join(30)
    return commits, latencies, took


def _executions(project: ApiProject, url: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/api/executions", params={"limit": 1000},
                  headers=project.bearer("vic"), timeout=30)
    assert r.status_code == 200
    return sorted((e for e in r.json() if e["trigger"] == "webhook"), key=lambda e: e["id"])


def _recorded_deliveries(project: ApiProject) -> int:
    ws = project.workspace()
    try:
        with ws.state.transaction("count") as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(deliveries)
                                    .where(deliveries.c.delivery_id.like("load-%"))).scalar())
    finally:
        ws.close()


def _report(mode: str, latencies: list[float], took: float) -> None:
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")
    print(f"\n[load {mode}] {COMMITS * PER_COMMIT} deliveries in {took:.2f}s; "
          f"GET /api/status under load: {len(ordered)} calls, p95 {p95:.1f} ms")


def test_queued_one_execution_per_commit_in_order(api_template: ApiProject,
                                                  tmp_path: Path) -> None:
    with _served(api_template, tmp_path, "queued") as (project, url):
        commits, latencies, took = _burst(project, url)
        _report("queued", latencies, took)
        found = _executions(project, url)
        assert [e["commit"] for e in found] == commits  # one each, in push order
        assert not [e for e in found if e["status"] == "superseded"]
        assert _recorded_deliveries(project) == COMMITS * PER_COMMIT


def test_superseded_only_the_newest_waiting_execution_goes_on(api_template: ApiProject,
                                                              tmp_path: Path) -> None:
    with _served(api_template, tmp_path, "superseded") as (project, url):
        commits, latencies, took = _burst(project, url)
        _report("superseded", latencies, took)
        assert _recorded_deliveries(project) == COMMITS * PER_COMMIT
        # the newest goes through dev and staging (prod's group may hold an older one that
        # waits there for its approval: an execution inside a group is never superseded)
        newest = wait_until(lambda: next((e for e in _executions(project, url)
                                          if e["commit"] == commits[-1] and any(
                                              s["name"] == "promote:staging"
                                              and s["status"] == "succeeded"
                                              for s in e["stages"])), None),
                            180, "the newest commit's execution to be live in staging")
        # then every older execution still waiting to enter a group is superseded (on the
        # newest's next admission): what stays is the one that reached prod first (not
        # always #1: one created before the engine started it is superseded at once),
        # holding prod at its approval, and the newest, queued behind it
        def settled() -> list[dict[str, Any]] | None:
            found = _executions(project, url)
            ran = [e for e in found if e["status"] != "superseded"]
            return found if len(ran) == 2 else None

        found = wait_until(settled, 60, "every older waiting execution to be superseded")
        assert sorted(e["commit"] for e in found) == sorted(commits)  # none lost or doubled
        holder, last = [e for e in found if e["status"] != "superseded"]
        assert holder["id"] < last["id"] == newest["id"]
        assert holder["status"] == "waiting"
        assert [st["status"] for st in holder["stages"] if st["name"] == "approval:prod"] == \
            ["waiting"]
        assert last["status"] == "queued" and "prod" in last["message"], last
        superseded = [e for e in found if e["status"] == "superseded"]
        assert len(superseded) == COMMITS - 2
        assert all(e["id"] < newest["id"] for e in superseded)
