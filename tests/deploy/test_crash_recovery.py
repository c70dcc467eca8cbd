"""Crash a real ``sluice deploy`` (SIGKILL) after every step of its journal, then check that
the next command rolls it back to the last good release and data, and that a retry works."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys

import pytest

from sluice.deploy import glue_bookmarks
from sluice.deploy.deployer import acquire_env_lock, deploy, recover
from sluice.errors import LockError
from sluice.project.workspace import Workspace
from sluice.state import DeploymentStatus
from sluice.state.locks import TAKEOVER_EVENT
from sluice.targets.local.target import SCHEMA, LocalTarget

from .conftest import Project

# The journal of deploying release b (only customer_orders changed) over release a.
KILL_POINTS = [
    "install:started",
    "install:done",
    "plan:done",
    "run:customer_orders:started",
    "run:customer_orders:done",
    "audit:marts.customer_orders:started",
    "audit:marts.customer_orders:done",
    "publish:started",
    "publish:done",
    "activate:done",
]
PUBLISHED = {"publish:done", "activate:done"}  # the catalog already points at the new data


def local_target(ws: Workspace) -> LocalTarget:
    target = ws.target("dev")
    assert isinstance(target, LocalTarget)
    return target


def journal(ws: Workspace, dep: int) -> list[str]:
    return [f"{s.step}:{s.status.value}" for s in ws.state.steps(dep)]


def started_versions(ws: Workspace, dep: int) -> dict[str, str]:
    """The versions a deployment set out to write, from its journal."""
    return {d: s.detail["version"] for s in ws.state.steps(dep)
            if s.step.startswith("run:") and s.status == "started" for d in s.detail["outputs"]}


def version_tables(target: LocalTarget) -> set[str]:
    """Physical version tables in the warehouse (not the registry's idea of them)."""
    rows = target.engine().con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
        "AND table_name NOT IN ('registry', 'catalog')", [SCHEMA]).fetchall()
    return {f'"{SCHEMA}"."{r[0]}"' for r in rows}


def view_targets(target: LocalTarget) -> dict[str, str]:
    """Dataset → the version its consumer-facing view reads (from the view's SQL)."""
    found = {}
    for dataset, version in target.catalog().items():
        schema, _, name = dataset.rpartition(".")
        row = target.engine().con.execute(
            "SELECT sql FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
            [schema, name]).fetchone()
        assert row is not None, dataset
        found[dataset] = version if version in row[0] else f"not {version}: {row[0]}"
    return found


def assert_serves(ws: Workspace, release: str, versions: dict[str, str]) -> None:
    """``dev`` serves exactly this release and data, recorded and physical."""
    target = local_target(ws)
    live = ws.state.live("dev")
    assert live is not None and live.release_id == release
    assert live.versions == versions
    assert target.catalog() == versions
    assert view_targets(target) == versions
    assert target.current_release() == release


@pytest.mark.parametrize("point", KILL_POINTS)
def test_crash_at_every_step_is_rolled_back_then_retried(project: Project, point: str) -> None:
    a, b, a_versions = project.a, project.b, project.a_versions
    killed = project.sluice("deploy", "dev", "--release", b, kill_at=point, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # What the crash left behind: a running deployment, its lock, maybe half-published data.
    with project.ws() as ws:
        dep = ws.state.deployments("dev", limit=1)[0]
        assert (dep.release_id, dep.status) == (b, DeploymentStatus.RUNNING)
        assert journal(ws, dep.id) == KILL_POINTS[:KILL_POINTS.index(point) + 1]
        lock = ws.state.current_lock("dev")
        assert lock is not None and lock.owner.startswith(f"tester@{socket.gethostname()}:")
        new = started_versions(ws, dep.id)
        target = local_target(ws)
        live = ws.state.live("dev")
        assert live is not None and live.release_id == a  # the state store still says a
        if point in PUBLISHED:  # the window between target.publish and state.publish
            assert target.catalog() == {**a_versions, **new} != a_versions
        else:
            assert target.catalog() == a_versions
        assert target.current_release() == (b if point == "activate:done" else a)

    # The next command takes over the dead process's lock and rolls the deployment back
    # before doing its own work: gc then finds no orphan version left to collect.
    report = project.sluice_json("gc", "dev")
    assert [r["recovered"] for r in report] == [[dep.id]]
    assert report[0]["dropped_versions"] == {}
    with project.ws() as ws:
        assert ws.state.get_deployment(dep.id).status is DeploymentStatus.ROLLED_BACK
        recovered = ws.state.events("dev", kind="recovered")
        assert [e.payload for e in recovered] == [{"deployment": dep.id,
                                                   "outcome": "rolled_back"}]
        takeovers = ws.state.events("dev", kind=TAKEOVER_EVENT)
        assert [e.payload["previous_owner"] for e in takeovers] == [lock.owner]
        assert ws.state.current_lock("dev") is None
        assert_serves(ws, a, a_versions)
        target = local_target(ws)
        assert {(v.dataset, v.version) for v in target.versions()} == set(a_versions.items())
        assert version_tables(target) == {target.version_table(d, v)
                                          for d, v in a_versions.items()}

    # And a retry of the same release succeeds.
    outcome = project.sluice_json("deploy", "dev", "--release", b)
    assert set(outcome["new_versions"]) == {"marts.customer_orders"}
    with project.ws() as ws:
        retried = {**a_versions, **outcome["new_versions"]}
        assert_serves(ws, b, retried)
        assert ws.state.deployments("dev", limit=1)[0].status is DeploymentStatus.SUCCEEDED


def test_kill_points_are_the_whole_journal(project: Project) -> None:
    """The parametrisation above must follow the deployer's journal when it changes."""
    with project.ws() as ws:
        outcome = deploy(ws, "dev", project.b, actor="tester")
        assert journal(ws, outcome.deployment_id) == KILL_POINTS


def test_next_deploy_recovers_then_deploys(project: Project) -> None:
    """The usual path: `sluice deploy dev` again, after a crash in the publish window."""
    killed = project.sluice("deploy", "dev", kill_at="publish:done", check=False)
    assert killed.returncode == -signal.SIGKILL
    status = project.sluice_json("status")
    dev = next(row for row in status if row["env"] == "dev")
    assert dev["release"] == project.a and dev["versions"] == project.a_versions
    assert dev["last_deployment"]["status"] == "running"  # visibly unfinished

    outcome = project.sluice_json("deploy", "dev")
    with project.ws() as ws:
        first, retry = sorted(d.id for d in ws.state.deployments("dev", limit=2))
        assert retry == outcome["deployment"]
        assert ws.state.get_deployment(first).status is DeploymentStatus.ROLLED_BACK
        kinds = [e.kind for e in reversed(ws.state.events("dev"))]
        assert kinds[-3:] == [TAKEOVER_EVENT, "recovered", "published"]
        orphans = started_versions(ws, first)
        existing = {(v.dataset, v.version) for v in local_target(ws).versions()}
        assert not set(orphans.items()) & existing
        assert_serves(ws, project.b, {**project.a_versions, **outcome["new_versions"]})


def test_crash_after_state_publish_is_completed_not_rolled_back(project: Project) -> None:
    """Killed between recording the live state and closing the deployment: it is live, so
    recovery completes it instead of calling it rolled back."""
    with project.ws() as ws:
        dep = ws.state.start_deployment("dev", project.a, "run", "tester")
        ws.state.publish("dev", project.a, project.a_versions, dep)
        assert recover(ws, "dev") == [dep]
        assert ws.state.get_deployment(dep).status is DeploymentStatus.SUCCEEDED
        assert ws.state.events("dev", kind="recovered")[0].payload == {
            "deployment": dep, "outcome": "completed"}
        assert_serves(ws, project.a, project.a_versions)


def test_crash_after_state_publish_commits_the_staged_glue_bookmarks(project: Project) -> None:
    """Killed after recording the live state but before committing the bookmarks its glue
    runs staged: they read data that is now published, so recovery commits them (and drops
    a run's that never published)."""
    with project.ws() as ws:
        version = next(iter(project.a_versions.values()))
        marks = glue_bookmarks.folder_of(ws.target("dev"))
        assert marks is not None
        marks.mkdir()
        (marks / f"daily@{version}.pending.json").write_text('{"files": ["a.csv"]}')
        (marks / "other@v_unpublished.pending.json").write_text('{"files": ["b.csv"]}')
        dep = ws.state.start_deployment("dev", project.a, "run", "tester")
        ws.state.publish("dev", project.a, project.a_versions, dep)
        assert recover(ws, "dev") == [dep]
        assert (marks / "daily.json").read_text() == '{"files": ["a.csv"]}'
        assert sorted(p.name for p in marks.iterdir()) == ["daily.json"]


def test_an_interrupt_after_state_publish_completes_the_deployment(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or any error) once the state store has recorded the publish: the deployment
    is live, so it is completed (its glue runs' bookmarks committed), not called failed."""
    real = glue_bookmarks.commit
    calls: list[dict[str, str]] = []

    def interrupted(target: object, versions: dict[str, str]) -> None:
        calls.append(dict(versions))
        if len(calls) == 1:  # a glue run of this deployment staged its bookmark, then ^C
            marks = glue_bookmarks.folder_of(target)  # type: ignore[arg-type]
            assert marks is not None
            marks.mkdir(exist_ok=True)
            version = next(iter(versions.values()))
            (marks / f"daily@{version}.pending.json").write_text('{"files": ["d2.csv"]}')
            raise KeyboardInterrupt
        real(target, versions)  # type: ignore[arg-type]

    monkeypatch.setattr(glue_bookmarks, "commit", interrupted)
    with project.ws() as ws, pytest.raises(KeyboardInterrupt):
        deploy(ws, "dev", project.b, actor="tester")
    with project.ws() as ws:
        [dep] = ws.state.deployments("dev", limit=1)
        assert dep.status is DeploymentStatus.SUCCEEDED
        assert dep.message == "completed although it was interrupted after publishing"
        assert ws.state.live("dev").release_id == project.b  # type: ignore[union-attr]
        marks = glue_bookmarks.folder_of(ws.target("dev"))
        assert marks is not None
        assert (marks / "daily.json").read_text() == '{"files": ["d2.csv"]}'
    assert len(calls) == 2


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_lock_of_a_dead_process_is_taken_over(project: Project) -> None:
    stale = f"someone@{socket.gethostname()}:{_dead_pid()}"
    with project.ws() as ws:
        ws.state.acquire_lock("dev", stale, ttl_seconds=3600)
    project.sluice("deploy", "dev", "--release", project.b)
    with project.ws() as ws:
        (event,) = ws.state.events("dev", kind=TAKEOVER_EVENT)
        assert event.payload["previous_owner"] == stale
        assert "dead" in event.payload["reason"]
        assert ws.state.current_lock("dev") is None


def test_lock_of_a_live_or_remote_process_is_respected(project: Project) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owners = [f"someone@{socket.gethostname()}:{sleeper.pid}",
                  f"someone@elsewhere.example:{_dead_pid()}"]
        with project.ws() as ws:
            for owner in owners:
                ws.state.acquire_lock("dev", owner, ttl_seconds=3600)
                with pytest.raises(LockError, match="locked by"):
                    acquire_env_lock(ws, "dev", "tester@here:1")
                assert ws.state.release_lock("dev", owner)
            assert not ws.state.events("dev", kind=TAKEOVER_EVENT)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_first_deploy_killed_after_publish_leaves_nothing_visible(project: Project) -> None:
    shutil.copytree(project.root / "data", project.root / ".sluice/envs/staging/objects")
    proc = project.sluice("deploy", "staging", "--release", project.a, kill_at="publish:done",
                          check=False)
    assert proc.returncode == -signal.SIGKILL
    with project.ws() as ws:
        acquire_env_lock(ws, "staging", "tester@x:1")
        recover(ws, "staging")
        assert ws.target("staging").catalog() == {}
