"""``sluice history`` details: one sentence per event kind, a readable fallback."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sluice.cli.sentences import describe, fallback, known_kinds

RID = "930c6c10ea76"
OLD = "1f2e3d4c5b6a"


def _event(kind: str, payload: dict[str, Any], env: str | None = "dev",
           release_id: str | None = RID) -> Any:
    from sluice.state.records import EventRecord

    return EventRecord(seq=1, at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC), kind=kind, env=env,
                       actor="alice", release_id=release_id, payload=payload)


class Facts:
    def commit(self, release_id: str) -> str | None:
        return "72a6fb067806393fee150c425b6b1b60a3f38a40" if release_id == RID else None

    def deployment_kind(self, deployment: int) -> str | None:
        return {1: "deploy", 2: "promote", 3: "run"}.get(deployment)

    def jobs_run(self, deployment: int) -> int | None:
        return 2


VERSIONS = {"marts.customer_orders": "v1", "staging.orders": "v2", "marts.product_sales": "v3"}

# every kind the code logs (src/sluice/state, deploy, flow, cli): payloads as written there
EXAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "release_built": ({"commit": "72a6fb067806393fee", "files": 13},
                      f"built release {RID} (commit 72a6fb0678, 13 files)"),
    "published": ({"deployment": 1, "versions": VERSIONS},
                  f"deployed release {RID} (commit 72a6fb0678) to dev: 2 jobs run, 3 datasets "
                  "published (marts.customer_orders, marts.product_sales, staging.orders) "
                  "(deployment 1)"),
    "deploy_failed": ({"deployment": 4, "reason": "audit of staging.orders failed"},
                      f"deployment 4 of release {RID} (commit 72a6fb0678) to dev failed and "
                      "published nothing: audit of staging.orders failed"),
    "promotion_started": ({"from": "staging"}, f"started promoting release {RID} (commit "
                          "72a6fb0678) from staging to dev"),
    "recovered": ({"deployment": 5, "outcome": "rolled_back"},
                  f"rolled back interrupted deployment 5 of release {RID} (commit 72a6fb0678) "
                  "in dev: dev serves what it served before"),
    "rolled_back": ({"from": OLD, "undone": ["3"]},
                    f"rolled dev back from release {OLD} to release {RID} (commit "
                    "72a6fb0678); migrations undone: 3"),
    "approved": ({"comment": "looks good", "acknowledges": ["migrations"]},
                 f"approved release {RID} (commit 72a6fb0678) for dev, acknowledging "
                 "migrations: “looks good”"),
    "rejected": ({"comment": "", "acknowledges": []},
                 f"rejected release {RID} (commit 72a6fb0678) for dev"),
    "gate_refused": ({"action": "promote", "source": "staging", "reason": "not approved"},
                     f"refused to promote release {RID} (commit 72a6fb0678) from staging to "
                     "dev: not approved"),
    "auth_refused": ({"reason": "token 0123456789ab was revoked", "path": "/api/status",
                      "action": None, "caller": None},
                     "refused /api/status: token 0123456789ab was revoked"),
    "principal_added": ({"principal": "priya", "kind": "user", "roles": ["approver:prod"],
                         "id": "0123456789ab"},
                        "issued token 0123456789ab to user priya (approver:prod)"),
    "tokens_revoked": ({"what": "priya", "count": 2}, "revoked 2 tokens of priya"),
    "protection_changed": ({"from": {"approval_required": False},
                            "to": {"approval_required": True}, "loosened": []},
                           f"the rules of dev now come from release {RID} (commit 72a6fb0678) "
                           "(approval_required false → true)"),
    "release_repaired": ({"altered": ["jobs/a.sql"], "count": 1},
                         f"reinstalled release {RID} (commit 72a6fb0678) in dev: 1 file "
                         "differed from the release: jobs/a.sql"),
    "gc": ({"dropped_versions": {"staging.orders": ["v0", "v00"]}, "dropped_releases": [OLD],
            "recovered": []},
           "garbage-collected 2 dataset versions and 1 release in dev (versions of "
           "staging.orders)"),
    "lock.taken_over": ({"previous_owner": "bob@host:12", "reason": "process 12 is dead"},
                        "took over the lock of dev from bob@host:12: process 12 is dead"),
    "notify_failed": ({"kind": "published", "error": "connection refused"},
                      "could not send the published notification of dev: connection refused"),
    "workflow_run": ({"workflow": "nightly", "execution": "arn:x", "status": "SUCCEEDED"},
                     f"workflow nightly of release {RID} (commit 72a6fb0678) ran in dev: "
                     "SUCCEEDED (execution arn:x)"),
    "migrated": ({"applied": ["V1__a.sql", "V2__b.sql"]},
                 "applied 2 migrations in dev: V1__a.sql, V2__b.sql"),
    "migrations_undone": ({"undone": ["2"], "failed": "U1 failed"},
                          "undid migration version(s) 2 in dev, then stopped: U1 failed"),
    "migrations_repaired": ({"removed_failed": 1, "realigned": 2},
                            "repaired the migration history of dev: removed 1 failed row, "
                            "realigned 2 checksums"),
}


def test_every_kind_has_an_example() -> None:
    assert sorted(EXAMPLES) == known_kinds()


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_kind_reads_as_a_sentence(kind: str) -> None:
    payload, sentence = EXAMPLES[kind]
    assert describe(_event(kind, payload), Facts()) == sentence


def test_gc_names_the_quarantined_versions_it_dropped() -> None:
    payload = {"dropped_versions": {}, "dropped_releases": [],
               "dropped_quarantined": {"staging.orders": ["v9"]}, "recovered": []}
    assert describe(_event("gc", payload), Facts()) == (
        "garbage-collected 0 dataset versions and 0 releases in dev; dropped 1 quarantined "
        "version past the quarantine period (staging.orders)")


def test_without_facts_a_sentence_leaves_out_what_the_event_does_not_hold() -> None:
    text = describe(_event("published", {"deployment": 9, "versions": {"a.b": "v1"}}))
    assert text == f"published release {RID} to dev: 1 dataset published (a.b) (deployment 9)"


def test_kinds_of_deployment_change_the_verb() -> None:
    promoted = describe(_event("published", {"deployment": 2, "versions": {}}), Facts())
    assert promoted.startswith(f"promoted release {RID}")
    ran = describe(_event("published", {"deployment": 3, "versions": {}}), Facts())
    assert ran.startswith(f"ran release {RID} (commit 72a6fb0678) again in dev")


def test_an_unknown_kind_reads_as_key_value_pairs() -> None:
    event = _event("quarantined", {"dataset": "staging.orders", "versions": ["v1", "v2"],
                                   "rows": 3, "why": {"rule": "IsComplete"}})
    assert describe(event) == (f"quarantined in dev for release {RID}: dataset=staging.orders, "
                               'versions=v1, v2, rows=3, why={"rule": "IsComplete"}')
    assert fallback(_event("ping", {}, env=None, release_id=None)) == "ping"


def test_a_payload_of_another_shape_falls_back_instead_of_failing() -> None:
    event = _event("lock.taken_over", {"owner": "bob"})  # no previous_owner
    assert describe(event) == f"lock.taken over in dev for release {RID}: owner=bob"
