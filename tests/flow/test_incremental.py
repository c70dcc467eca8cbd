"""Only what a release changes is recomputed; rollback re-points versions and computes nothing."""

from __future__ import annotations

from tests.flow.conftest import Project, Template

from sluice.flow.gates import rollback
from sluice.state import JobRunStatus

CUSTOMER_ORDERS_CHANGE = (
    "coalesce(sum(o.amount), 0) AS revenue",
    "round(coalesce(sum(o.amount), 0), 2) AS revenue",
)


def test_a_release_changing_one_job_recomputes_only_that_job(
    deployed: Project, deployed_template: Template
) -> None:
    p = deployed
    r1 = deployed_template.release
    before = p.snapshot("dev")
    p.edit("jobs/customer_orders.sql", *CUSTOMER_ORDERS_CHANGE)
    p.commit("round revenue")
    r2 = p.ok("release", "--json").json()["id"]
    assert r2 != r1

    plan = p.json("plan", "dev")
    assert (plan["release"], plan["live_release"]) == (r2, r1)
    assert {j["job"]: j["status"] for j in plan["jobs"]} == {
        "orders": "unchanged",
        "customer_orders": "changed",
        "product_sales": "unchanged",
    }
    assert plan["recompute"] == ["customer_orders"]
    assert plan["datasets"] == ["marts.customer_orders"]
    assert plan["contract_changes"] == [] and plan["breaking"] is False
    assert p.snapshot("dev") == before  # planning changes nothing

    out = p.json("deploy", "dev")
    assert list(out["new_versions"]) == ["marts.customer_orders"]
    assert out["rows"] == {"marts.customer_orders": 50}
    after = p.snapshot("dev")
    old, new = before["catalog"], after["catalog"]
    assert new["staging.orders"] == old["staging.orders"]
    assert new["marts.product_sales"] == old["marts.product_sales"]
    assert new["marts.customer_orders"] == out["new_versions"]["marts.customer_orders"]
    assert new["marts.customer_orders"] != old["marts.customer_orders"]
    assert after["live"] == (r2, new) and after["current"] == r2
    with p.workspace() as ws:
        runs = ws.state.job_runs(out["deployment"])
    assert [(r.job, r.status) for r in runs] == [("customer_orders", JobRunStatus.SUCCEEDED)]

    # deploying the same release again computes nothing
    again = p.deploy("dev", r2)
    assert again.versions == {} and again.plan.recompute == []
    assert p.snapshot("dev")["catalog"] == new


def test_an_upstream_change_recomputes_its_downstream(deployed: Project) -> None:
    p = deployed
    before = p.snapshot("dev")["catalog"]
    p.edit("jobs/orders.sql", "lower(status) AS status", "lower(trim(status)) AS status")
    p.commit("trim statuses")
    plan_statuses = {j.job: j.status for j in p.deploy("dev", p.release()).plan.jobs}
    assert plan_statuses == {
        "orders": "changed",
        "customer_orders": "changed",
        "product_sales": "changed",
    }
    after = p.snapshot("dev")["catalog"]
    assert all(after[d] != before[d] for d in before)


def test_a_parameter_of_one_environment_recomputes_only_there(
    deployed: Project, deployed_template: Template
) -> None:
    p = deployed
    p.load("staging")
    p.deploy("staging", deployed_template.release)
    dev, staging = p.snapshot("dev"), p.snapshot("staging")
    p.edit(
        "sluice.yaml",
        'staging:\n    target: {type: local}\n    parameters: {min_amount: "0"}',
        'staging:\n    target: {type: local}\n    parameters: {min_amount: "50"}',
    )
    p.commit("staging filters small orders")
    r2 = p.release()

    # dev first (the promotion order): nothing there depends on staging's parameter
    assert p.deploy("dev", r2).plan.recompute == []
    assert p.snapshot("dev")["catalog"] == dev["catalog"]
    out = p.deploy("staging", r2)
    assert out.plan.recompute == ["orders", "customer_orders", "product_sales"]
    assert out.rows["staging.orders"] < 500
    assert p.snapshot("staging")["catalog"] != staging["catalog"]


def test_rollback_repoints_versions_without_recomputing(
    deployed: Project, deployed_template: Template
) -> None:
    p = deployed
    r1 = deployed_template.release
    first = p.snapshot("dev")
    p.edit("jobs/customer_orders.sql", *CUSTOMER_ORDERS_CHANGE)
    p.commit("round revenue")
    r2 = p.release()
    p.deploy("dev", r2)
    second = p.snapshot("dev")

    back = p.json("rollback", "dev")
    assert back == {
        "env": "dev",
        "from_release": r2,
        "to_release": r1,
        "versions": first["catalog"],
        "undone": [],
    }
    after = p.snapshot("dev")
    assert after["catalog"] == first["catalog"]
    assert after["live"] == (r1, first["catalog"])
    assert after["current"] == r1
    assert after["versions"] == second["versions"]  # nothing computed, nothing dropped
    with p.workspace() as ws:
        dep = ws.state.deployments("dev", limit=1)[0]
        assert (dep.kind, dep.status, dep.release_id) == ("rollback", "succeeded", r1)
        assert ws.state.job_runs(dep.id) == []
        assert ws.state.audits(dep.id) == []
        # the published data is the earlier version's, read through the catalog
        target = ws.target("dev")
        earlier = target.version_table(
            "marts.customer_orders", first["catalog"]["marts.customer_orders"]
        )
        _, rows = target.engine().fetch(
            f"SELECT (SELECT count(*) FROM marts.customer_orders), count(*) FROM ("
            f"SELECT * FROM marts.customer_orders EXCEPT ALL SELECT * FROM {earlier})"
        )
        assert rows == [(50, 0)]

        # and forward again, by release id
        forward = rollback(ws, "dev", r2)
    assert (forward.from_release, forward.to_release) == (r1, r2)
    assert p.snapshot("dev")["catalog"] == second["catalog"]
    assert p.snapshot("dev")["versions"] == second["versions"]


def test_rollback_to_a_release_never_live_there_is_refused(deployed: Project) -> None:
    p = deployed
    p.edit("jobs/customer_orders.sql", *CUSTOMER_ORDERS_CHANGE)
    p.commit("round revenue")
    r2 = p.release()
    before = p.snapshot("dev")
    result = p.sluice("rollback", "dev", "--to", r2)
    assert result.code == 1
    assert result.error == f"Error: release {r2} was never live in dev"
    assert p.snapshot("dev") == before


def test_rollback_past_a_new_dataset_unpublishes_it(deployed: Project) -> None:
    p = deployed
    first = p.snapshot("dev")
    (p.root / "jobs" / "countries.sql").write_text(
        "SELECT country, count(*) AS customers FROM raw.customers GROUP BY country\n"
    )
    p.edit(
        "sluice.yaml",
        "jobs:\n",
        "  marts.countries:\n    description: customers per country\n\njobs:\n"
        "  countries:\n    type: sql\n    sql: jobs/countries.sql\n    output: marts.countries\n",
    )
    p.commit("customers per country")
    out = p.deploy("dev", p.release())
    assert list(out.versions) == ["marts.countries"]

    with p.workspace() as ws:
        rollback(ws, "dev")
    after = p.snapshot("dev")
    assert after["live"] == (first["live"][0], first["catalog"])  # the record is right...
    assert after["catalog"] == first["catalog"]  # ...but the catalog still serves countries
