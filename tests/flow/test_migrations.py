"""Schema migrations as a step of every deploy: applied before jobs run, shown in the plan,
undone when the deploy fails, and gated on protected environments when irreversible."""

from __future__ import annotations

import subprocess
import sys

import duckdb
from tests.flow.conftest import Project, cli_env


def history(p: Project, env: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(p.home / "envs" / env / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT version, type, success FROM flyway_schema_history "
                           "ORDER BY installed_rank").fetchall()
    finally:
        con.close()


def add(p: Project, name: str, text: str) -> None:
    path = p.root / "migrations" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_deploy_applies_migrations_first_and_a_failed_deploy_undoes_them(
        deployed: Project) -> None:
    p = deployed
    with (p.root / "sluice.yaml").open("a", encoding="utf-8") as fh:
        fh.write("migrations: {dialect: redshift}\n")
    add(p, "V1__regions.sql", "CREATE TABLE regions (id INT, name VARCHAR(20) ENCODE lzo) "
                              "DISTSTYLE ALL;\nINSERT INTO regions VALUES (1, 'emea');\n")
    add(p, "U1__regions.sql", "DROP TABLE regions;\n")
    p.commit("regions table")
    p.ok("release")
    plan = p.json("plan", "dev")
    assert plan["migrations"]["pending"] == ["1 regions"]
    assert any("dropped DISTSTYLE ALL" in n for n in plan["migrations"]["notes"])
    shown = p.ok("plan", "dev").out
    assert "migrations to apply first: 1 regions" in shown
    p.ok("deploy", "dev")
    assert history(p, "dev") == [("1", "SQL", True)]
    assert p.json("plan", "dev")["migrations"]["pending"] == []

    # a second release adds a migration and breaks a contract: everything is undone
    add(p, "V2__sales.sql", "CREATE TABLE sales (id INT);\n")
    add(p, "U2__sales.sql", "DROP TABLE sales;\n")
    p.edit("sluice.yaml", "quantity: {type: INTEGER, nullable: false}",
           "quantity: {type: VARCHAR, nullable: false}")
    p.commit("sales, and a contract the data breaks")
    p.ok("release")
    failed = p.sluice("deploy", "dev")
    assert failed.code == 1 and "audit failed" in failed.err
    assert history(p, "dev") == [("1", "SQL", True), ("2", "SQL", True),
                                 ("2", "UNDO_SQL", True)]
    deployments = p.json("history", "dev")
    assert any("migrations 2 were undone" in str(d) for d in deployments)


def test_an_irreversible_migration_needs_an_acknowledging_approval_for_prod(
        deployed: Project) -> None:
    p = deployed
    add(p, "V1__notes.sql", "CREATE TABLE notes (id INT);\n")  # no U1: irreversible
    p.commit("notes table")
    rid = p.json("release")["id"]
    for env in ("staging", "prod"):
        p.load(env)
    p.ok("deploy", "dev")
    assert "IRREVERSIBLE (no undo script): 1 notes" in p.ok("plan", "prod").out
    p.ok("promote", "dev", "staging")
    p.ok("approve", "prod")
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code == 1
    assert "applies migrations to prod that cannot be undone (1 notes)" in refused.error
    assert "--acknowledge irreversible" in refused.tip
    p.ok("approve", "prod", "--acknowledge", "irreversible")
    p.ok("promote", "staging", "prod")
    assert history(p, "prod") == [("1", "SQL", True)]
    assert p.json("status")[2]["release"] == rid




def test_rollback_undoes_the_migrations_the_earlier_release_lacks(deployed: Project) -> None:
    p = deployed
    first = p.json("status")[0]["release"]
    add(p, "V1__regions.sql", "CREATE TABLE regions (id INT);\n")
    add(p, "U1__regions.sql", "DROP TABLE regions;\n")
    add(p, "V2__notes.sql", "CREATE TABLE notes (id INT);\n")  # no undo
    p.commit("two migrations")
    p.ok("release")
    p.ok("deploy", "dev")
    assert [v for v, _, _ in history(p, "dev")] == ["1", "2"]

    refused = p.sluice("rollback", "dev")
    assert refused.code == 1
    assert "would leave migrations 2, 1 applied" in refused.error
    assert "--keep-schema" in refused.tip
    assert [v for v, _, _ in history(p, "dev")] == ["1", "2"]  # nothing was undone

    add(p, "U2__notes.sql", "DROP TABLE notes;\n")
    p.commit("undo for notes")
    p.ok("release")
    p.ok("deploy", "dev")  # the same migrations, now reversible
    back = p.json("rollback", "dev", "--to", first)
    assert back["undone"] == ["2", "1"] and back["to_release"] == first
    assert history(p, "dev")[-2:] == [("2", "UNDO_SQL", True), ("1", "UNDO_SQL", True)]


def test_racing_deploys_apply_each_migration_once(deployed: Project) -> None:
    p = deployed
    add(p, "V1__regions.sql", "CREATE TABLE regions (id INT);\n")
    add(p, "V2__notes.sql", "CREATE TABLE notes (id INT);\n")
    p.commit("migrations")
    p.ok("release")
    procs = [subprocess.Popen([sys.executable, "-m", "sluice.cli", "deploy", "dev", "--wait",
                               "120"], cwd=p.root, env=cli_env(f"racer{i}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    codes = [proc.wait(timeout=300) for proc in procs]
    assert codes == [0, 0], [proc.stderr.read() for proc in procs if proc.stderr]
    assert history(p, "dev") == [("1", "SQL", True), ("2", "SQL", True)]


def test_a_deploy_whose_second_migration_fails_undoes_the_first(deployed: Project) -> None:
    p = deployed
    add(p, "V1__regions.sql", "CREATE TABLE regions (id INT);\n")
    add(p, "U1__regions.sql", "DROP TABLE regions;\n")
    add(p, "V2__broken.sql", "INSERT INTO nowhere VALUES (1);\n")
    p.commit("one good, one broken")
    p.ok("release")
    failed = p.sluice("deploy", "dev")
    assert failed.code == 1
    assert "migrations/V2__broken.sql:1: migration 2 broken failed" in failed.error
    assert history(p, "dev") == [("1", "SQL", True), ("1", "UNDO_SQL", True)]


def test_a_deploy_killed_after_a_migration_is_undone_by_recovery(deployed: Project) -> None:
    p = deployed
    add(p, "V1__regions.sql", "CREATE TABLE regions (id INT);\n")
    add(p, "U1__regions.sql", "DROP TABLE regions;\n")
    p.commit("regions")
    p.ok("release")
    killed = p.sluice("deploy", "dev",
                      env={"SLUICE_TEST_KILL_AT": "migrate:V1__regions.sql:done"})
    assert killed.code == -9
    assert history(p, "dev") == [("1", "SQL", True)]
    p.ok("deploy", "dev")  # recovers the killed one first (undoing V1), then deploys
    assert history(p, "dev") == [("1", "SQL", True), ("1", "UNDO_SQL", True),
                                 ("1", "SQL", True)]
