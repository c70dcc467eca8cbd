"""Every way of putting a candidate into prod, crossed with every way the gates could be dodged.

Each case tries to get the candidate (live in dev and staging) into prod, which serves
release 1, and asserts the refusal, that prod is exactly as it was (catalog, current
release, versions, live record, lock) and that the refusal is in the history.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from tests.flow.conftest import Project, cli_env
from tests.gates.conftest import APPROVER, Stage, acting_as

import sluice.deploy.deployer as deployer
from sluice.deploy.deployer import deploy
from sluice.errors import GateError, ReleaseError
from sluice.flow.gates import decide, promote
from sluice.flow.ship import ship

Setup = Callable[[Project, Stage, pytest.MonkeyPatch], str]  # returns the candidate id


def _candidate(p: Project, s: Stage, mp: pytest.MonkeyPatch) -> str:
    return s.candidate


def _approve_another(p: Project, s: Stage, mp: pytest.MonkeyPatch) -> str:
    with p.workspace() as ws, acting_as(APPROVER):
        decide(ws, "prod", s.r1, approve=True, comment="the old one, again")
    return s.candidate


def _rejected(p: Project, s: Stage, mp: pytest.MonkeyPatch) -> str:
    with p.workspace() as ws, acting_as(APPROVER):
        decide(ws, "prod", s.candidate, approve=True, comment="looks fine")
        decide(ws, "prod", s.candidate, approve=False, comment="revenue is off")
    return s.candidate


def _live_folder_missing(p: Project, s: Stage, mp: pytest.MonkeyPatch) -> str:
    shutil.rmtree(p.home / "envs" / "prod" / "releases" / s.r1)
    return s.candidate


def _unrecorded(p: Project, s: Stage, mp: pytest.MonkeyPatch) -> str:
    # a store written before protection was recorded, on a fresh runner: the live folder
    # is gone too, so the rules must come from the verified release in the artifact store
    _live_folder_missing(p, s, mp)
    with p.workspace() as ws, ws.state._tx("test", write=True) as conn:
        conn.exec_driver_sql("DELETE FROM protections")
    return s.candidate


def _skipped_upstream(p: Project, s: Stage, mp: pytest.MonkeyPatch) -> str:
    p.edit("jobs/customer_orders.sql", "count(o.order_id) AS orders",
           "count(DISTINCT o.order_id) AS orders")
    p.commit("only in dev")
    rid = p.release()
    p.deploy("dev", rid)
    with p.workspace() as ws, acting_as(APPROVER):
        decide(ws, "prod", rid, approve=True, comment="approved, but never in staging")
    return rid


def _decided_while_waiting(p: Project, s: Stage, mp: pytest.MonkeyPatch) -> str:
    with p.workspace() as ws, acting_as(APPROVER):
        decide(ws, "prod", s.candidate, approve=True, comment="ok")
    take = deployer.acquire_env_lock

    def rejected_meanwhile(ws: object, env: str, owner: str, **kw: object) -> object:
        # the approver changes their mind while this deploy waits for prod's lock
        with Project(p.root).workspace() as other, acting_as(APPROVER):
            decide(other, "prod", s.candidate, approve=False, comment="wait, no")
        mp.setattr(deployer, "acquire_env_lock", take)
        return take(ws, env, owner, **kw)  # type: ignore[arg-type]

    mp.setattr(deployer, "acquire_env_lock", rejected_meanwhile)
    return s.candidate


CONDITIONS: dict[str, tuple[str, Setup]] = {
    "no approval": ("r2", _candidate),
    "approval of another release": ("r2", _approve_another),
    "rejected release": ("r2", _rejected),
    "candidate weakening protection": ("weak", _candidate),
    "live folder missing": ("weak", _live_folder_missing),
    "live folder missing, protection unrecorded": ("weak", _unrecorded),
    "skipped upstream environment": ("r2", _skipped_upstream),
    "decision changed while waiting for the lock": ("r2", _decided_while_waiting),
}


def _lib_deploy(p: Project, rid: str) -> None:
    with p.workspace() as ws:
        deploy(ws, "prod", rid, actor="alice")


def _lib_promote(p: Project, rid: str) -> None:
    with p.workspace() as ws:
        source = "staging" if ws.state.live("staging").release_id == rid else "dev"  # type: ignore[union-attr]
        promote(ws, source, "prod")


def _lib_ship(p: Project, rid: str) -> None:
    with p.workspace() as ws:
        out = ship(ws)
    assert out.release_id == rid
    assert out.stopped_at == "prod", out
    raise GateError(out.reason)


def _cli(*args: str) -> Callable[[Project, str], None]:
    def run(p: Project, rid: str) -> None:
        argv = [a.replace("RID", rid) for a in args]
        if argv[0] == "promote":
            with p.workspace() as ws:
                live = ws.state.live("staging")
                argv[1] = "staging" if live is not None and live.release_id == rid else "dev"
        result = p.sluice(*argv)
        assert result.code == 1, (result.code, result.err)
        raise GateError(result.error)
    return run


PATHS: dict[str, Callable[[Project, str], None]] = {
    "deploy": _lib_deploy,
    "promote": _lib_promote,
    "ship": _lib_ship,
    "sluice deploy --release": _cli("deploy", "prod", "--release", "RID"),
    "sluice promote --wait": _cli("promote", "SOURCE", "prod", "--wait", "5"),
}

# ship walks the promotion order from the work tree's commit: it cannot skip staging, and
# the in-process lock patch cannot reach a CLI subprocess (test_waiting_cli covers that)
NOT_APPLICABLE = {("ship", "skipped upstream environment"),
                  ("sluice deploy --release", "decision changed while waiting for the lock"),
                  ("sluice promote --wait", "decision changed while waiting for the lock")}

CASES = [pytest.param(path, cond, id=f"{path} / {cond}")
         for path in PATHS for cond in CONDITIONS if (path, cond) not in NOT_APPLICABLE]


@pytest.mark.parametrize(("path", "condition"), CASES)
def test_the_candidate_does_not_enter_prod(
    path: str, condition: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, setup = CONDITIONS[condition]
    p, stage = request.getfixturevalue("staged" if template == "r2" else "weak")
    rid = setup(p, stage, monkeypatch)
    before = p.snapshot("prod")
    with p.workspace() as ws:
        refusals_before = len(ws.state.events("prod", kind="gate_refused"))
    with pytest.raises((GateError, ReleaseError)):
        PATHS[path](p, rid)
    monkeypatch.undo()  # the lock patch, if any
    assert p.snapshot("prod") == before
    assert p.snapshot("prod")["live"][0] == stage.r1
    with p.workspace() as ws:
        refusals = ws.state.events("prod", kind="gate_refused")
        assert not any(d.release_id == rid for d in ws.state.deployments("prod")
                       if d.status.value == "succeeded")
    assert len(refusals) > refusals_before, "the refusal is not in the history"
    assert refusals[0].release_id == rid and refusals[0].payload["reason"]


def test_waiting_cli_sees_a_rejection_recorded_while_it_waited(
    staged: tuple[Project, Stage],
) -> None:
    p, stage = staged
    with p.workspace() as ws, acting_as(APPROVER):
        decide(ws, "prod", stage.candidate, approve=True, comment="ok")
    with p.workspace() as ws:
        ws.state.acquire_lock("prod", "carol@elsewhere:4242")  # another machine deploys
    before = p.snapshot("prod")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sluice.cli", "promote", "staging", "prod", "--wait", "60"],
        cwd=p.root, env=cli_env("alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 30
        with p.workspace() as ws:  # wait until it has passed the first decision
            while time.monotonic() < deadline and not list(
                    (p.home / "envs" / "prod" / "releases").glob(stage.candidate)):
                time.sleep(0.1)
        time.sleep(1.0)
        with p.workspace() as ws, acting_as(APPROVER):
            decide(ws, "prod", stage.candidate, approve=False, comment="not today")
            ws.state.release_lock("prod", "carol@elsewhere:4242")
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert f"release {stage.candidate} was rejected for prod by {APPROVER}" in err
    assert "Traceback" not in err
    after = p.snapshot("prod")
    after.pop("lock"), before.pop("lock")
    assert after == before


def _assert_prod(p: Project, release: str) -> None:
    assert p.snapshot("prod")["live"][0] == release


def test_an_approved_candidate_that_passed_staging_enters_prod(
    staged: tuple[Project, Stage],
) -> None:
    p, stage = staged
    p.ok("approve", "prod", "--release", stage.candidate, user=APPROVER)
    p.ok("deploy", "prod", "--release", stage.candidate)
    _assert_prod(p, stage.candidate)


def test_loosening_protection_enters_with_an_approval_that_acknowledges_it(
    weak: tuple[Project, Stage],
) -> None:
    p, stage = weak
    plain = p.sluice("approve", "prod", user=APPROVER)
    assert plain.code == 0
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code == 1
    assert refused.error == (
        f"Error: release {stage.candidate} loosens the protection of prod (approval is no "
        "longer required; releases would be promoted automatically): its approval must "
        "accept that")
    assert "--acknowledge protection" in refused.tip
    p.ok("approve", "prod", "--acknowledge", "protection", "--comment", "prod is a sandbox now",
         user=APPROVER)
    p.ok("promote", "staging", "prod")
    _assert_prod(p, stage.candidate)
    history = p.json("history", "prod")
    changed = [e for e in history if e["kind"] == "protection_changed"]
    assert changed and changed[0]["payload"]["approved_by"] == APPROVER
    assert changed[0]["payload"]["to"]["approval_required"] is False


def test_promotion_follows_the_order_strictly(staged: tuple[Project, Stage]) -> None:
    p, stage = staged
    p.ok("approve", "prod", "--release", stage.candidate, user=APPROVER)
    for source, dest, message in (
        ("dev", "prod", "Error: prod is promoted from staging, not from dev"),
        ("prod", "dev", "Error: nothing is promoted into dev: it is first in the promotion "
                        "order (or outside it)"),
        ("dev", "dev", "Error: cannot promote dev to itself"),
        ("staging", "staging", "Error: cannot promote staging to itself"),
    ):
        before = p.snapshot(dest)
        refused = p.sluice("promote", source, dest)
        assert (refused.code, refused.error) == (1, message)
        assert p.snapshot(dest) == before


def test_a_work_tree_edit_does_not_unprotect_prod(staged: tuple[Project, Stage]) -> None:
    p, stage = staged
    p.edit("sluice.yaml", "      approval_required: true\n", "      approval_required: false\n")
    before = p.snapshot("prod")
    refused = p.sluice("deploy", "prod", "--release", stage.candidate)
    assert refused.code == 1
    assert refused.error == f"Error: prod is protected: release {stage.candidate} needs an approval"
    assert p.snapshot("prod") == before


def _audit_after_prod(p: Project, *, extra_release: bool) -> tuple[str, dict[str, object]]:
    """Add a never-deployed environment ``audit`` after prod: protected in one release, then
    unprotected in the candidate (``extra_release``: one more release in between). Returns
    the candidate, live in prod, and a snapshot of ``audit``."""
    text = (p.root / "sluice.yaml").read_text(encoding="utf-8")
    audit = '  audit:\n    target: {type: local}\n    parameters: {min_amount: "0"}\n'
    loose = text.replace("\npromotion: [dev, staging, prod]",
                         audit + "\npromotion: [dev, staging, prod, audit]")
    strict = loose.replace(audit, audit + "    protection: {approval_required: true}\n")
    (p.root / "sluice.yaml").write_text(strict, encoding="utf-8")
    p.commit("add audit, protected")
    p.release()
    (p.root / "sluice.yaml").write_text(loose, encoding="utf-8")
    p.commit("audit unprotected")
    candidate = p.release()
    if extra_release:
        p.edit("jobs/customer_orders.sql", "count(o.order_id) AS orders",
               "count(DISTINCT o.order_id) AS orders")
        p.commit("and one more")
        candidate = p.release()
    p.deploy("dev", candidate)
    with p.workspace() as ws:
        promote(ws, "dev", "staging")
    p.ok("approve", "prod", "--release", candidate, user=APPROVER)
    p.ok("promote", "staging", "prod")
    p.load("audit")
    return candidate, p.snapshot("audit")


def test_a_never_deployed_protected_environment_takes_the_strictest_rules(
    staged: tuple[Project, Stage],
) -> None:
    """A fresh environment (nothing recorded, nothing live there): a candidate that declares
    it unprotected still needs the approval the previous release asks for."""
    p, _ = staged
    candidate, before = _audit_after_prod(p, extra_release=False)
    refused = p.sluice("promote", "prod", "audit")
    assert refused.code == 1, refused.err
    assert refused.error == (f"Error: release {candidate} loosens the protection of audit "
                             "(approval is no longer required): its approval must accept that")
    assert p.snapshot("audit") == before


def test_require_checks_holds_for_deploy_with_a_release(staged: tuple[Project, Stage]) -> None:
    p, _ = staged
    p.edit("sluice.yaml", "      approval_required: true\n",
           "      approval_required: true\n      require_checks: true\n")
    p.commit("prod requires checks")
    rid = p.release()
    p.deploy("dev", rid)
    with p.workspace() as ws:
        promote(ws, "dev", "staging")
    p.ok("approve", "prod", "--release", rid, user=APPROVER)
    before = p.snapshot("prod")
    refused = p.sluice("deploy", "prod", "--release", rid)
    assert refused.code == 1
    assert refused.error == (f"Error: prod requires passing checks: the checks of release "
                             f"{rid} were not recorded")
    assert p.snapshot("prod") == before


def test_run_refuses_a_live_release_rejected_after_it_went_live(
    staged: tuple[Project, Stage],
) -> None:
    p, stage = staged
    p.ok("reject", "prod", "--release", stage.r1, "--comment", "found a bug", user=APPROVER)
    before = p.snapshot("prod")
    refused = p.sluice("run", "prod")
    assert refused.code == 1
    assert refused.error.startswith(f"Error: release {stage.r1} was rejected for prod")
    assert p.snapshot("prod") == before


def test_rollback_refuses_a_rejected_release(staged: tuple[Project, Stage]) -> None:
    p, stage = staged
    p.ok("approve", "prod", "--release", stage.candidate, user=APPROVER)
    p.ok("promote", "staging", "prod")
    p.ok("reject", "prod", "--release", stage.r1, "--comment", "R1 corrupts revenue",
         user=APPROVER)
    before = p.snapshot("prod")
    for args in (("rollback", "prod"), ("rollback", "prod", "--to", stage.r1)):
        refused = p.sluice(*args)
        assert refused.code == 1
        assert refused.error.startswith(f"Error: release {stage.r1} was rejected for prod by")
        assert p.snapshot("prod") == before


def test_rollback_verifies_the_release_like_deploy(staged: tuple[Project, Stage]) -> None:
    p, stage = staged
    p.ok("approve", "prod", "--release", stage.candidate, user=APPROVER)
    p.ok("promote", "staging", "prod")
    manifest = p.home / "artifacts" / "releases" / f"{stage.r1}.json"
    blob_dir = p.home / "artifacts" / "blobs"
    import json

    files = json.loads(manifest.read_text())["files"]
    digest = files["jobs/orders.sql"]
    blob = blob_dir / digest[:2] / digest[2:]
    blob.chmod(0o644)
    blob.write_text("SELECT 1 AS order_id\n")
    before = p.snapshot("prod")
    refused = p.sluice("rollback", "prod", "--to", stage.r1)
    assert refused.code == 2
    assert "is tampered" in refused.err
    assert p.snapshot("prod") == before


def test_run_executes_the_verified_release_not_an_edited_folder(
    staged: tuple[Project, Stage],
) -> None:
    p, stage = staged
    installed = p.home / "envs" / "prod" / "releases" / stage.r1 / "jobs" / "orders.sql"
    original = installed.read_text()
    installed.write_text(original.replace("WHERE", "WHERE false AND"))
    p.ok("run", "prod")
    assert installed.read_text() == original
    with p.workspace() as ws:
        target = ws.target("prod")
        version = target.catalog()["staging.orders"]
        rows = next(v.rows for v in target.versions("staging.orders") if v.version == version)
        repaired = ws.state.events("prod", kind="release_repaired")
    assert rows > 0
    assert repaired and repaired[0].payload["altered"] == ["jobs/orders.sql: modified"]


def test_an_extra_file_in_an_installed_release_is_removed(
    staged: tuple[Project, Stage],
) -> None:
    p, stage = staged
    planted = p.home / "envs" / "prod" / "releases" / stage.r1 / "jobs" / "helper.py"
    planted.write_text("import os\nos.system('touch /tmp/pwned')\n")
    p.ok("run", "prod")
    assert not planted.exists()


def test_migrate_on_prod_ignores_the_work_tree(staged: tuple[Project, Stage]) -> None:
    p, stage = staged
    # an uncommitted edit unprotects prod and adds a destructive script
    p.edit("sluice.yaml", "      approval_required: true\n", "      approval_required: false\n")
    (p.root / "migrations").mkdir()
    (p.root / "migrations" / "V1__wipe.sql").write_text(
        "CREATE TABLE wiped AS SELECT 1 AS x;\n")
    before = p.snapshot("prod")
    for args in (("migrate", "apply", "prod"), ("migrate", "apply", "prod", "--force"),
                 ("migrate", "undo", "prod"), ("migrate", "repair", "prod")):
        refused = p.sluice(*args)
        assert refused.code == 1, (args, refused.err)
        assert "prod is protected" in refused.error
    # with an approval that acknowledges migrations, the live release's scripts run: none
    p.ok("approve", "prod", "--release", stage.r1, "--acknowledge", "migrations",
         user=APPROVER)
    applied = p.json("migrate", "apply", "prod")
    assert applied == {"applied": []}
    assert p.snapshot("prod")["catalog"] == before["catalog"]
    with p.workspace() as ws:
        tables = {r[0] for r in ws.target("prod").engine().fetch(
            "SELECT table_name FROM information_schema.tables")[1]}
    assert "wiped" not in tables


def test_gc_keeps_what_the_live_release_retains(staged: tuple[Project, Stage]) -> None:
    p, stage = staged
    p.ok("approve", "prod", "--release", stage.candidate, user=APPROVER)
    p.ok("promote", "staging", "prod")
    p.edit("sluice.yaml", "retention: {versions: 5}", "retention: {versions: 1}")
    p.ok("gc", "prod")
    p.ok("rollback", "prod")  # release 1's versions are still there
    _assert_prod(p, stage.r1)


@pytest.mark.parametrize("release", ["", " ", "zz", "0000000000000"])
def test_bad_release_names_are_refused(staged: tuple[Project, Stage], release: str) -> None:
    p, _ = staged
    before = p.snapshot("prod")
    refused = p.sluice("deploy", "prod", "--release", release)
    assert refused.code in (1, 2)
    assert refused.error
    assert p.snapshot("prod") == before



def test_a_parameter_override_does_not_change_a_protected_environment(
    staged: tuple[Project, Stage],
) -> None:
    p, _ = staged
    before = p.snapshot("prod")
    refused = p.sluice("run", "prod", env={"SLUICE_ENV_PROD_MIN_AMOUNT": "1000000 OR true"})
    assert refused.code == 1
    assert refused.error == ("Error: prod is protected: SLUICE_ENV_PROD_MIN_AMOUNT would change "
                             "what the approved release runs there")
    assert p.snapshot("prod") == before
    # an unprotected environment takes overrides as before
    ok = p.sluice("run", "dev", env={"SLUICE_ENV_DEV_MIN_AMOUNT": "50"})
    assert ok.code == 0, ok.err


def test_two_quick_releases_do_not_unprotect_a_never_deployed_environment(
    staged: tuple[Project, Stage],
) -> None:
    p, _ = staged
    _, before = _audit_after_prod(p, extra_release=True)
    refused = p.sluice("promote", "prod", "audit")
    assert refused.code == 1
    assert "loosens the protection of audit" in refused.error
    assert p.snapshot("audit") == before


def test_an_unverifiable_live_release_is_not_replaced_by_guesses(
    weak: tuple[Project, Stage],
) -> None:
    p, stage = weak
    import json

    p.ok("approve", "prod", "--release", stage.candidate, user=APPROVER)
    with p.workspace() as ws, ws.state._tx("test", write=True) as conn:
        conn.exec_driver_sql("DELETE FROM protections")
    manifest = p.home / "artifacts" / "releases" / f"{stage.r1}.json"
    files = json.loads(manifest.read_text())["files"]
    blob = p.home / "artifacts" / "blobs" / files["sluice.yaml"][:2] / files["sluice.yaml"][2:]
    blob.chmod(0o644)
    blob.write_text(blob.read_text() + "\n# edited\n")
    before = p.snapshot("prod")
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code == 1
    assert refused.error.startswith(f"Error: cannot establish the rules in force for prod: "
                                    f"release {stage.r1}, live there, does not verify")
    assert p.snapshot("prod") == before


def test_a_release_is_bound_to_its_whole_digest(staged: tuple[Project, Stage]) -> None:
    p, stage = staged
    p.ok("approve", "prod", "--release", stage.candidate, user=APPROVER)
    before = p.snapshot("prod")
    padded = p.sluice("deploy", "prod", "--release", stage.candidate + "0" * 40)
    assert padded.code == 2
    assert padded.error.startswith(f"Error: no release matches '{stage.candidate}")
    with p.workspace() as ws, ws.state._tx("test", write=True) as conn:
        conn.exec_driver_sql("UPDATE releases SET digest = ? WHERE id = ?",
                             (stage.candidate + "f" * 52, stage.candidate))
    swapped = p.sluice("deploy", "prod", "--release", stage.candidate)
    assert swapped.code == 2
    assert "the artifact store was altered" in swapped.error
    assert p.snapshot("prod") == before


def test_messages_point_the_right_way(deployed: Project) -> None:
    p = deployed
    backwards = p.sluice("promote", "prod", "dev")
    assert (backwards.code, backwards.error) == (
        1, "Error: nothing is promoted into dev: it is first in the promotion order (or "
           "outside it)")
    first = p.sluice("approve", "dev")
    assert (first.code, first.error) == (
        2, "Error: dev is not protected: releases enter it without an approval")
    p.edit("sluice.yaml", "      approval_required: true\n",
           "      approval_required: true\n      approvers: [bob]\n")
    p.commit("bob guards prod")
    rid = p.release()
    refused = p.sluice("reject", "prod", "--release", rid, user="mallory")
    assert refused.error == "Error: mallory may not reject releases for prod"
