"""Every way a deploy can fail says so in one ``Error:`` line with an exit code, shows no
traceback, and leaves the environment exactly as it was (catalog, code, versions, live)."""

from __future__ import annotations

import json
import stat

from tests.flow.conftest import Project, Template


def releases(p: Project) -> list[str]:
    return [r["id"] for r in p.json("releases")]


def test_a_tampered_release_is_not_deployed(deployed: Project, deployed_template: Template) -> None:
    p, rid = deployed, deployed_template.release
    manifest = json.loads((p.home / "artifacts" / "releases" / f"{rid}.json").read_text())
    digest = manifest["files"]["jobs/orders.sql"]
    blob = p.home / "artifacts" / "blobs" / digest[:2] / digest[2:]
    assert blob.stat().st_mode & 0o222 == 0  # blobs are read-only on purpose
    blob.chmod(blob.stat().st_mode | stat.S_IWUSR)
    blob.write_text("SELECT 1 AS order_id -- an innocent edit\n")
    before = p.snapshot("dev")

    for command in (("deploy", "dev"), ("plan", "dev"), ("promote", "dev", "staging")):
        result = p.sluice(*command)
        assert result.code == 2, command
        assert result.error == f"Error: release {rid} failed verification (1 problem(s)):"
        assert f"file 'jobs/orders.sql': blob {digest} is tampered" in result.err
        assert "Tip: delete the tampered blob files, then rebuild it" in result.err
    assert p.snapshot("dev") == before
    assert p.snapshot("staging")["live"] is None
    with p.workspace() as ws:
        assert [d.kind for d in ws.state.deployments()] == ["deploy"]  # nothing was started


def test_a_typo_in_sluice_yaml_points_at_its_line_and_column(
    deployed: Project, deployed_template: Template
) -> None:
    p = deployed
    p.edit("sluice.yaml", "    output: staging.orders\n", "    outptu: staging.orders\n")
    p.commit("typo")
    lines = (p.root / "sluice.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "outptu" in text)
    expected = (
        f"Error: sluice.yaml:{line}:5: jobs.orders.outptu: unknown key 'outptu'; "
        "did you mean 'output'?"
    )
    before = p.snapshot("dev")

    for command in (("release",), ("deploy", "dev"), ("status",)):
        result = p.sluice(*command)
        assert (result.code, result.error) == (2, expected), command
    assert releases(p) == [deployed_template.release]
    assert p.snapshot("dev") == before


def test_sql_that_does_not_parse_is_refused_at_release(
    deployed: Project, deployed_template: Template
) -> None:
    p = deployed
    p.edit(
        "jobs/customer_orders.sql", "count(o.order_id) AS orders,", "count(o.order_id AS orders,"
    )
    p.commit("oops")
    before = p.snapshot("dev")
    result = p.sluice("release")
    assert result.code == 2
    # DuckDB's own parser decides for the duckdb dialect: the AS that cannot follow order_id
    assert result.error == (
        'Error: jobs/customer_orders.sql:5:22: SQL does not parse (duckdb): syntax error at or '
        'near "AS"'
    )
    assert releases(p) == [deployed_template.release]
    assert p.snapshot("dev") == before


def test_a_python_job_that_raises_publishes_nothing(deployed: Project) -> None:
    p = deployed
    p.edit(
        "jobs/product_sales.py",
        "    orders = ctx.read(",
        "    raise RuntimeError('boom')\n    orders = ctx.read(",
    )
    p.commit("boom")
    rid = p.ok("release", "--json").json()["id"]
    before = p.snapshot("dev")

    result = p.sluice("deploy", "dev")
    assert result.code == 1
    # the user's own file:line first, and a tip that reproduces this very deployment
    line = p.root.joinpath("jobs/product_sales.py").read_text().splitlines().index(
        "    raise RuntimeError('boom')") + 1
    assert result.error == (
        f"Error: jobs/product_sales.py:{line} in run: job product_sales "
        "(jobs/product_sales.py:run) raised RuntimeError: boom"
    )
    assert f"sluice deploy dev --release {rid} --debug" in result.tip
    assert p.snapshot("dev") == before
    with p.workspace() as ws:
        dep = ws.state.deployments("dev", limit=1)[0]
    assert (dep.release_id, dep.status) == (rid, "failed")

    debug = p.sluice("--debug", "deploy", "dev")
    assert debug.code == 1
    assert "Traceback" in debug.err and "RuntimeError: boom" in debug.err
    assert p.snapshot("dev") == before


def test_a_missing_source_file_names_the_fix(deployed: Project) -> None:
    p = deployed
    (p.home / "envs" / "dev" / "objects" / "raw" / "products" / "products.csv").unlink()
    before = p.snapshot("dev")
    # a run recomputes orders and customer_orders before product_sales needs the file
    result = p.sluice("run", "dev")
    assert result.code == 2
    assert result.error.startswith("Error: source raw.products: no csv file matches ")
    assert (
        result.tip == "Tip: copy the files into it:  sluice load dev DIR  (DIR holding "
        "raw/products/*.csv)"
    )
    assert p.snapshot("dev") == before  # the two new versions were dropped again


def test_a_contract_violation_fails_the_audit(deployed: Project) -> None:
    p = deployed
    p.edit(
        "sluice.yaml",
        "quantity: {type: INTEGER, nullable: false}",
        "quantity: {type: VARCHAR, nullable: false}",
    )
    p.commit("quantity is text now")
    p.ok("release")
    plan = p.json("plan", "dev")
    assert plan["contract_changes"] == [
        {
            "dataset": "staging.orders",
            "breaking": True,
            "change": "column quantity type INTEGER -> VARCHAR (narrowing or incompatible)",
            "id": "type:quantity",
        }
    ]
    assert plan["breaking"] is True
    before = p.snapshot("dev")

    result = p.sluice("deploy", "dev")
    assert result.code == 1
    assert result.error == "Error: audit failed, nothing was published:"
    assert "column quantity is INTEGER, the contract says VARCHAR" in result.err
    assert p.snapshot("dev") == before


def test_a_dirty_tree_needs_allow_dirty(deployed: Project, deployed_template: Template) -> None:
    p = deployed
    before = p.snapshot("dev")
    with (p.root / "jobs" / "orders.sql").open("a") as sql:
        sql.write("-- a note\n")
    result = p.sluice("release")
    assert result.code == 2
    assert result.error == f"Error: {p.root} has 1 uncommitted change(s): jobs/orders.sql"
    assert result.tip == "Tip: commit first or pass --allow-dirty"
    assert releases(p) == [deployed_template.release]
    assert p.snapshot("dev") == before

    dirty = p.json("release", "--allow-dirty")
    assert dirty["created"] is True
    listed = p.json("releases")
    assert [(r["id"], r["dirty"]) for r in listed] == [
        (dirty["id"], True),
        (deployed_template.release, False),
    ]


def test_an_unknown_environment_is_named(deployed: Project) -> None:
    result = deployed.sluice("deploy", "qa")
    assert result.code == 2
    assert result.error == "Error: unknown environment 'qa'"
    assert result.tip == "Tip: environments in sluice.yaml: dev, staging, prod"


def test_plan_and_deploy_of_the_newest_release_warn_when_head_has_moved_on(
        deployed: Project, deployed_template: Template) -> None:
    p = deployed
    quiet = p.sluice("plan", "dev")
    assert quiet.code == 0 and "warning" not in quiet.err
    p.edit("jobs/orders.sql", "SELECT", "SELECT  ")
    p.commit("a change not released yet")
    for args in (("plan", "dev"), ("deploy", "dev", "--json")):
        result = p.sluice(*args)
        assert result.code == 0, result.err
        assert (f"warning: the newest release {deployed_template.release[:12]} was built from "
                "commit") in result.err
        assert "HEAD has changed 1 project file(s) since" in result.err
        assert "run `sluice release` first" in result.err
    assert p.json("deploy", "dev")["release"] == deployed_template.release
    p.release()
    assert "warning" not in p.sluice("plan", "dev").err
