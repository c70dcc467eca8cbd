"""The check cache: a result is reused for the very same inputs and only for them — the
files a unit reads, the config it depends on, and the versions of the tools involved."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.check import context
from sluice.check.context import CheckOptions
from sluice.check.model import CheckReport
from sluice.check.registry import all_checks
from sluice.check.runner import run_checks

from .conftest import Repo

KINDS = frozenset({"config", "graph", "sql", "dqdl", "lint"})


def check(repo: Repo) -> CheckReport:
    return run_checks(repo.root, repo.root / ".sluice", CheckOptions(only=KINDS), all_checks())


def ran(report: CheckReport) -> set[str]:
    return {f"{r.kind}:{r.name}" for r in report.results if not r.cached}


def test_nothing_changed_reuses_everything(repo: Repo) -> None:
    first = check(repo)
    assert first.passed and first.reused == 0
    assert ran(check(repo)) == set()


def test_a_changed_file_reruns_the_units_that_read_it(repo: Repo) -> None:
    check(repo)
    repo.edit("jobs/orders.sql", "lower(status)", "lower(trim(status))")
    assert ran(check(repo)) == {"graph:project", "sql:orders"}  # graph reads every SQL file
    repo.edit("quality/orders.dqdl", "RowCount > 0", "RowCount > 1")
    assert ran(check(repo)) == {"dqdl:staging.orders"}


def test_a_config_change_reruns_what_depends_on_that_config(repo: Repo) -> None:
    check(repo)
    # a contract is the schema SQL columns are checked against, and what DQDL names
    repo.edit("sluice.yaml", "        status: {type: VARCHAR, nullable: false}\n",
              "        state: {type: VARCHAR, nullable: false}\n")
    again = ran(check(repo))
    assert {"sql:orders", "sql:customer_orders", "dqdl:staging.orders"} <= again
    assert "lint:python" not in again  # no Python file and no ruff config changed
    assert not check(repo).passed  # ... and the change is caught: status is gone


def test_a_new_tool_version_reruns_everything(repo: Repo,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    check(repo)
    real = context.tool_version

    def newer_sqlglot(dist: str) -> str:
        return "999.0" if dist == "sqlglot" else real(dist)

    monkeypatch.setattr(context, "tool_version", newer_sqlglot)
    assert ran(check(repo)) == {r for r in ran(_fresh(repo))}


def _fresh(repo: Repo) -> CheckReport:
    return run_checks(repo.root, repo.root / ".sluice",
                      CheckOptions(only=KINDS, use_cache=False), all_checks())


def test_a_crashed_tool_is_not_cached(repo: Repo, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    from sluice.check.kinds import tools

    monkeypatch.setattr(tools, "_run", _broken)
    broken = check(repo)
    [lint] = [r for r in broken.results if r.kind == "lint"]
    assert lint.status.value == "failed" and "cannot run ruff" in lint.findings[0].message
    monkeypatch.undo()
    assert "lint:python" in ran(check(repo))  # tried again, not served from the cache


def _broken(args: list[str], cwd: Path, timeout: int, what: str) -> object:
    from sluice.errors import SluiceError

    raise SluiceError(f"cannot run {what}: no such file")


def test_removing_a_source_reruns_the_sql_that_reads_it(repo: Repo) -> None:
    assert check(repo).passed
    repo.edit("sluice.yaml", "  raw.customers:\n    format: json\n"
                             "    path: raw/customers/*.json\n", "")
    again = check(repo)
    assert "sql:customer_orders" in ran(again)  # the datasets it may read changed
    [sql] = [r for r in again.results if r.name == "customer_orders"]
    assert sql.status.value == "failed" and "raw.customers" in sql.findings[0].message


def test_a_broken_graph_selects_everything_with_changed_since(repo: Repo) -> None:
    repo.edit("jobs/customer_orders.sql", "FROM raw.customers", "FROM raw.nowhere")
    report = run_checks(repo.root, repo.root / ".sluice",
                        CheckOptions(only=KINDS, changed_since="HEAD"), all_checks())
    assert not report.passed
    assert report.selection["affected"] != []
