"""Rules and contracts are code: a release that changes a dataset's gate audits the live
versions it keeps before it goes live (nothing is recomputed for a rules-only change), and a
gate that cannot be evaluated is refused by ``sluice check`` and ``sluice release``."""

from __future__ import annotations

from typing import Any

from sluice.state import JobRunStatus
from tests.flow.conftest import (  # noqa: F401  (fixtures)
    Project,
    deployed,
    deployed_template,
)

ORDERS_RULES = "quality/orders.dqdl"
MEAN_RULE = 'Mean "amount" between 1 and 1000'
FAST = ("--skip", "unit,integration,contracts")


def _release(p: Project, message: str) -> str:
    p.commit(message)
    result = p.ok("release", "--json")
    return str(result.json()["id"])


def _failed_deployment(p: Project, env: str) -> Any:
    with p.workspace() as ws:
        [record] = [d for d in ws.state.deployments(env) if d.status.value == "failed"]
        return record, ws.state.job_runs(record.id), ws.state.audits(record.id)


def test_rules_only_change_failing_live_data_is_refused_without_recomputing(
    deployed: Project,  # noqa: F811
) -> None:
    p = deployed
    before = p.snapshot("dev")
    p.edit(ORDERS_RULES, MEAN_RULE, 'Mean "amount" between 1 and 2')
    _release(p, "tighten the mean of amounts")

    plan = p.json("plan", "dev")
    assert plan["recompute"] == [] and plan["datasets"] == []
    assert plan["reaudit"] == [{"dataset": "staging.orders",
                                "version": before["catalog"]["staging.orders"],
                                "reason": "rules changed"}]
    text = p.ok("plan", "dev").out
    assert "re-audit staging.orders" in text and "rules changed" in text

    result = p.sluice("deploy", "dev")
    assert result.code == 1
    assert "audit failed, nothing was published" in result.error
    assert 'Mean "amount" between 1 and 2' in result.err
    assert f"{ORDERS_RULES}:" in result.err  # the failing rule, at its line
    assert p.snapshot("dev") == before

    record, runs, audits = _failed_deployment(p, "dev")
    assert runs == []  # nothing was recomputed
    assert [(a.dataset, a.version, a.passed) for a in audits] == [
        ("staging.orders", before["catalog"]["staging.orders"], False)]
    with p.workspace() as ws:
        steps = [(s.step, s.status.value) for s in ws.state.steps(record.id)]
    assert ("audit:staging.orders", "failed") in steps
    assert not any(step.startswith(("run:", "publish")) for step, _ in steps)


def test_rules_only_change_that_passes_goes_live_with_the_audits_recorded(
    deployed: Project,  # noqa: F811
    deployed_template: Any,  # noqa: F811
) -> None:
    p = deployed
    before = p.snapshot("dev")
    p.edit(ORDERS_RULES, "RowCount > 0", "RowCount > 10")
    p.edit("quality/customer_orders.dqdl", "RowCount > 0", "RowCount > 1")
    r2 = _release(p, "rules only")

    out = p.json("deploy", "dev")
    assert out["new_versions"] == {} and out["plan"]["recompute"] == []
    assert [(r["dataset"], r["reason"]) for r in out["plan"]["reaudit"]] == [
        ("staging.orders", "rules changed"), ("marts.customer_orders", "rules changed")]
    assert [(a["dataset"], a["version"], a["passed"]) for a in out["audits"]] == [
        ("staging.orders", before["catalog"]["staging.orders"], True),
        ("marts.customer_orders", before["catalog"]["marts.customer_orders"], True)]
    after = p.snapshot("dev")
    assert after["catalog"] == before["catalog"]  # the same data, now under release 2's gate
    assert after["live"] == (r2, before["catalog"]) and after["current"] == r2
    with p.workspace() as ws:
        assert [a.dataset for a in ws.state.audits(out["deployment"])] == [
            "staging.orders", "marts.customer_orders"]
        assert ws.state.job_runs(out["deployment"]) == []

    # the live versions now passed the live gate: deploying it again audits nothing
    assert p.json("plan", "dev")["reaudit"] == []
    # promoting to an environment whose live release has the old gate re-audits there
    p.load("staging")
    p.deploy("staging", deployed_template.release)
    staging = p.deploy("staging", r2)
    assert staging.plan.recompute == [] and len(staging.plan.reaudit) == 2


def test_a_rules_change_downstream_of_a_recomputed_job_audits_the_new_version_once(
    deployed: Project,  # noqa: F811
) -> None:
    p = deployed
    p.edit("jobs/customer_orders.sql", "coalesce(sum(o.amount), 0) AS revenue",
           "round(coalesce(sum(o.amount), 0), 2) AS revenue")
    p.edit("quality/customer_orders.dqdl", "RowCount > 0", "RowCount > 1")
    r2 = _release(p, "job and its rules")
    outcome = p.deploy("dev", r2)
    assert outcome.plan.reaudit == [] and outcome.plan.recompute == ["customer_orders"]
    assert [a.dataset for a in outcome.audits] == ["marts.customer_orders"]


def test_rules_may_use_parameters(deployed: Project) -> None:  # noqa: F811
    p = deployed
    # the same rules once substituted (min_amount is "0" in dev): nothing to audit again
    p.edit(ORDERS_RULES, 'ColumnValues "amount" >= 0', 'ColumnValues "amount" >= ${min_amount}')
    assert p.deploy("dev", _release(p, "a parameter in a rule")).plan.reaudit == []
    p.edit(ORDERS_RULES, MEAN_RULE, 'Mean "amount" between ${min_amount} and 1000')
    outcome = p.deploy("dev", _release(p, "a parameter in another rule"))
    [audit] = outcome.audits
    assert audit.passed and audit.rules is not None
    assert any(r.rule == 'Mean "amount" between 0 and 1000' for r in audit.rules.results)


def test_a_contract_change_is_audited_and_refused_when_the_data_breaks_it(
    deployed: Project,  # noqa: F811
) -> None:
    p = deployed
    before = p.snapshot("dev")
    p.edit("sluice.yaml", "        revenue: {type: DOUBLE, nullable: false}\n"
                          "      primary_key: [customer_id]",
           "        revenue: {type: 'DECIMAL(10,2)', nullable: false}\n"
           "      primary_key: [customer_id]")
    _release(p, "revenue as a decimal")
    result = p.sluice("deploy", "dev")
    assert result.code == 1
    assert "column revenue is DOUBLE, the contract says DECIMAL(10,2)" in result.err
    assert p.snapshot("dev") == before
    _, runs, audits = _failed_deployment(p, "dev")
    # a contract is part of its job's fingerprint: the job runs and its new version fails
    assert [(r.job, r.status) for r in runs] == [("customer_orders", JobRunStatus.SUCCEEDED)]
    assert [(a.dataset, a.passed) for a in audits] == [("marts.customer_orders", False)]


def test_a_nullability_change_with_nulls_in_the_data_is_refused(
    deployed: Project,  # noqa: F811
) -> None:
    p = deployed
    before = p.snapshot("dev")
    p.edit("jobs/customer_orders.sql", "    c.country,",
           "    CASE WHEN c.customer_id = 1 THEN NULL ELSE c.country END AS country,")
    p.commit("a customer without a country")
    p.deploy("dev", p.release())
    middle = p.snapshot("dev")
    assert middle["catalog"] != before["catalog"]
    p.edit("sluice.yaml", "        country: VARCHAR\n",
           "        country: {type: VARCHAR, nullable: false}\n")
    _release(p, "country is required")
    result = p.sluice("deploy", "dev")
    assert result.code == 1 and 'IsComplete "country"' in result.err
    assert p.snapshot("dev") == middle


# -------------------------------------------------------------- refused at check and release
def _refused(p: Project, message: str) -> tuple[str, list[Any]]:
    """The error of ``sluice release`` and the error findings of ``sluice check``."""
    p.commit(message)
    release = p.sluice("release")
    assert release.code == 2, release.err
    check = p.sluice("check", "--json", *FAST)
    assert check.code == 1, check.err
    findings = [{**f, "kind": r["kind"]} for r in check.json()["results"]
                for f in r["findings"] if f["severity"] == "error"]
    return release.err, findings


def _line_of(p: Project, rel: str, text: str) -> int:
    lines = (p.root / rel).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_a_rule_naming_a_missing_column_is_refused(deployed: Project) -> None:  # noqa: F811
    p = deployed
    p.edit(ORDERS_RULES, "    RowCount > 0,", '    RowCount > 0,\n    IsComplete "amout",')
    line = _line_of(p, ORDERS_RULES, '"amout"')
    err, findings = _refused(p, "a typo in a rule")
    assert f"{ORDERS_RULES}:{line}:5: IsComplete names column 'amout'" in err
    assert "did you mean 'amount'?" in err
    assert any((f["kind"], f["path"], f["line"], f["col"])
               == ("dqdl", ORDERS_RULES, line, 5) and "'amout'" in f["message"]
               for f in findings), findings


def test_an_unknown_parameter_in_rules_is_refused(deployed: Project) -> None:  # noqa: F811
    p = deployed
    p.edit(ORDERS_RULES, 'ColumnValues "amount" >= 0', 'ColumnValues "amount" >= ${min_amont}')
    line = _line_of(p, ORDERS_RULES, "${min_amont}")
    err, findings = _refused(p, "an unknown parameter")
    assert f"{ORDERS_RULES}:{line}:30: unknown parameter '${{min_amont}}'" in err
    assert "did you mean 'min_amount'" in err
    assert any((f["path"], f["line"], f["col"]) == (ORDERS_RULES, line, 30)
               for f in findings), findings


def test_a_missing_rules_file_is_refused_at_its_key(deployed: Project) -> None:  # noqa: F811
    p = deployed
    p.edit("sluice.yaml", "rules: quality/orders.dqdl", "rules: quality/order.dqdl")
    line = _line_of(p, "sluice.yaml", "rules: quality/order.dqdl")
    err, findings = _refused(p, "a wrong path")
    assert f"sluice.yaml:{line}:12: " in err
    assert """datasets["staging.orders"].rules: file not found: 'quality/order.dqdl'""" in err
    assert any((f["kind"], f["path"], f["line"], f["col"]) == ("dqdl", "sluice.yaml", line, 12)
               for f in findings), findings
