"""sluice.explore: datasets, rows and read-only queries over what an environment serves,
and the versions an audit refused (quarantine), on the DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sluice.deploy.deployer import AuditFailed, plan_deploy
from sluice.deploy.gc import collect_garbage
from sluice.errors import ConfigError, UsageError
from sluice.explore import evaluate_in_env, list_datasets, parse_pins, query, show
from sluice.quality import parse_ruleset_file
from sluice.release import verify_release

from .conftest import Project

ORDERS = "staging.orders"


def break_orders(p: Project) -> str:
    """A release whose orders job writes statuses in capitals: its audit refuses them."""
    p.edit("jobs/orders.sql", "lower(status)", "upper(status)")
    p.commit("statuses in capitals")
    return p.release()


def test_datasets_lists_what_dev_serves(deployed: Project) -> None:
    with deployed.workspace() as ws:
        items = list_datasets(ws)  # every environment deployed to: dev only
        live = ws.state.live("dev")
    assert live is not None
    assert {i.dataset: i.live_version for i in items} == live.versions
    orders = next(i for i in items if i.dataset == ORDERS)
    assert orders.env == "dev" and orders.columns == 7 and orders.rows and orders.rows > 0
    assert orders.quarantined == () and orders.updated
    assert orders.to_dict()["updated"].endswith("+00:00")  # to the second, UTC
    assert "." not in orders.to_dict()["updated"]


def test_show_and_query_read_the_live_versions(deployed: Project) -> None:
    with deployed.workspace() as ws:
        rows = show(ws, "dev", ORDERS, limit=3)
        assert len(rows.rows) == 3 and rows.truncated and rows.quarantined == []
        assert rows.columns[:2] == ["order_id", "customer_id"]
        everything = show(ws, "dev", "STAGING.ORDERS", limit=0)  # names ignore case
        result = query(ws, "dev", "SELECT count(*) AS n FROM staging.orders")
        assert result.rows == [(len(everything.rows),)] and not everything.truncated
        # sources are readable too, and joins keep the names written
        joined = query(ws, "dev", "SELECT c.country, count(*) AS n FROM staging.orders o "
                                  "JOIN raw.customers c USING (customer_id) GROUP BY ALL")
        assert sum(r[1] for r in joined.rows) == len(everything.rows)
        assert joined.read == {ORDERS: rows.read[ORDERS]}


@pytest.mark.parametrize(("sql", "message"), [
    ("INSERT INTO staging.orders SELECT * FROM staging.orders", "one SELECT statement, not INSERT"),
    ("CREATE TABLE x AS SELECT 1", "one SELECT statement"),
    ("COPY staging.orders TO '/tmp/out.csv'", "not COPY"),
    ("ATTACH '/tmp/x.duckdb' AS x", "not ATTACH"),
    ("PRAGMA version", "not PRAGMA"),
    ("SET threads = 1", "not SET"),
    ("SELECT 1; DROP VIEW staging.orders", "found 2 statements"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv() is refused"),
    ("SELECT read_text('/etc/passwd')", "read_text() is refused"),
    ("SELECT * FROM '/etc/passwd'", "is a file path or URL"),
    ("SELECT getenv('HOME')", "getenv() is refused"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings() is refused"),
    ("WITH d AS (DELETE FROM staging.orders RETURNING *) SELECT * FROM d", "refused"),
    ("SELECT * FROM _sluice_versions.registry", "neither serves nor reads as a source"),
    ("SELECT * FROM information_schema.tables", "neither serves nor reads as a source"),
    ("SELECT * FROM staging.ordres", "did you mean 'staging.orders'?"),
    # under RECURSIVE a CTE without a UNION reads the real table of its own name
    ("WITH RECURSIVE duckdb_tables AS (SELECT * FROM duckdb_tables) "
     "SELECT * FROM duckdb_tables", "neither serves nor reads as a source"),
    ("WITH RECURSIVE sqlite_master AS (SELECT * FROM sqlite_master UNION ALL SELECT 1) "
     "SELECT * FROM sqlite_master", "neither serves nor reads as a source"),
])
def test_query_refuses_anything_but_one_select_over_what_is_served(
        deployed: Project, sql: str, message: str) -> None:
    with deployed.workspace() as ws:
        before = list_datasets(ws, "dev")
        with pytest.raises(UsageError, match=r"query refused|neither serves") as info:
            query(ws, "dev", sql)
        assert message in info.value.message and info.value.exit_code == 2
        assert list_datasets(ws, "dev") == before


def test_a_recursive_cte_may_name_itself_in_its_recursive_branch(deployed: Project) -> None:
    with deployed.workspace() as ws:
        result = query(ws, "dev", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                                  "SELECT i + 1 FROM n WHERE i < 3) SELECT count(*) AS c FROM n")
    assert result.rows == [(3,)]


def test_unknown_names_get_suggestions(deployed: Project) -> None:
    with deployed.workspace() as ws:
        with pytest.raises(ConfigError, match="did you mean 'dev'"):
            list_datasets(ws, "dve")
        with pytest.raises(UsageError, match=re.escape(
                "serves no dataset 'staging.order'; did you mean 'staging.orders'")):
            show(ws, "dev", "staging.order")
        live = show(ws, "dev", ORDERS, limit=1).read[ORDERS]
        with pytest.raises(UsageError, match=f"no version '{live[:-1]}' in dev; did you mean "
                                             f"'{live}'"):
            show(ws, "dev", ORDERS, version=live[:-1])
        with pytest.raises(UsageError, match="nothing was ever deployed to staging"):
            query(ws, "staging", "SELECT 1")
    with pytest.raises(UsageError, match="not DATASET=VERSION"):
        parse_pins(["staging.orders"])


def test_a_refused_version_is_kept_shown_queried_never_reused_then_collected(
        deployed: Project) -> None:
    p = deployed
    bad = break_orders(p)
    with pytest.raises(AuditFailed):
        p.deploy("dev", bad)
    with p.workspace() as ws:
        (kept,) = ws.state.quarantined("dev")
        live = ws.state.live("dev")
        assert live is not None and kept.dataset == ORDERS
        assert live.versions[ORDERS] != kept.version and "status" in kept.reason
        # kept in the warehouse, never published
        assert kept.version in {v.version for v in ws.target("dev").versions(ORDERS)}
        assert ws.target("dev").catalog() == live.versions
        # a plan of the same release does not take it for the job's output, though its
        # fingerprint is the job's: only published versions are reused
        plan, _, _ = plan_deploy(ws, "dev", verify_release(ws.artifacts, bad), read_only=True)
        assert kept.fingerprint == plan.effective["orders"] and "orders" in plan.recompute
        ws.close()

        (orders,) = [i for i in list_datasets(ws, "dev") if i.dataset == ORDERS]
        assert orders.quarantined == (kept.version,)
        assert orders.live_version == live.versions[ORDERS]
        rows = show(ws, "dev", ORDERS, version=kept.version, limit=0)
        assert rows.quarantined == [f"{ORDERS}={kept.version}"]
        assert {r["status"] for r in rows.records()} <= {"PLACED", "SHIPPED", "DELIVERED",
                                                         "CANCELLED"}
        sql = "SELECT DISTINCT status FROM staging.orders ORDER BY status"
        refused = query(ws, "dev", sql, pins={ORDERS: kept.version})
        served = query(ws, "dev", sql)
        assert [r[0] for r in refused.rows] == [r[0].upper() for r in served.rows]
        assert refused.quarantined == [f"{ORDERS}={kept.version}"] and served.quarantined == []
        # the refused rules can be evaluated on it again, read-only
        ruleset = parse_ruleset_file(p.root / "quality" / "orders.dqdl")
        result, _, version = evaluate_in_env(ws, "dev", ORDERS, ruleset, version=kept.version)
        assert version == kept.version and not result.passed
        result, _, _ = evaluate_in_env(ws, "dev", ORDERS, ruleset)
        assert result.passed

    # deploying the same release again recomputes (a new version), quarantined in turn
    with pytest.raises(AuditFailed) as info:
        p.deploy("dev", bad)
    (audit,) = [a for a in info.value.audits if not a.passed]
    assert audit.version != kept.version
    with p.workspace() as ws:
        assert {q.version for q in ws.state.quarantined("dev")} == {kept.version, audit.version}
        # gc keeps them for retention.quarantine_days (7), then drops them
        (report,) = collect_garbage(ws, "dev")
        assert sorted(report.kept_quarantined[ORDERS]) == sorted([kept.version, audit.version])
        assert report.dropped_quarantined == {} and ORDERS not in report.dropped_versions
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
        (dry,) = collect_garbage(ws, "dev", dry_run=True, now=later)
        assert sorted(dry.dropped_quarantined[ORDERS]) == sorted([kept.version, audit.version])
        assert len(ws.state.quarantined("dev")) == 2
        (report,) = collect_garbage(ws, "dev", now=later)
        assert sorted(report.dropped_quarantined[ORDERS]) == sorted([kept.version,
                                                                     audit.version])
        assert ws.state.quarantined("dev") == []
        versions = {v.version for v in ws.target("dev").versions(ORDERS)}
        assert kept.version not in versions and audit.version not in versions
        event = ws.state.events("dev", kind="gc")[0]  # newest first
        assert sorted(event.payload["dropped_quarantined"][ORDERS]) == sorted(
            [kept.version, audit.version])
        ws.close()
        with pytest.raises(UsageError, match="no version"):
            show(ws, "dev", ORDERS, version=kept.version)


def test_a_live_version_failing_a_reaudit_is_not_quarantined(deployed: Project) -> None:
    p = deployed
    p.edit("quality/orders.dqdl", "RowCount > 0", "RowCount > 1000000")
    p.commit("an impossible row count")
    with pytest.raises(AuditFailed):
        p.deploy("dev", p.release())
    with p.workspace() as ws:
        assert ws.state.quarantined("dev") == []
        live = ws.state.live("dev")
        assert live is not None and ws.target("dev").catalog() == live.versions


def test_quarantine_days_zero_lets_the_next_gc_drop_them(deployed: Project) -> None:
    p = deployed
    p.edit("sluice.yaml", "retention: {versions: 5}",
           "retention: {versions: 5, quarantine_days: 0}")
    p.commit("no quarantine")
    p.deploy("dev", p.release())  # the live release's period counts, not the work tree's
    bad = break_orders(p)
    with pytest.raises(AuditFailed):
        p.deploy("dev", bad)
    with p.workspace() as ws:
        (kept,) = ws.state.quarantined("dev")
        (report,) = collect_garbage(ws, "dev")
        assert report.dropped_quarantined == {ORDERS: [kept.version]}
        assert report.quarantine_days == 0


def test_an_edited_work_tree_cannot_shorten_the_quarantine(deployed: Project) -> None:
    p = deployed
    bad = break_orders(p)
    with pytest.raises(AuditFailed):
        p.deploy("dev", bad)
    p.edit("sluice.yaml", "retention: {versions: 5}",
           "retention: {versions: 5, quarantine_days: 0}")  # not released, not deployed
    with p.workspace() as ws:
        (kept,) = ws.state.quarantined("dev")
        (report,) = collect_garbage(ws, "dev")
        assert report.dropped_quarantined == {} and report.quarantine_days == 7
        assert ws.state.quarantined("dev") == [kept]


def test_a_quarantined_version_of_another_environment_cannot_be_named(
        deployed: Project) -> None:
    p = deployed
    with p.workspace() as ws:
        first = ws.state.live("dev")
    assert first is not None
    p.load("staging")
    p.deploy("staging", first.release_id)
    with pytest.raises(AuditFailed):
        p.deploy("dev", break_orders(p))
    with p.workspace() as ws:
        (kept,) = ws.state.quarantined("dev")
        assert ws.state.quarantined("staging") == []
        with pytest.raises(UsageError, match=f"has no version '{kept.version}' in staging"):
            query(ws, "staging", "SELECT count(*) FROM staging.orders",
                  pins={ORDERS: kept.version})
        with pytest.raises(UsageError, match="no version"):
            show(ws, "staging", ORDERS, version=kept.version)
        assert query(ws, "dev", "SELECT count(*) FROM staging.orders",
                     pins={ORDERS: kept.version}).quarantined == [f"{ORDERS}={kept.version}"]
