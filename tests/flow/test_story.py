"""The whole flow through the real CLI: release, deploy dev, promote to staging, the approval
gate of prod, a broken batch stopped by the audit, and a rollback."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.flow.conftest import Project

DATASETS = {"staging.orders", "marts.customer_orders", "marts.product_sales",
            "marts.daily_revenue", "marts.country_revenue"}
JOBS = ["country_revenue", "customer_orders", "daily_revenue", "orders", "product_sales"]
# dependency order (by name among the jobs that are ready)
ORDER = ["orders", "country_revenue", "customer_orders", "daily_revenue", "product_sales"]
ROWS = {"staging.orders": 500, "marts.customer_orders": 50, "marts.product_sales": 20,
        "marts.daily_revenue": 6, "marts.country_revenue": 5}


def status_of(project: Project) -> dict[str, dict[str, object]]:
    return {row["env"]: row for row in project.json("status")}


def test_release_deploy_promote_approve_audit_rollback(fresh_with_spark: Project) -> None:
    p = fresh_with_spark

    # --- release: immutable, content-addressed, built once
    rel = p.json("release")
    rid = rel["id"]
    assert re.fullmatch(r"[0-9a-f]{12}", rid) and rel["digest"].startswith(rid)
    assert rel["created"] is True
    assert rel["commit"] == p.git("rev-parse", "HEAD").strip()
    assert sorted(rel["jobs"]) == JOBS
    again = p.json("release")
    assert (again["id"], again["created"]) == (rid, False)
    releases = p.json("releases")
    assert [(r["id"], r["dirty"], r["author"]) for r in releases] == [
        (rid, False, "alice <alice@example.com>")
    ]

    # --- plan and deploy dev
    plan = p.json("plan", "dev")
    assert plan["live_release"] is None and plan["release"] == rid
    assert [(j["job"], j["status"]) for j in plan["jobs"]] == [(j, "added") for j in ORDER]
    assert plan["recompute"] == ORDER
    assert set(plan["datasets"]) == DATASETS

    load = p.ok("load", "dev", "data")
    assert "copied" in load.out
    dev = p.json("deploy", "dev")
    assert (dev["env"], dev["release"]) == ("dev", rid)
    assert set(dev["new_versions"]) == DATASETS
    assert dev["rows"] == ROWS
    assert [a["passed"] for a in dev["audits"]] == [True] * len(DATASETS)
    status = status_of(p)
    assert list(status) == ["dev", "staging", "prod"]
    assert status["dev"]["release"] == rid
    assert status["dev"]["versions"] == dev["new_versions"]
    assert status["dev"]["last_deployment"] == {
        "kind": "deploy",
        "status": "succeeded",
        "release": rid,
        "message": "5 new versions",
    }
    assert status["staging"]["release"] is None and status["prod"]["release"] is None

    # --- the nightly workflow, locally: its Glue task re-runs country_revenue (audited and
    # published), its Lambda task runs the project's handler, the SNS task is mocked
    flow = p.json("run", "dev", "--workflow", "nightly", "--fast-waits",
                  "--input", '{"always_notify": true}')
    assert flow["status"] == "SUCCEEDED", flow
    assert flow["states"] == ["RefreshCountryRevenue", "CheckRevenue", "NeedsALook",
                              "NotifyTeam", "Done"]
    assert flow["output"]["glue"]["state"] == "SUCCEEDED"
    assert flow["output"]["check"] == {
        "alert": True, "message": "country revenue refreshed (SUCCEEDED) by revenue_alert "
                                  "in retail-dev"}
    assert flow["output"]["notified"] == {"MessageId": "local-message-1"}
    refreshed = status_of(p)["dev"]
    assert refreshed["versions"]["marts.country_revenue"] != \
        dev["new_versions"]["marts.country_revenue"]
    assert refreshed["versions"]["marts.daily_revenue"] == \
        dev["new_versions"]["marts.daily_revenue"]  # only the task's job ran
    alert = p.json("invoke", "dev", "revenue_alert", "--event", '{"glue_state": "FAILED"}')
    assert alert["payload"]["alert"] is True and alert["error"] is None
    assert alert["logs"] == '{"alert": true, "state": "FAILED"}\n'

    # --- promote the very same release to staging (computed there with staging's inputs)
    p.ok("load", "staging", "data")
    staging = p.json("promote", "dev", "staging")
    assert staging["release"] == rid and staging["env"] == "staging"
    assert set(staging["new_versions"]) == DATASETS
    assert staging["rows"] == ROWS
    staging_live = staging["new_versions"]

    # --- prod is protected: refused until someone approves
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code == 1
    assert refused.error == f"Error: prod is protected: release {rid} needs an approval"
    assert refused.tip == f"Tip: sluice approve prod --release {rid} --comment '…'"
    status = status_of(p)
    assert status["prod"]["pending_approval"] == rid
    assert status["prod"]["release"] is None and status["prod"]["last_deployment"] is None

    approval = p.json("approve", "prod", "--comment", "numbers match finance", user="bob")
    assert approval == {
        "env": "prod",
        "release": rid,
        "decision": "approved",
        "actor": "bob",
        "comment": "numbers match finance",
        "acknowledges": [],
    }

    p.ok("load", "prod", "data")
    prod = p.json("promote", "staging", "prod")
    assert (prod["env"], prod["release"]) == ("prod", rid)
    status = status_of(p)
    assert (status["prod"]["release"], status["prod"]["pending_approval"]) == (rid, None)

    # --- a broken batch lands in staging: the audit stops it, nothing is published
    bad = p.root.parent / "bad"
    subprocess.run(
        [sys.executable, "generate.py", "300", str(bad), "--bad"],
        cwd=p.root,
        check=True,
        capture_output=True,
    )
    p.ok("load", "staging", str(bad))
    before = p.snapshot("staging")
    run = p.sluice("run", "staging")
    assert run.code == 1
    assert run.error == "Error: audit failed, nothing was published:"
    assert re.search(
        r"staging\.orders \(version v\w+\): quality/orders\.dqdl:4:5: "
        r"ColumnValues \"status\" in .*: 100 of 800 rows failed",
        run.err,
    )
    assert 'ColumnValues "quantity" between 0 and 1000: 100 of 800 rows failed' in run.err
    assert "✗ audit of staging.orders (version" in run.err  # the table of failed rules
    assert "failing rows (a sample, each row once)" in run.err
    assert run.tip.startswith("Tip: fix the data or the job")
    assert p.snapshot("staging") == before
    last = status_of(p)["staging"]["last_deployment"]
    assert isinstance(last, dict)
    assert (last["kind"], last["status"]) == ("run", "failed")

    # the same failure as JSON: nothing on stdout, the error on stderr
    as_json = p.sluice("run", "staging", "--json")
    assert (as_json.code, as_json.out) == (1, "")
    assert as_json.error == "Error: audit failed, nothing was published:"

    # --- the upstream fixes its export; a re-run publishes new versions; then roll back
    (p.home / "envs" / "staging" / "objects" / "raw" / "orders" / "orders_bad.csv").unlink()
    rerun = p.json("run", "staging")
    assert rerun["plan"]["recompute"] == ORDER
    assert all(j["status"] == "forced" for j in rerun["plan"]["jobs"])
    assert set(rerun["new_versions"]) == DATASETS
    assert p.snapshot("staging")["catalog"] == rerun["new_versions"]
    back = p.json("rollback", "staging")
    assert back == {
        "env": "staging",
        "from_release": rid,
        "to_release": rid,
        "versions": staging_live,
        "undone": [],
    }
    after = p.snapshot("staging")
    assert after["catalog"] == staging_live
    assert after["live"] == (rid, staging_live)
    assert after["current"] == rid

    # --- history says who did what
    events = p.json("history")
    kinds = [e["kind"] for e in reversed(events)]
    assert kinds[0] == "release_built"
    assert kinds.count("published") == 5  # dev, its workflow's Glue task, staging, prod, the
    # good re-run
    assert "approved" in kinds and kinds[-1] == "rolled_back"
    approved = next(e for e in events if e["kind"] == "approved")
    assert (approved["actor"], approved["env"], approved["release_id"]) == ("bob", "prod", rid)
    published = [e for e in events if e["kind"] == "published"]
    assert {e["actor"] for e in published} == {"alice"}
    assert {e["env"] for e in published} == {"dev", "staging", "prod"}
    assert all(e["release_id"] == rid for e in published)
    assert [e["kind"] for e in events if e["env"] == "prod"] == [
        "published",
        "protection_changed",  # prod's first deploy records the protection now in force
        "promotion_started",
        "approved",
        "gate_refused",  # the promotion before the approval
    ]
    failed = next(e for e in events if e["kind"] == "deploy_failed")
    assert (failed["env"], failed["actor"], failed["release_id"]) == ("staging", "alice", rid)
    assert failed["payload"]["reason"].startswith("audit failed, nothing was published")

    # --- a rollback with nowhere to go says so
    nowhere = p.sluice("rollback", "prod")
    assert nowhere.code == 1
    assert nowhere.error == "Error: prod has no earlier release to roll back to"
