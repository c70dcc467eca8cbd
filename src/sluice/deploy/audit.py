"""Audit a new dataset version before it is published: its contract and its DQDL rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from sluice.config import ProjectConfig
from sluice.engines.base import DataRef, Engine
from sluice.errors import DataSourceError
from sluice.project.rules import read_rules
from sluice.quality import EvaluationOptions, MetricHistory, evaluate, parse_ruleset
from sluice.quality.results import Outcome, RulesetResult


@dataclass
class AuditResult:
    dataset: str
    version: str
    contract_problems: list[str] = field(default_factory=list)
    contract: RulesetResult | None = None
    rules: RulesetResult | None = None

    @property
    def passed(self) -> bool:
        return bool(not self.contract_problems
                    and (self.contract is None or self.contract.passed)
                    and (self.rules is None or self.rules.passed))

    def failures(self) -> list[str]:
        out = list(self.contract_problems)
        for res in (self.contract, self.rules):
            if res is None:
                continue
            for r in res.results:
                if r.outcome in {Outcome.FAIL, Outcome.ERROR}:
                    out.append(f"{r.location}: {r.rule}: {r.message}")
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "version": self.version, "passed": self.passed,
            "contract_problems": self.contract_problems,
            "contract": self.contract.to_dict() if self.contract else None,
            "rules": self.rules.to_dict() if self.rules else None,
        }


def _same_type(actual: str, declared: str) -> bool:
    try:
        a = exp.DataType.build(actual, dialect="duckdb")
        d = exp.DataType.build(declared, dialect="duckdb")
    except Exception:  # an exotic type name: compare the text
        return actual.strip().upper() == declared.strip().upper()
    if a.sql("duckdb") == d.sql("duckdb"):
        return True
    # VARCHAR(20) vs VARCHAR, DECIMAL(10,2) vs DECIMAL: the base type decides
    return bool(a.this == d.this)


def audit_version(config: ProjectConfig, release_dir: Path, engine: Engine, dataset: str,
                  version: str, table: str, history: MetricHistory | None,
                  sample_limit: int = 20, *,
                  params: Mapping[str, str] | None = None) -> AuditResult:
    """Contract (columns, types, nullability, primary key) then the dataset's DQDL rules.

    With ``params`` (the environment's, ``env`` and ``project`` included), ``${name}`` in the
    rules is substituted first, as the release check did (:mod:`sluice.project.rules`).
    """
    result = AuditResult(dataset, version)
    ds = config.datasets.get(dataset)
    data = DataRef(table, "table")
    contract = ds.contract if ds is not None else None
    if contract is not None:
        engine.register("sluice_audit", data)
        actual = {c.name: c for c in engine.columns("sluice_audit")}
        for name, spec in contract.columns.items():
            col = actual.get(name)
            if col is None:
                result.contract_problems.append(f"column {name} is missing")
            elif not _same_type(col.type, spec.type):
                result.contract_problems.append(
                    f"column {name} is {col.type}, the contract says {spec.type}")
        if not contract.allow_extra_columns:
            extra = sorted(set(actual) - set(contract.columns))
            if extra:
                result.contract_problems.append(f"columns not in the contract: {', '.join(extra)}")
        rules = [f'IsComplete "{n}"' for n, s in contract.columns.items()
                 if not s.nullable and n in actual]
        if contract.primary_key and all(k in actual for k in contract.primary_key):
            rules.append("IsPrimaryKey " + " ".join(f'"{k}"' for k in contract.primary_key))
        if rules:
            contract_rules = parse_ruleset("Rules = [\n" + ",\n".join(rules) + "\n]",
                                           source=f"contract of {dataset}")
            result.contract = evaluate(contract_rules, data, engine=engine,
                                       options=EvaluationOptions(sample_limit=sample_limit,
                                                                 record_metrics=False))
    if ds is not None and ds.rules:
        rules_path = release_dir / ds.rules
        if not rules_path.is_file():
            raise DataSourceError(f"rules file {ds.rules} of {dataset} is not in the release",
                                  tip="add it to git and build a new release")
        text = (read_rules(release_dir, ds.rules, params) if params is not None
                else rules_path.read_text(encoding="utf-8"))
        ruleset = parse_ruleset(text, source=ds.rules)
        result.rules = evaluate(ruleset, data, engine=engine, history=history,
                                options=EvaluationOptions(sample_limit=sample_limit,
                                                          dataset_name=dataset,
                                                          record_metrics=False))
    return result
