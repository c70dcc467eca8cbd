"""Inputs are declared: SQL that reads a file, SQL that sqlglot would repair, and a DQDL
statement that reads a file are refused by ``sluice check`` and ``sluice release`` at their
file:line:col, through the real CLI; and a deploy refuses such a job even in a release that
an older sluice built."""

from __future__ import annotations

import pytest
from tests.flow.conftest import Project

from sluice.project import graph


def test_a_job_reading_a_file_is_refused_by_check_and_release(fresh: Project) -> None:
    p = fresh
    p.edit("jobs/orders.sql", "FROM raw.orders\n",
           "FROM raw.orders\nCROSS JOIN read_text('/etc/passwd') AS leak\n")
    p.commit("a job that reads a file")
    where = "jobs/orders.sql:11:12: table function read_text() is refused"

    check = p.sluice("check", "--only", "sql")
    assert check.code == 1
    assert f"✗ sql: {where}" in check.out

    release = p.sluice("release")
    assert release.code == 2
    assert release.error.startswith(f"Error: {where}")
    assert "declare the data as a source in sluice.yaml" in release.tip
    assert p.json("releases") == []


def test_sql_that_sqlglot_would_repair_is_refused(fresh: Project) -> None:
    p = fresh
    p.edit("jobs/customer_orders.sql", "    c.customer_id,\n    c.name,",
           "    c.customer_id,,\n    c.name,")
    p.commit("two commas")

    check = p.sluice("check", "--only", "sql")
    assert check.code == 1
    assert "✗ sql: jobs/customer_orders.sql:2:19: SQL does not parse (duckdb)" in check.out

    release = p.sluice("release")
    assert release.code == 2
    assert release.error.startswith(
        'Error: jobs/customer_orders.sql:2:19: SQL does not parse (duckdb): syntax error at or '
        'near ","')


def test_a_rule_reading_a_file_is_refused_by_check_and_release(fresh: Project) -> None:
    p = fresh
    p.edit("quality/customer_orders.dqdl", "    RowCount > 0,\n",
           "    RowCount > 0,\n"
           "    CustomSql \"select count(*) from read_text('/etc/passwd')\" > 0,\n")
    p.commit("a rule that reads a file")
    where = "quality/customer_orders.dqdl:3:5: the CustomSql statement is refused: table function"

    check = p.sluice("check", "--only", "dqdl")
    assert check.code == 1
    assert f"✗ dqdl: {where} read_text()" in check.out

    release = p.sluice("release")
    assert release.code == 2
    assert where in release.err


def test_the_deployer_refuses_a_release_an_older_sluice_built(
    deployed: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = deployed
    p.edit("jobs/orders.sql", "FROM raw.orders\n",
           "FROM raw.orders\nCROSS JOIN read_text('/etc/passwd') AS leak\n")
    p.commit("a job that reads a file")
    # a sluice without the guard would have built this release
    with monkeypatch.context() as mp:
        mp.setattr(graph, "raise_refusal", lambda *a, **k: None)
        mp.setattr(graph, "undeclared", lambda *a, **k: [])
        rid = p.release()
    before = p.snapshot("dev")

    result = p.sluice("deploy", "dev", "--release", rid)
    assert result.code == 2
    assert result.error.startswith(
        "Error: jobs/orders.sql:11:12: table function read_text() is refused")
    assert p.snapshot("dev") == before
