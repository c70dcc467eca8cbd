"""Gates that trust identities: with ``access:`` declared only authenticated approvals open a
protected environment, approvers are authenticated names, ``distinct_approver`` keeps
authors and builders from approving their own release, and dropping either is a loosening.

The authenticated approvals here are recorded as the control plane records them
(``decide(..., actor=<Caller.name>, via="authenticated")``); claimed ones as the CLI does.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.flow.conftest import USER, Project, _copy_example
from tests.gates.conftest import PROTECTION, Stage, build_template, copy_stage

from sluice.errors import GateError
from sluice.flow.decision import EnvRules
from sluice.flow.gates import decide, promote
from sluice.flow.releases import make_release
from sluice.state import ApprovalDecision, ApprovalRecord

STRICT = (PROTECTION + "      approvers: [bob, alice, carol, ally]\n"
          "      distinct_approver: true\n")
ACCESS = """
access:
  users:
    bob: {roles: [approver:prod]}
    alice: {roles: ["deployer:*", approver:prod]}
    carol: {roles: [approver:prod]}
    ally:
      roles: [approver:prod]
      aliases: ["Alice <ALICE@example.com>"]
    mallory: {roles: [approver:prod]}
"""
BUILDER = "carol"  # builds the candidate; alice (USER) authored its commit


def _build(root: Path, weak: bool) -> Stage:
    p = _copy_example(root)
    p.edit("sluice.yaml", PROTECTION, STRICT)
    with (p.root / "sluice.yaml").open("a", encoding="utf-8") as out:
        out.write(ACCESS)
    p.commit("protect prod with identities")
    r1 = p.release()
    for env in ("dev", "staging", "prod"):
        p.load(env)
    p.deploy("dev", r1)
    with p.workspace() as ws:
        promote(ws, "dev", "staging")
        decide(ws, "prod", None, approve=True, comment="first", actor="bob",
               via="authenticated")
        promote(ws, "staging", "prod")
    if weak:
        p.edit("sluice.yaml", ACCESS, "\n")
    p.edit("jobs/customer_orders.sql", "coalesce(sum(o.amount), 0) AS revenue",
           "round(coalesce(sum(o.amount), 0), 2) AS revenue")
    p.commit("candidate")
    with p.workspace() as ws:
        candidate = make_release(ws, actor=BUILDER)[0].id
    p.deploy("dev", candidate)
    with p.workspace() as ws:
        promote(ws, "dev", "staging")
    return Stage(p.root, r1, candidate)


def _template(factory: pytest.TempPathFactory, weak: bool) -> Stage:
    return build_template(factory, "identity", lambda root: _build(root, weak))


@pytest.fixture(scope="module")
def strict_template(tmp_path_factory: pytest.TempPathFactory) -> Stage:
    return _template(tmp_path_factory, weak=False)


@pytest.fixture(scope="module")
def access_dropped_template(tmp_path_factory: pytest.TempPathFactory) -> Stage:
    """Its candidate drops ``access:`` (the conftest's ``weak_template`` loosens otherwise)."""
    return _template(tmp_path_factory, weak=True)


@pytest.fixture
def strict(strict_template: Stage, tmp_path: Path) -> tuple[Project, Stage]:
    return copy_stage(strict_template, tmp_path / "retail")


@pytest.fixture
def access_dropped(access_dropped_template: Stage, tmp_path: Path) -> tuple[Project, Stage]:
    return copy_stage(access_dropped_template, tmp_path / "retail")


def _promote_refused(p: Project, s: Stage, match: str) -> GateError:
    before = p.snapshot("prod")
    with p.workspace() as ws, pytest.raises(GateError, match=match) as info:
        promote(ws, "staging", "prod")
    after = p.snapshot("prod")
    assert after == before and after["live"][0] == s.r1  # nothing changed
    return info.value


def _record(p: Project, s: Stage, actor: str, via: str,
            acknowledges: tuple[str, ...] = ()) -> None:
    """An approval as some other writer left it in the store (an older sluice, a script)."""
    with p.workspace() as ws:
        ws.state.record_approval(ApprovalRecord("prod", s.candidate, ApprovalDecision.APPROVED,
                                                actor, "", acknowledges=acknowledges, via=via))


# ------------------------------------------------------------------ the rules as data

def test_the_rules_carry_authentication_and_distinct_approver() -> None:
    rules = EnvRules(approval_required=True, authenticated=True, distinct_approver=True)
    assert EnvRules.from_dict(rules.to_dict()) == rules
    # protection recorded before identities existed reads as neither
    old = {k: v for k, v in rules.to_dict().items()
           if k not in ("authenticated", "distinct_approver")}
    assert EnvRules.from_dict(old) == replace(rules, authenticated=False,
                                              distinct_approver=False)
    assert EnvRules().strictest(rules) == rules.strictest(EnvRules(approval_required=True))
    assert rules.strictest(EnvRules()).authenticated
    assert rules.loosened_by(replace(rules, authenticated=False)) == [
        "approvals would no longer need an authenticated approver (access: dropped)"]
    assert rules.loosened_by(replace(rules, distinct_approver=False)) == [
        "authors could approve their own releases (distinct_approver dropped)"]
    assert replace(rules, authenticated=False).loosened_by(rules) == []
    # where no approval is required (dev), neither shapes anything
    free = replace(rules, approval_required=False)
    assert free.loosened_by(EnvRules()) == []


# ------------------------------------------------------------------ claimed vs authenticated

def test_a_claimed_approval_is_refused_up_front(strict: tuple[Project, Stage]) -> None:
    p, s = strict
    with p.workspace() as ws, pytest.raises(GateError) as info:
        decide(ws, "prod", s.candidate, approve=True, comment="lgtm")  # $SLUICE_USER=alice
    assert "authenticated users only" in info.value.message
    assert "approvals recorded on the command line do not open" in info.value.message
    assert "SLUICE_SERVER=" in (info.value.tip or "")
    with p.workspace() as ws:
        assert ws.state.approvals("prod", s.candidate) == []
        [refusal] = ws.state.events(kind="gate_refused", limit=1)
        assert refusal.payload["action"] == "approve" and refusal.actor == USER
    with p.workspace() as ws, pytest.raises(GateError, match="authenticated users only"):
        decide(ws, "prod", s.candidate, approve=False, comment="no")  # rejections too


def test_the_cli_refuses_a_claimed_approval_with_the_server_tip(
        strict: tuple[Project, Stage]) -> None:
    p, s = strict
    r = p.sluice("approve", "prod", "--release", s.candidate, "--comment", "ok", user="bob")
    assert r.code == 1
    assert "prod takes approvals and rejections from authenticated users only" in r.error
    assert "SLUICE_SERVER=" in r.tip and "sluice login URL" in r.tip


def test_a_claimed_approval_in_the_store_does_not_open_the_gate(
        strict: tuple[Project, Stage]) -> None:
    p, s = strict
    _record(p, s, "bob", "claimed")
    error = _promote_refused(p, s, "needs an approval")
    assert "the approval by bob does not count" in error.message
    assert "claimed identity" in error.message
    assert "SLUICE_SERVER=" in (error.tip or "")


def test_an_authenticated_approval_opens_the_gate(strict: tuple[Project, Stage]) -> None:
    p, s = strict
    _record(p, s, "bob", "claimed")  # older claimed approvals do not get in the way
    with p.workspace() as ws:
        rec = decide(ws, "prod", s.candidate, approve=True, comment="reviewed", actor="bob",
                     via="authenticated")
        assert rec.via == "authenticated"
        assert [a.via for a in ws.state.approvals("prod", s.candidate)] == [
            "authenticated", "claimed"]
        promote(ws, "staging", "prod")
        assert ws.state.live("prod").release_id == s.candidate  # type: ignore[union-attr]
        [event] = ws.state.events(kind="approved", limit=1)
        assert event.actor == "bob" and event.payload["via"] == "authenticated"


def test_a_rejection_stands_however_it_was_made(strict: tuple[Project, Stage]) -> None:
    p, s = strict
    with p.workspace() as ws:
        decide(ws, "prod", s.candidate, approve=True, actor="bob", via="authenticated")
        ws.state.record_approval(ApprovalRecord("prod", s.candidate,
                                                ApprovalDecision.REJECTED, "bob", "stop"))
    _promote_refused(p, s, "was rejected for prod by bob")


# ------------------------------------------------------------------ approvers by name

def test_approvers_name_authenticated_callers(strict: tuple[Project, Stage]) -> None:
    p, s = strict
    with p.workspace() as ws, pytest.raises(GateError, match="mallory may not approve"):
        decide(ws, "prod", s.candidate, approve=True, actor="mallory", via="authenticated")
    _record(p, s, "mallory", "authenticated")  # written around decide(): still not counted
    _promote_refused(p, s, "by mallory does not count for prod: approvers are")


# ------------------------------------------------------------------ distinct approver

@pytest.mark.parametrize(("actor", "why"), [
    ("alice", "alice authored its commit (alice <alice@example.com>)"),
    ("ally", "ally authored its commit"),  # by an alias, e-mail compared case-insensitively
    (BUILDER, "carol built the release (as carol)"),
])
def test_self_approval_is_refused_under_distinct_approver(
        strict: tuple[Project, Stage], actor: str, why: str) -> None:
    p, s = strict
    with p.workspace() as ws, pytest.raises(GateError) as info:
        decide(ws, "prod", s.candidate, approve=True, actor=actor, via="authenticated")
    assert why in info.value.message and "requires a distinct approver" in info.value.message
    with p.workspace() as ws:
        assert ws.state.approvals("prod", s.candidate) == []
        assert ws.state.events(kind="gate_refused", limit=1)[0].actor == actor
    _record(p, s, actor, "authenticated")  # and the gate does not count it either
    error = _promote_refused(p, s, f"the approval of release {s.candidate} by {actor} does "
                                   "not count")
    assert why in error.message


def test_an_author_may_still_reject_their_own_release(strict: tuple[Project, Stage]) -> None:
    p, s = strict
    with p.workspace() as ws:
        rec = decide(ws, "prod", s.candidate, approve=False, comment="found a bug",
                     actor="alice", via="authenticated")
    assert rec.decision is ApprovalDecision.REJECTED


# ------------------------------------------------------------------ loosening

def test_dropping_access_in_a_release_is_a_loosening(
        access_dropped: tuple[Project, Stage]) -> None:
    p, s = access_dropped
    with p.workspace() as ws:
        decide(ws, "prod", s.candidate, approve=True, comment="ok", actor="bob",
               via="authenticated")
    error = _promote_refused(p, s, "loosens the protection of prod")
    assert "approvals would no longer need an authenticated approver" in error.message
    with p.workspace() as ws:  # a claimed acknowledgement does not do either
        ws.state.record_approval(ApprovalRecord(
            "prod", s.candidate, ApprovalDecision.APPROVED, "bob", "",
            acknowledges=("protection",)))
    _promote_refused(p, s, "loosens the protection of prod")
    with p.workspace() as ws:
        decide(ws, "prod", s.candidate, approve=True, comment="we drop access on purpose",
               acknowledge=("protection",), actor="bob", via="authenticated")
        promote(ws, "staging", "prod")
        assert ws.state.live("prod").release_id == s.candidate  # type: ignore[union-attr]
        assert ws.state.protection("prod")["authenticated"] is False  # type: ignore[index]
