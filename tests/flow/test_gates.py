"""The gates between environments: approvals, rejections, approvers, upstream health."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.flow.conftest import Project, Template

from sluice.deploy.deployer import AuditFailed
from sluice.flow.gates import GateError, check_gates, decide, promote
from sluice.state import ApprovalDecision


@pytest.fixture
def in_staging(deployed: Project) -> Project:
    """Release 1 live in dev and staging; prod (protected) empty."""
    deployed.load("staging")
    with deployed.workspace() as ws:
        promote(ws, "dev", "staging")
    return deployed


def test_a_rejected_release_cannot_enter_prod(
    in_staging: Project, deployed_template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, rid = in_staging, deployed_template.release
    rejected = p.json("reject", "prod", "--comment", "revenue is off by 3%", user="bob")
    assert rejected == {
        "env": "prod",
        "release": rid,
        "decision": "rejected",
        "actor": "bob",
        "comment": "revenue is off by 3%",
        "acknowledges": [],
    }
    before = p.snapshot("prod")
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code == 1
    assert refused.error.startswith(
        f"Error: release {rid} was rejected for prod by bob (")
    assert refused.error.endswith(": revenue is off by 3%)")
    assert "sluice approve prod --release" in refused.tip
    assert p.snapshot("prod") == before
    prod = next(r for r in p.json("status") if r["env"] == "prod")
    assert prod["pending_approval"] == rid and prod["release"] is None

    # the latest decision wins, both ways
    monkeypatch.setenv("SLUICE_USER", "bob")
    with p.workspace() as ws:
        decide(ws, "prod", None, approve=True, comment="re-checked")
        assert check_gates(ws, "staging", "prod") == rid
        decide(ws, "prod", None, approve=False, comment="no, after all")
        with pytest.raises(GateError, match="was rejected for prod by bob"):
            check_gates(ws, "staging", "prod")
        assert [a.decision for a in ws.state.approvals("prod", rid)] == [
            ApprovalDecision.REJECTED,
            ApprovalDecision.APPROVED,
            ApprovalDecision.REJECTED,
        ]
        events = [e for e in ws.state.events("prod") if e.kind != "gate_refused"]
        refusals = ws.state.events("prod", kind="gate_refused")
    assert [(e.actor, e.payload["action"]) for e in refusals] == [("bob", "promote"),
                                                                  ("alice", "promote")]
    assert [(e.kind, e.actor) for e in events] == [
        ("rejected", "bob"),
        ("approved", "bob"),
        ("rejected", "bob"),
    ]


def test_only_listed_approvers_may_decide(deployed: Project) -> None:
    p = deployed
    p.edit(
        "sluice.yaml",
        "      approval_required: true\n",
        "      approval_required: true\n      approvers: [bob, carol]\n",
    )
    p.commit("bob and carol guard prod")
    rid = p.release()

    for command in ("approve", "reject"):
        refused = p.sluice(command, "prod", "--release", rid, user="mallory")
        assert refused.code == 1
        assert refused.error == f"Error: mallory may not {command} releases for prod"
        assert refused.tip == "Tip: approvers: bob, carol"
    with p.workspace() as ws:
        assert ws.state.approvals("prod") == []

    ok = p.json("approve", "prod", "--release", rid, user="carol")
    assert (ok["decision"], ok["actor"], ok["release"]) == ("approved", "carol", rid)


def test_approving_needs_a_release_to_approve(deployed: Project) -> None:
    first = deployed.sluice("approve", "dev")
    assert first.code == 2
    assert first.error == "Error: dev is not protected: releases enter it without an approval"
    assert first.tip == "Tip: deploy to it:  sluice deploy dev"
    unprotected = deployed.sluice("approve", "staging", "--release", deployed.release())
    assert unprotected.code == 2
    assert unprotected.error == ("Error: staging is not protected: releases enter it without "
                                 "an approval")
    nothing = deployed.sluice("approve", "prod")
    assert nothing.code == 1
    assert nothing.error == "Error: nothing is live in staging to approve for prod"
    unknown = deployed.sluice("approve", "prod", "--release", "0123456789ab")
    assert unknown.code == 2  # an unknown release is unusable input, like everywhere else
    assert unknown.error.startswith("Error: no release matches '0123456789ab'")


def test_nothing_is_promoted_from_an_empty_environment(deployed: Project) -> None:
    before = deployed.snapshot("prod")
    result = deployed.sluice("promote", "staging", "prod")
    assert result.code == 1
    assert result.error == "Error: nothing is live in staging to promote"
    assert result.tip == "Tip: deploy first:  sluice deploy staging"
    assert deployed.snapshot("prod") == before


def test_a_failed_run_upstream_blocks_promotion(
    in_staging: Project, deployed_template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, rid = in_staging, deployed_template.release
    bad = p.root.parent / "bad"
    subprocess.run(
        [sys.executable, "generate.py", "60", str(bad), "--bad"],
        cwd=p.root,
        check=True,
        capture_output=True,
    )
    p.load("staging", bad)
    with pytest.raises(AuditFailed):
        p.deploy("staging", rid, kind="run", force_all=True)
    monkeypatch.setenv("SLUICE_USER", "bob")
    with p.workspace() as ws:
        decide(ws, "prod", None, approve=True)
        with pytest.raises(GateError, match=f"last deployment of release {rid} to staging "
                           r"\(#\d+, run\) failed: it may not enter prod"):
            check_gates(ws, "staging", "prod")


def test_deploying_straight_to_a_protected_environment_needs_an_approval(
    deployed: Project, deployed_template: Template
) -> None:
    p, rid = deployed, deployed_template.release
    p.load("prod")
    before = p.snapshot("prod")
    refused = p.sluice("deploy", "prod")
    assert refused.code == 1
    assert refused.error == (
        f"Error: release {rid} has not been deployed to staging, which comes before prod in "
        "the promotion order"
    )
    assert refused.tip == f"Tip: deploy it there first:  sluice deploy staging --release {rid}"
    assert p.snapshot("prod") == before
    with p.workspace() as ws:
        assert ws.state.deployments("prod") == []


def test_a_breaking_change_enters_prod_only_acknowledged_and_approved_as_such(
    in_staging: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = in_staging
    p.load("prod")
    p.ok("approve", "prod", "--comment", "first release")
    p.ok("promote", "staging", "prod")

    def ship_to_staging(message: str) -> str:
        p.commit(message)
        rid = str(p.json("release")["id"])
        p.ok("deploy", "dev")
        p.ok("promote", "dev", "staging")
        return rid

    # a column goes away: breaking for whoever reads marts.customer_orders in prod
    p.edit("sluice.yaml", "        country: VARCHAR\n", "")
    p.edit("jobs/customer_orders.sql", "    c.country,\n", "")
    p.edit("jobs/customer_orders.sql", "c.name, c.country", "c.name")
    p.edit("quality/customer_orders.dqdl",
           ',\n    Completeness "country" > 0.9 labels=["severity"="warn"]', "")
    rid = ship_to_staging("drop country")
    p.ok("approve", "prod")
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code == 1
    assert refused.error.startswith(f"Error: release {rid} breaks contracts prod serves: "
                                    "marts.customer_orders: column country removed")
    assert "checks.acknowledge" in refused.tip

    # acknowledged in config: now the approval itself has to accept it
    with (p.root / "sluice.yaml").open("a", encoding="utf-8") as fh:
        fh.write("checks:\n  acknowledge:\n    - {dataset: marts.customer_orders, "
                 "change: 'removed:country', reason: country moved to marts.geo}\n")
    rid = ship_to_staging("acknowledge the dropped column")
    p.ok("approve", "prod")
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code == 1 and "its approval must accept them" in refused.error
    assert "--acknowledge breaking" in refused.tip
    approved = p.json("approve", "prod", "--acknowledge", "breaking", "--comment", "agreed")
    assert approved["acknowledges"] == ["breaking"]
    p.ok("promote", "staging", "prod")
    assert p.json("status")[2]["release"] == rid
