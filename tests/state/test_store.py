"""Every StateStore method, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sluice.state import (
    ApprovalDecision,
    ApprovalRecord,
    AuditRecord,
    DeploymentKind,
    DeploymentStatus,
    JobRunRecord,
    JobRunStatus,
    StateError,
    StateStore,
    StepStatus,
)

from .conftest import release

# --------------------------------------------------------------------------- releases


def test_release_round_trip(store: StateStore) -> None:
    rec = release(
        "aaaa00000001",
        created_at=dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        dirty=True,
        manifest_json=json.dumps({"files": 3}),
    )
    store.add_release(rec)
    assert store.get_release("aaaa00000001") == rec


def test_add_release_is_idempotent_but_immutable(store: StateStore) -> None:
    store.add_release(release("aaaa00000001"))
    store.add_release(release("aaaa00000001", message="rebuilt"))  # same digest: no-op
    assert store.get_release("aaaa00000001").message == "first"
    with pytest.raises(StateError, match="already recorded with digest") as info:
        store.add_release(release("aaaa00000001", digest="f" * 64))
    assert info.value.tip == "releases are immutable: build a new release instead"


def test_get_release_by_unique_prefix(store: StateStore) -> None:
    store.add_release(release("abc111111111"))
    store.add_release(release("abc222222222"))
    store.add_release(release("a_c333333333"))
    assert store.get_release("abc1").id == "abc111111111"
    assert store.get_release("  abc2 ").id == "abc222222222"
    # '_' is a LIKE wildcard: it must match only itself.
    assert store.get_release("a_").id == "a_c333333333"
    # by digest prefix too
    assert store.get_release("abc2222222220000").id == "abc222222222"


def test_ambiguous_prefix_lists_the_candidates(store: StateStore) -> None:
    store.add_release(release("abc111111111"))
    store.add_release(release("abc222222222"))
    with pytest.raises(StateError, match="ambiguous: it matches abc111111111, abc222222222"):
        store.get_release("abc")


def test_missing_release_suggests_close_ids(store: StateStore) -> None:
    store.add_release(release("abc111111111"))
    with pytest.raises(StateError, match="no release matches 'abd111111111'") as info:
        store.get_release("abd111111111")
    assert info.value.tip is not None
    assert "did you mean abc111111111?" in info.value.tip
    assert "sluice releases" in info.value.tip
    with pytest.raises(StateError, match="ABC"):
        store.get_release("ABC")  # case-sensitive, even on SQLite
    with pytest.raises(StateError, match="empty"):
        store.get_release("")


def test_list_releases_newest_first_and_set_checks(store: StateStore) -> None:
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    store.add_release(release("old000000000", created_at=t0))
    store.add_release(release("new000000000", created_at=t0 + dt.timedelta(hours=1)))
    assert [r.id for r in store.list_releases()] == ["new000000000", "old000000000"]
    assert store.get_release("old").checks_passed is None
    store.set_checks("old000000000", True)
    store.set_checks("new000000000", False)
    assert store.get_release("old").checks_passed is True
    assert store.get_release("new").checks_passed is False
    with pytest.raises(StateError, match="unknown release 'nope'"):
        store.set_checks("nope", True)


def test_naive_timestamps_are_refused(store: StateStore) -> None:
    with pytest.raises(StateError, match="no time zone"):
        store.add_release(release(created_at=dt.datetime(2025, 1, 1)))


# --------------------------------------------------------------------------- deployments


def test_deployment_lifecycle_and_journal(store: StateStore) -> None:
    store.add_release(release("r1"))
    dep = store.start_deployment("dev", "r1", DeploymentKind.DEPLOY, "ada")
    started = store.get_deployment(dep)
    assert (started.env, started.release_id, started.kind, started.status, started.actor) == (
        "dev",
        "r1",
        DeploymentKind.DEPLOY,
        DeploymentStatus.RUNNING,
        "ada",
    )
    assert started.finished_at is None
    first = store.step(dep, "plan", StepStatus.STARTED)
    second = store.step(dep, "plan", "done", {"recompute": ["a", "b"]})
    assert (first.seq, second.seq) == (1, 2)
    assert store.steps(dep) == [first, second]
    assert store.steps(dep)[1].detail == {"recompute": ["a", "b"]}
    assert store.steps(dep)[1].status is StepStatus.DONE
    assert store.unfinished_deployments() == [started]
    done = store.finish_deployment(dep, DeploymentStatus.SUCCEEDED, "2 new versions")
    assert done.status is DeploymentStatus.SUCCEEDED and done.message == "2 new versions"
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert store.unfinished_deployments() == []
    # a finished deployment may later be marked rolled back
    assert store.finish_deployment(dep, "rolled_back").status is DeploymentStatus.ROLLED_BACK


def test_deployment_validation(store: StateStore) -> None:
    store.add_release(release("r1"))
    with pytest.raises(StateError, match="unknown release 'nope'"):
        store.start_deployment("dev", "nope", "deploy", "ada")
    with pytest.raises(StateError, match=r"invalid DeploymentKind 'ship'.*deploy, run"):
        store.start_deployment("dev", "r1", "ship", "ada")
    dep = store.start_deployment("dev", "r1", "run", "ada")
    with pytest.raises(StateError, match="invalid StepStatus"):
        store.step(dep, "x", "maybe")
    with pytest.raises(StateError, match="unknown deployment 999"):
        store.step(999, "x", "started")
    with pytest.raises(StateError, match="cannot finish with status 'running'"):
        store.finish_deployment(dep, "running")
    with pytest.raises(StateError, match="unknown deployment 999"):
        store.finish_deployment(999, "failed")
    with pytest.raises(StateError, match="unknown deployment 999"):
        store.get_deployment(999)


def test_deployments_filter_order_and_limit(store: StateStore) -> None:
    store.add_release(release("r1"))
    ids = [store.start_deployment(env, "r1", "deploy", "ada") for env in ["dev", "prod", "dev"]]
    store.finish_deployment(ids[0], "failed", "boom")
    assert [d.id for d in store.deployments()] == ids[::-1]
    assert [d.id for d in store.deployments("dev")] == [ids[2], ids[0]]
    assert [d.id for d in store.deployments(limit=1)] == [ids[2]]
    assert [d.id for d in store.unfinished_deployments()] == [ids[1], ids[2]]
    assert [d.id for d in store.unfinished_deployments("prod")] == [ids[1]]


# --------------------------------------------------------------------------- live state


def _deploy(store: StateStore, env: str, rid: str, versions: dict[str, str]) -> int:
    dep = store.start_deployment(env, rid, "deploy", "ada")
    store.publish(env, rid, versions, dep)
    store.finish_deployment(dep, "succeeded")
    return dep


def test_publish_sets_live_state_and_appends_history(store: StateStore) -> None:
    for rid in ["r1", "r2"]:
        store.add_release(release(rid))
    assert store.live("dev") is None
    assert store.live_history("dev") == []
    d1 = _deploy(store, "dev", "r1", {"s.a": "v1", "s.b": "v1"})
    d2 = _deploy(store, "dev", "r2", {"s.a": "v2", "s.b": "v1"})
    _deploy(store, "prod", "r1", {"s.a": "v1"})
    live = store.live("dev")
    assert live is not None
    assert (live.release_id, live.versions, live.deployment_id) == (
        "r2",
        {"s.a": "v2", "s.b": "v1"},
        d2,
    )
    history = store.live_history("dev")
    assert [(h.release_id, h.deployment_id) for h in history] == [("r2", d2), ("r1", d1)]
    assert history[0] == live
    assert store.live_history("dev", limit=1) == [live]
    assert [h.release_id for h in store.live_history("prod")] == ["r1"]


def test_publish_validates_references(store: StateStore) -> None:
    store.add_release(release("r1"))
    with pytest.raises(StateError, match="unknown release 'nope'"):
        store.publish("dev", "nope", {}, None)
    with pytest.raises(StateError, match="unknown deployment 42"):
        store.publish("dev", "r1", {}, 42)
    assert store.live("dev") is None and store.live_history("dev") == []
    store.publish("dev", "r1", {"a": "v"}, None)  # publishing outside a deployment is allowed
    live = store.live("dev")
    assert live is not None and live.deployment_id is None


def test_previous_live_is_the_rollback_target(store: StateStore) -> None:
    for rid in ["r1", "r2", "r3"]:
        store.add_release(release(rid))
    assert store.previous_live("dev") is None
    _deploy(store, "dev", "r1", {"a": "1"})
    assert store.previous_live("dev") is None
    _deploy(store, "dev", "r2", {"a": "2"})
    _deploy(store, "dev", "r2", {"a": "2b"})  # a re-run of the same release
    _deploy(store, "dev", "r3", {"a": "3"})
    prev = store.previous_live("dev")
    assert prev is not None and (prev.release_id, prev.versions) == ("r2", {"a": "2b"})
    before_r2 = store.previous_live("dev", before_release="r2")
    assert before_r2 is not None and before_r2.release_id == "r1"
    assert store.previous_live("dev", before_release="r1") is None
    with pytest.raises(StateError, match="never live in dev") as info:
        store.previous_live("dev", before_release="r9")
    assert info.value.tip is not None and "r3, r2, r1" in info.value.tip


# --------------------------------------------------------------------------- runs and audits


def test_job_runs_and_audits(store: StateStore) -> None:
    store.add_release(release("r1"))
    dep = store.start_deployment("dev", "r1", "deploy", "ada")
    runs = [
        JobRunRecord(dep, "orders", "s.orders", "v1", JobRunStatus.SUCCEEDED, 10, 0.5),
        JobRunRecord(dep, "totals", "s.totals", "v0", JobRunStatus.REUSED),
        JobRunRecord(dep, "bad", "s.bad", "v1", JobRunStatus.FAILED, message="division by 0"),
    ]
    for run in runs:
        store.record_job_run(run)
    assert store.job_runs(dep) == runs
    audits = [
        AuditRecord(dep, "s.orders", "v1", True, {"rules": 3, "failed": 0}),
        AuditRecord(dep, "s.bad", "v1", False, {"failed": ["RowCount > 0"]}),
    ]
    for audit in audits:
        store.record_audit(audit)
    assert store.audits(dep) == audits
    assert store.job_runs(dep + 1) == [] and store.audits(dep + 1) == []
    with pytest.raises(StateError, match="unknown deployment"):
        store.record_job_run(JobRunRecord(dep + 1, "j", "d", "v", JobRunStatus.SUCCEEDED))
    with pytest.raises(StateError, match="unknown deployment"):
        store.record_audit(AuditRecord(dep + 1, "d", "v", True))


# --------------------------------------------------------------------------- approvals


def test_latest_approval_decision_wins(store: StateStore) -> None:
    for rid in ["r1", "r2"]:
        store.add_release(release(rid))
    assert not store.is_approved("prod", "r1")
    store.record_approval(ApprovalRecord("prod", "r1", ApprovalDecision.APPROVED, "bob"))
    assert store.is_approved("prod", "r1")
    assert not store.is_approved("staging", "r1")
    assert not store.is_approved("prod", "r2")
    store.record_approval(
        ApprovalRecord("prod", "r1", ApprovalDecision.REJECTED, "eve", "numbers look off")
    )
    assert not store.is_approved("prod", "r1")
    store.record_approval(ApprovalRecord("prod", "r2", ApprovalDecision.APPROVED, "bob"))
    decisions = store.approvals("prod", "r1")
    assert [(a.decision, a.actor) for a in decisions] == [
        (ApprovalDecision.REJECTED, "eve"),
        (ApprovalDecision.APPROVED, "bob"),
    ]
    assert decisions[0].comment == "numbers look off"
    assert [a.release_id for a in store.approvals("prod")] == ["r2", "r1", "r1"]
    with pytest.raises(StateError, match="unknown release"):
        store.record_approval(ApprovalRecord("prod", "nope", ApprovalDecision.APPROVED, "bob"))


# --------------------------------------------------------------------------- events


def test_events_are_appended_and_filtered(store: StateStore) -> None:
    first = store.event("release_built", release_id="r1", payload={"files": 3})
    second = store.event("published", env="dev", actor="ada", payload={"deployment": 1})
    third = store.event("published", env="prod", actor="ada")
    assert first.seq < second.seq < third.seq
    assert store.events() == [third, second, first]
    assert store.events(env="dev") == [second]
    assert store.events(kind="published", limit=1) == [third]
    assert third.payload == {}
    assert first.at <= second.at <= third.at


# --------------------------------------------------------------------------- secrets


def test_secrets_never_reach_the_store(store: StateStore) -> None:
    store.add_release(release("r1"))
    dep = store.start_deployment("dev", "r1", "deploy", "ada", "via postgresql://u:pw@h/db")
    step = store.step(dep, "apply", "done", {"conn": {"password": "pw", "host": "h"}})
    assert step.detail == {"conn": {"password": "***", "host": "h"}}
    assert store.steps(dep)[0].detail == step.detail
    event = store.event("x", payload={"aws_secret_access_key": "s", "n": 1})
    assert store.events()[0] == event and event.payload == {"aws_secret_access_key": "***", "n": 1}
    store.record_audit(AuditRecord(dep, "d", "v", True, {"token": "t"}))
    assert store.audits(dep)[0].summary == {"token": "***"}
    store.record_job_run(
        JobRunRecord(dep, "j", "d", "v", "failed", message="login s3://AK:SECRET@b failed")  # type: ignore[arg-type]
    )
    assert store.job_runs(dep)[0].message == "login s3://AK:***@b failed"
    assert "pw" not in store.get_deployment(dep).message


def test_complete_deployment_publishes_finishes_and_logs_at_once(store: StateStore) -> None:
    store.add_release(release("abc111111111"))
    dep = store.start_deployment("prod", "abc111111111", "rollback", "ann")
    live = store.complete_deployment(dep, "prod", "abc111111111", {"a.b": "v1"},
                                     message="rolled back", event_kind="rolled_back",
                                     actor="ann", payload={"from": "x"})
    assert store.live("prod") == live
    assert store.get_deployment(dep).status.value == "succeeded"
    assert store.events("prod", kind="rolled_back")[0].actor == "ann"
    assert store.unfinished_deployments("prod") == []
