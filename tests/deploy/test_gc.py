"""``sluice gc``: keep what the last ``retention.versions`` live states need, drop the rest."""

from __future__ import annotations

import re

import pytest

from sluice.deploy.deployer import deploy
from sluice.deploy.gc import collect_garbage
from sluice.errors import LockError
from sluice.flow.gates import GateError, rollback
from sluice.project.workspace import Workspace
from sluice.release import verify_release

from .conftest import Project

CO = "marts.customer_orders"


def set_retention(project: Project, versions: int) -> None:
    path = project.root / "sluice.yaml"
    text, n = re.subn(r"retention: \{versions: \d+\}", f"retention: {{versions: {versions}}}",
                      path.read_text())
    assert n == 1
    path.write_text(text)


def state(ws: Workspace) -> tuple[set[tuple[str, str]], set[str]]:
    """(dataset, version) pairs and installed releases of dev."""
    target = ws.target("dev")
    releases = {r.id for r in ws.state.list_releases() if target.release_dir(r.id).is_dir()}
    return {(v.dataset, v.version) for v in target.versions()}, releases


@pytest.fixture
def three(project: Project) -> tuple[Project, list[str], list[dict[str, str]]]:
    """dev has been a → b → c (customer_orders changed each time); c is live.

    c itself keeps one live state: gc takes the larger of the work tree's retention and the
    live release's, so the tests lower it in the work tree from there."""
    set_retention(project, 1)
    c = project.commit_change("customer_orders.sql", "third release")
    with project.ws() as ws:
        deploy(ws, "dev", project.b, actor="tester")
        deploy(ws, "dev", c, actor="tester")
        history = [s.versions for s in reversed(ws.state.live_history("dev"))]
    return project, [project.a, project.b, c], history


def test_keeps_the_retained_live_states_and_drops_older(three: tuple[Project, list[str],
                                                                   list[dict[str, str]]]) -> None:
    project, (a, b, c), (va, vb, vc) = three
    assert va[CO] != vb[CO] != vc[CO] and va["staging.orders"] == vc["staging.orders"]
    set_retention(project, 2)
    with project.ws() as ws:
        (report,) = collect_garbage(ws, "dev")
        assert report.dropped_versions == {CO: [va[CO]]}
        assert report.dropped_releases == [a]
        assert sorted(report.kept_releases) == sorted([b, c])
        versions, releases = state(ws)
        assert versions == set(vb.items()) | set(vc.items())
        assert releases == {b, c}
        live = ws.state.live("dev")
        assert live is not None and live.versions == vc
        assert ws.target("dev").catalog() == vc
        (event,) = ws.state.events("dev", kind="gc")
        assert event.payload["dropped_versions"] == {CO: [va[CO]]}
        # A rollback reaches every retained state, and says why it cannot reach older ones.
        with pytest.raises(GateError, match="garbage-collected"):
            rollback(ws, "dev", a)
        assert rollback(ws, "dev", b).to_release == b
        assert ws.target("dev").catalog() == vb
        # Nothing left to collect: gc is idempotent.
        (again,) = collect_garbage(ws, "dev")
        assert again.dropped_versions == {} and again.dropped_releases == []


def test_never_drops_the_live_state(three: tuple[Project, list[str],
                                                 list[dict[str, str]]]) -> None:
    """After a rollback the live state is older than the newest versions: it still stays."""
    project, (a, b, c), (va, vb, vc) = three
    d = project.commit_change("customer_orders.sql", "fourth release")  # keeps 1, like c
    with project.ws() as ws:
        deploy(ws, "dev", d, actor="tester")
        vd = ws.state.live("dev").versions  # type: ignore[union-attr]
        rollback(ws, "dev", c)
        (report,) = collect_garbage(ws, "dev")
        assert report.dropped_versions == {CO: [va[CO], vb[CO], vd[CO]]}
        assert sorted(report.dropped_releases) == sorted([a, b, d])
        versions, releases = state(ws)
        assert versions == set(vc.items()) and releases == {c}
        assert ws.target("dev").current_release() == c
    # The environment still works: deploying d again recomputes only what gc dropped.
    assert project.sluice("deploy", "dev", "--release", d).returncode == 0


def test_drops_orphans_of_failed_deployments_and_unused_installs(project: Project) -> None:
    with project.ws() as ws:
        target = ws.target("dev")
        target.create_version(CO, "v1_orphan", "f", "SELECT 1 AS customer_id")
        # `sluice plan` installs a release it never deploys
        target.install_release(ws.artifacts, verify_release(ws.artifacts, project.b))
        (report,) = collect_garbage(ws, "dev")
        assert report.dropped_versions == {CO: ["v1_orphan"]}
        assert report.dropped_releases == [project.b]
        versions, releases = state(ws)
        assert versions == set(project.a_versions.items()) and releases == {project.a}


def test_dry_run_changes_nothing_and_cli_json(three: tuple[Project, list[str],
                                                           list[dict[str, str]]]) -> None:
    project, (a, _, _), (va, _, _) = three
    set_retention(project, 2)
    with project.ws() as ws:
        before = state(ws)
    (report,) = project.sluice_json("gc", "dev", "--dry-run")
    assert report["dry_run"] is True
    assert report["dropped_versions"] == {CO: [va[CO]]}
    assert report["dropped_releases"] == [a]
    with project.ws() as ws:
        assert state(ws) == before
        assert not ws.state.events("dev", kind="gc")
    # Every environment by default; never-deployed ones are skipped, not created.
    text = project.sluice("gc").stdout
    assert "dev: dropped 1 dataset versions and 1 releases" in text
    assert "staging" not in text
    assert not (project.root / ".sluice" / "envs" / "staging").exists()
    with project.ws() as ws:
        assert state(ws) != before


def test_respects_the_lock_of_a_live_deployment(project: Project) -> None:
    with project.ws() as ws:
        ws.state.acquire_lock("dev", "someone@elsewhere.example:1")
        with pytest.raises(LockError, match="locked by someone@elsewhere"):
            collect_garbage(ws, "dev")
        # A dry run reads only: it needs no lock.
        (report,) = collect_garbage(ws, "dev", dry_run=True)
        assert report.dropped_versions == {}
    proc = project.sluice("gc", "dev", check=False)
    assert proc.returncode != 0 and "locked by" in proc.stderr
