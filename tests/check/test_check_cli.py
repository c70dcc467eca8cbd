"""``sluice check`` end to end: one fixture project per failure it must catch, each
asserting the check, the location and the exit code; then the cache, selection, outputs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import yaml

from sluice import __version__

from .conftest import Repo, errors, results

FAST = ("--skip", "unit,integration")


def test_a_clean_project_passes_and_a_rerun_reuses_every_result(repo: Repo) -> None:
    code, report = repo.check()
    assert code == 0 and report["passed"] is True
    kinds = {r["kind"] for r in report["results"]}
    assert {"config", "graph", "sql", "dqdl", "lint", "unit", "integration"} <= kinds
    unit = results(report, "unit")[0]
    assert unit["status"] == "passed" and [c["outcome"] for c in unit["cases"]] == ["passed"]
    integration = results(report, "integration")[0]
    assert integration["status"] == "passed" and "3/3 jobs ran" in integration["detail"]
    assert report["reused"] == 0

    code, again = repo.check()
    cacheable = [r for r in again["results"] if r["kind"] != "contracts"]
    assert code == 0 and all(r["cached"] for r in cacheable)
    assert again["reused"] == len(cacheable)


def test_lint_error(repo: Repo) -> None:
    repo.edit("jobs/product_sales.py", "from typing import Any\n",
              "from typing import Any\nimport os\n")
    code, report = repo.check(*FAST)
    assert code == 1
    [f] = [f for f in errors(report, "lint") if f["code"] == "F401"]
    assert (f["path"], f["line"], f["col"]) == ("jobs/product_sales.py", 6, 8)
    assert f["message"] == "`os` imported but unused"


def test_sql_syntax_error(repo: Repo) -> None:
    repo.edit("jobs/orders.sql", "WHERE CAST(amount", "WHERE CAST((amount")
    code, report = repo.check(*FAST)
    assert code == 1
    [f] = errors(report, "sql")
    # DuckDB's own parser has the last word: it points at the AS that cannot follow "(amount"
    assert (f["path"], f["line"], f["col"]) == ("jobs/orders.sql", 11, 20)
    assert "does not parse (duckdb)" in f["message"]
    assert [r["name"] for r in results(report, "sql") if r["status"] == "failed"] == ["orders"]


def test_unknown_column(repo: Repo) -> None:
    repo.edit("jobs/customer_orders.sql", "sum(o.amount)", "sum(o.amont)")
    code, report = repo.check(*FAST)
    assert code == 1
    [f] = errors(report, "sql")
    assert (f["path"], f["line"], f["col"]) == ("jobs/customer_orders.sql", 6, 20)
    assert f["message"] == ("column amont is not in staging.orders's contract; "
                            "did you mean 'amount'?")


def test_unknown_dataset(repo: Repo) -> None:
    repo.edit("jobs/customer_orders.sql", "FROM raw.customers", "FROM raw.custmers")
    code, report = repo.check(*FAST)
    [f] = errors(report, "sql")
    assert code == 1 and (f["path"], f["line"], f["col"]) == ("jobs/customer_orders.sql", 7, 6)
    assert "did you mean 'raw.customers'" in f["message"]


def test_failing_unit_test(repo: Repo) -> None:
    repo.write("tests/test_broken.py", "def test_revenue_is_never_negative():\n"
                                       "    assert -1 >= 0\n")
    code, report = repo.check("--only", "unit")
    assert code == 1
    [unit] = results(report, "unit")
    assert sorted(c["outcome"] for c in unit["cases"]) == ["failed", "passed"]
    [f] = errors(report, "unit")
    assert (f["path"], f["line"]) == ("tests/test_broken.py", 2)
    assert "test_revenue_is_never_negative failed" in f["message"]


def test_breaking_contract_change_fails_until_acknowledged(repo: Repo) -> None:
    repo.edit("sluice.yaml", "        country: VARCHAR\n", "")
    repo.edit("jobs/customer_orders.sql", "    c.country,\n", "")
    repo.edit("jobs/customer_orders.sql", "c.name, c.country", "c.name")
    code, report = repo.check("--only", "contracts", "--against", "HEAD")
    assert code == 1
    [f] = errors(report, "contracts")
    assert f["code"] == "removed:country" and f["path"] == "sluice.yaml"
    assert "acknowledge" in f["tip"]

    with (repo.root / "sluice.yaml").open("a", encoding="utf-8") as fh:
        fh.write("checks:\n  acknowledge:\n    - dataset: marts.customer_orders\n"
                 "      change: removed:country\n      reason: country moved to marts.geo\n")
    code, report = repo.check("--only", "contracts", "--against", "HEAD")
    assert code == 0
    [warning] = results(report, "contracts")[0]["findings"]
    assert warning["severity"] == "warning" and "country moved to marts.geo" in \
        warning["message"]


def test_audit_failure_on_samples(repo: Repo) -> None:
    orders = repo.root / "data" / "raw" / "orders" / "orders.csv"
    lines = orders.read_text().splitlines()
    fields = lines[1].split(",")
    fields[5] = "lost"  # not a status the rules allow
    lines[1] = ",".join(fields)
    orders.write_text("\n".join(lines) + "\n")
    code, report = repo.check("--only", "integration")
    assert code == 1
    found = errors(report, "integration")
    assert any(f["path"] == "quality/orders.dqdl" and f["line"] == 4 and
               'ColumnValues "status"' in f["message"] for f in found), found


def test_dependency_cycle(repo: Repo) -> None:
    repo.edit("jobs/orders.sql", "FROM raw.orders",
              "FROM raw.orders JOIN marts.customer_orders m USING (customer_id)")
    code, report = repo.check("--only", "graph")
    assert code == 1
    [f] = errors(report, "graph")
    assert f["message"] == ("jobs depend on each other in a cycle: "
                            "customer_orders -> orders -> customer_orders")
    assert f["path"] == "sluice.yaml" and f["line"] is not None


def test_broken_config_is_a_located_finding(repo: Repo) -> None:
    repo.edit("sluice.yaml", "    output: staging.orders\n", "    outptu: staging.orders\n")
    code, report = repo.check()
    assert code == 1
    [f] = errors(report, "config")
    assert f["path"] == "sluice.yaml" and f["line"] is not None and "outptu" in f["message"]


def test_changed_since_checks_the_change_and_its_downstream(repo: Repo) -> None:
    repo.edit("jobs/orders.sql", "lower(status)", "lower(trim(status))")
    code, report = repo.check("--changed-since", "HEAD", *FAST)
    assert code == 0
    assert report["selection"]["changed_files"] == ["jobs/orders.sql"]
    sql = sorted(r["name"] for r in results(report, "sql"))
    assert sql == ["customer_orders", "orders"]  # product_sales is python: no sql unit
    dqdl = sorted(r["name"] for r in results(report, "dqdl"))
    assert dqdl == ["marts.customer_orders", "staging.orders"]
    assert not results(report, "lint")  # no Python changed
    assert report["selection"]["units_selected"] < report["selection"]["units_total"]


def test_outputs_ci_systems_read(repo: Repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo.edit("jobs/orders.sql", "WHERE CAST(amount", "WHERE CAST((amount")
    junit, md = tmp_path / "check.xml", tmp_path / "check.md"
    run = repo.sluice("check", "--skip", "unit,integration", "--junit", str(junit),
                      "--markdown", str(md), env={"GITHUB_ACTIONS": "true"})
    assert run.code == 1
    assert "::error file=jobs/orders.sql,line=11," in run.out
    suites = {s.get("name"): s for s in ET.parse(junit).getroot().iter("testsuite")}
    assert suites["sql"].get("failures") == "1"
    text = md.read_text()
    assert text.startswith("## sluice check failed") and "`jobs/orders.sql:11" in text
    assert "check FAILED" in run.out


def test_unknown_kind_is_a_usage_error(repo: Repo) -> None:
    run = repo.sluice("check", "--only", "lnt")
    assert run.code == 2 and "unknown check kind 'lnt'; did you mean 'lint'?" in run.err


def test_release_records_its_checks_and_promote_can_require_passing_ones(repo: Repo) -> None:
    repo.edit("sluice.yaml", "  staging:\n    target: {type: local}\n",
              "  staging:\n    target: {type: local}\n    protection: {require_checks: true}\n")
    repo.commit("staging requires checks")
    assert repo.check()[0] == 0
    first = repo.sluice("release", "--json").json()["id"]
    listed = {r["id"]: r for r in repo.sluice("releases", "--json").json()}
    assert listed[first]["checks_passed"] is True
    assert listed[first]["checks"]["tree"] == repo.git("rev-parse", "HEAD^{tree}").strip()
    for env in ("dev", "staging"):
        assert repo.sluice("load", env, "data").code == 0
    assert repo.sluice("deploy", "dev").code == 0
    assert repo.sluice("promote", "dev", "staging").code == 0

    # a commit whose check fails: dev takes it, staging refuses it
    repo.edit("jobs/product_sales.py", "from typing import Any\n",
              "from typing import Any\nimport os\n")
    repo.commit("unused import")
    assert repo.check("--skip", "unit,integration")[0] == 1  # a partial run: not recorded
    assert repo.check()[0] == 1
    second = repo.sluice("release", "--json").json()["id"]
    assert {r["id"]: r for r in repo.sluice("releases", "--json").json()}[second][
        "checks_passed"] is False
    assert repo.sluice("deploy", "dev").code == 0
    refused = repo.sluice("promote", "dev", "staging")
    assert refused.code == 1
    assert f"staging requires passing checks: the checks of release {second} failed" in refused.err


def test_init_writes_ci_definitions(repo: Repo) -> None:
    for kind, rel in (("github", ".github/workflows/sluice.yml"),
                      ("codebuild", "buildspec.yml")):
        run = repo.sluice("init", ".", "--ci", kind)
        assert run.code == 0, run.err
        doc = yaml.safe_load((repo.root / rel).read_text())
        text = (repo.root / rel).read_text()
        assert "sluice check" in text and "sluice ship" in text
        assert f'pip install "sluice-cd[spark,check]=={__version__}"' in text
        assert doc
    again = repo.sluice("init", ".", "--ci", "github")
    assert again.code == 2 and "already exists" in again.err


def test_migrations_that_cannot_translate_or_were_edited_after_a_deploy(repo: Repo) -> None:
    with (repo.root / "sluice.yaml").open("a", encoding="utf-8") as fh:
        fh.write("migrations: {dialect: redshift}\n")
    repo.write("migrations/V1__regions.sql", "CREATE TABLE regions (id INT) DISTSTYLE ALL;\n")
    repo.write("migrations/V2__refresh.sql",
               "SELECT 1;\nCREATE PROCEDURE refresh() AS $$ BEGIN NULL; END; $$ "
               "LANGUAGE plpgsql;\n")
    repo.commit("migrations")
    code, report = repo.check("--only", "migrations")
    assert code == 1
    found = errors(report, "migrations")
    assert {(f["path"], f["line"]) for f in found} == {("migrations/V2__refresh.sql", 2)}
    assert "CREATE PROCEDURE (stored procedure) cannot run on duckdb" in found[0]["message"]

    repo.write("migrations/V2__refresh.sql", "-- sluice: engine=postgres\n"
               "CREATE PROCEDURE refresh() AS $$ BEGIN NULL; END; $$ LANGUAGE plpgsql;\n")
    repo.commit("postgres only")
    assert repo.check("--only", "migrations")[0] == 1  # it still cannot become postgres SQL
    (repo.root / "migrations" / "V2__refresh.sql").unlink()
    repo.commit("no procedure")
    assert repo.check("--only", "migrations")[0] == 0
    for args in (("release",), ("load", "dev", "data"), ("deploy", "dev")):
        assert repo.sluice(*args).code == 0
    repo.write("migrations/V1__regions.sql", "CREATE TABLE regions (id BIGINT);\n")
    code, report = repo.check("--only", "migrations")
    assert code == 1
    [f] = errors(report, "migrations")
    assert f["path"] == "migrations/V1__regions.sql"
    assert f["message"].startswith("migrations/V1__regions.sql was edited after release ")


def test_unit_tests_ignore_the_pytest_config_of_a_parent_folder(repo: Repo) -> None:
    # the demo workspace lies inside a sluice checkout: its pyproject.toml is not the project's
    (repo.root.parent / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--needs-a-plugin-the-project-lacks"\n')
    code, report = repo.check("--only", "unit")
    assert code == 0, errors(report, "unit")
    assert results(report, "unit")[0]["status"] == "passed"
    # a config of the project's own is used
    repo.write("pytest.ini", "[pytest]\naddopts = --needs-a-plugin-the-project-lacks\n")
    repo.commit("own pytest config")
    code, report = repo.check("--only", "unit")
    assert code == 1 and errors(report, "unit")


def test_migrations_are_executed_and_the_first_failing_statement_is_located(
        repo: Repo) -> None:
    with (repo.root / "sluice.yaml").open("a", encoding="utf-8") as fh:
        fh.write("migrations: {dialect: redshift}\n")
    repo.write("migrations/V1__regions.sql",
               "CREATE TABLE regions (id INT IDENTITY(0, 1), name VARCHAR(MAX)) DISTSTYLE ALL;\n"
               "GRANT SELECT ON regions TO GROUP analysts;\n")
    repo.write("migrations/V2__codes.sql", "-- adds a code\n\n"
               "ALTER TABLE regions ADD COLUMN code VARCHAR(3);\n"
               "INSERT INTO regoins (code) VALUES ('x');\n")
    repo.commit("migrations")
    run = repo.sluice("check", "--only", "migrations")
    assert run.code == 1, run.out + run.err
    assert "migrations/V2__codes.sql:4: fails on duckdb: Catalog Error: Table with name " \
           "regoins does not exist" in run.out
    code, report = repo.check("--only", "migrations")
    assert code == 1
    notes = [f for r in results(report, "migrations") for f in r["findings"]
             if f["severity"] == "info"]
    assert any("skipped GRANT" in f["message"] and f["line"] == 2 for f in notes)
    repo.edit("migrations/V2__codes.sql", "regoins", "regions")
    repo.commit("typo")
    assert repo.check("--only", "migrations")[0] == 0
