"""``sluice datasets``, ``show``, ``query`` and ``quality check --env`` through the real CLI,
on DuckDB and PostgreSQL warehouses, and on versions an audit refused (quarantine)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from sluice.deploy.gc import collect_garbage
from sluice.explore.data import DATASET_COLUMNS
from tests.flow.conftest import Project

ORDERS = "staging.orders"
NARROW = {"COLUMNS": "80"}


def break_orders(p: Project) -> None:
    p.edit("jobs/orders.sql", "lower(status)", "upper(status)")
    p.commit("statuses in capitals")
    p.ok("release")


def test_datasets_and_show_at_80_columns_keep_ids_whole(deployed: Project) -> None:
    p = deployed
    items = p.json("datasets", "dev")
    assert set(items[0]) == set(DATASET_COLUMNS)  # the --json keys are the headers
    header = p.ok("datasets").out
    assert all(name in header for name in DATASET_COLUMNS[1:])
    narrow = p.sluice("datasets", "dev", env=NARROW)
    assert narrow.code == 0 and "…" not in narrow.out
    assert max(len(line) for line in narrow.out.splitlines()) <= 80
    for item in items:
        assert item["live_version"] in narrow.out and item["dataset"] in narrow.out
        assert item["rows"] > 0 and item["columns"] > 0 and item["quarantine"] == []
    shown = p.sluice("show", "dev", ORDERS, "--limit", "2", env=NARROW)
    assert shown.code == 0 and "2 rows (more rows exist: raise --limit)" in shown.out
    version = next(i["live_version"] for i in items if i["dataset"] == ORDERS)
    assert f"{ORDERS} @ {version}" in shown.out
    data = p.json("show", "dev", ORDERS, "--limit", "0")
    assert data["read"] == {ORDERS: version} and not data["truncated"]
    assert len(data["rows"]) == next(i["rows"] for i in items if i["dataset"] == ORDERS)


def test_query_prints_json_and_csv(deployed: Project) -> None:
    p = deployed
    sql = ("SELECT o.status, count(*) AS n FROM staging.orders o JOIN raw.customers c "
           "USING (customer_id) GROUP BY o.status ORDER BY o.status")
    data = p.json("query", "dev", sql)
    assert data["columns"] == ["status", "n"] and data["quarantined"] == []
    text = p.ok("query", "dev", sql, "--csv").out
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["status", "n"]
    assert [(r[0], int(r[1])) for r in rows[1:]] == [(r["status"], r["n"]) for r in data["rows"]]


@pytest.mark.parametrize("sql", [
    "INSERT INTO staging.orders SELECT * FROM staging.orders",
    "SELECT 1; SELECT 2",
    "COPY (SELECT 1) TO 'out.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
])
def test_a_writing_or_file_reading_query_is_refused_with_exit_2(deployed: Project,
                                                                sql: str) -> None:
    result = deployed.sluice("query", "dev", sql)
    assert result.code == 2
    assert result.error.startswith("Error: query refused (line 1, column ")
    assert result.tip.startswith("Tip: ")
    assert not (deployed.root / "out.csv").exists()


def test_unknown_environment_dataset_and_version(deployed: Project) -> None:
    p = deployed
    result = p.sluice("show", "dve", ORDERS)
    assert result.code == 2 and "did you mean 'dev'?" in result.error
    result = p.sluice("show", "dev", "staging.ordrs")
    assert result.code == 2 and "did you mean 'staging.orders'?" in result.error
    assert result.tip == "Tip: list what it serves:  sluice datasets dev"
    result = p.sluice("query", "dev", "SELECT 1", "--version", "staging.orders=v1")
    assert result.code == 2 and "has no version 'v1' in dev" in result.error
    result = p.sluice("datasets", "staging")
    assert result.code == 2 and result.error == "Error: nothing was ever deployed to staging"


def test_quarantined_versions_through_the_cli(deployed: Project) -> None:
    p = deployed
    break_orders(p)
    assert p.sluice("deploy", "dev").code == 1
    (orders,) = [i for i in p.json("datasets", "dev") if i["dataset"] == ORDERS]
    (kept,) = orders["quarantine"]
    listing = p.sluice("datasets", "dev", env=NARROW).out
    assert f"quarantined: {ORDERS} {kept}" in listing
    shown = p.ok("show", "dev", ORDERS, "--version", kept, "--limit", "3").out
    assert f"QUARANTINED: {ORDERS}={kept} was refused by an audit" in shown
    assert "PLACED" in shown or "SHIPPED" in shown or "CANCELLED" in shown
    data = p.json("query", "dev", "SELECT DISTINCT status FROM staging.orders",
                  "--version", f"{ORDERS}={kept}")
    assert data["quarantined"] == [f"{ORDERS}={kept}"]
    assert all(r["status"].isupper() for r in data["rows"])
    # the rules that refused it, evaluated again: exit 1 on it, 0 on what is live
    rules = "quality/orders.dqdl"
    again = p.sluice("quality", "check", rules, "--env", "dev", ORDERS, "--version", kept)
    assert again.code == 1 and "FAIL" in again.out
    assert p.sluice("quality", "check", rules, "--env", "dev", ORDERS).code == 0
    as_json = p.sluice("quality", "check", rules, "--env", "dev", ORDERS, "--json")
    assert as_json.code == 0 and as_json.json()["passed"] is True
    bad = p.sluice("quality", "check", rules, "--env", "dev")
    assert bad.code == 2 and "needs a DATASET" in bad.error
    # gc keeps it for quarantine_days
    gc = p.ok("gc", "dev").out
    assert "dropped 0 quarantined versions older than 7 days (kept 1)" in gc


# ------------------------------------------------------------------ PostgreSQL warehouse


def point_dev_at(p: Project, url: str) -> None:
    p.edit("sluice.yaml", "  dev:\n    target: {type: local}\n",
           f"  dev:\n    target: {{type: local, warehouse: '{url}'}}\n")
    p.commit("dev uses a PostgreSQL warehouse")


@pytest.mark.postgres
def test_exploring_a_postgres_warehouse(fresh: Project, postgres_db: str) -> None:
    p = fresh
    point_dev_at(p, postgres_db)
    p.ok("release")
    p.load("dev")
    p.ok("deploy", "dev")
    items = {i["dataset"]: i for i in p.json("datasets", "dev")}
    assert set(items) == {ORDERS, "marts.customer_orders", "marts.product_sales"}
    assert items[ORDERS]["columns"] == 7
    shown = p.json("show", "dev", ORDERS, "--limit", "0")
    assert len(shown["rows"]) == items[ORDERS]["rows"]
    # the project's dialect (duckdb) is what users write; it runs as PostgreSQL
    joined = p.json("query", "dev", "SELECT count(*) AS n FROM staging.orders o "
                                    "JOIN raw.customers c USING (customer_id)")
    assert joined["rows"] == [{"n": items[ORDERS]["rows"]}]
    refused = p.sluice("query", "dev", "DELETE FROM staging.orders")
    assert refused.code == 2 and "not DELETE" in refused.error
    assert p.json("show", "dev", ORDERS, "--limit", "0")["rows"] == shown["rows"]
    assert p.sluice("quality", "check", "quality/orders.dqdl", "--env", "dev", ORDERS).code == 0

    # a refused version is kept in the PostgreSQL warehouse too, queryable, then collected
    break_orders(p)
    assert p.sluice("deploy", "dev").code == 1
    (kept,) = p.json("datasets", "dev")[-1]["quarantine"]
    data = p.json("query", "dev", "SELECT DISTINCT status FROM staging.orders",
                  "--version", f"{ORDERS}={kept}")
    assert data["quarantined"] == [f"{ORDERS}={kept}"]
    assert all(r["status"].isupper() for r in data["rows"])
    failed = p.sluice("quality", "check", "quality/orders.dqdl", "--env", "dev", ORDERS,
                      "--version", kept)
    assert failed.code == 1
    with p.workspace() as ws:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
        (report,) = collect_garbage(ws, "dev", now=later)
        assert report.dropped_quarantined == {ORDERS: [kept]}
        assert kept not in {v.version for v in ws.target("dev").versions(ORDERS)}
