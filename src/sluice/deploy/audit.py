"""Audit a new dataset version before it is published: its contract and its DQDL rules.

A failed audit says where each broken promise is written: contract rules are located at
their line in ``sluice.yaml`` (the column, the ``primary_key``), DQDL rules at their line in
the rules file; duplicate keys of a failed ``IsPrimaryKey``/``IsUnique`` are counted per key
(:class:`DuplicateKeys`), so a key that appears three times is one line, not three rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from sluice.config import ProjectConfig, qualify, read_config_document
from sluice.config.yamlsource import YamlDocument
from sluice.engines.base import DataRef, Engine
from sluice.errors import ConfigError, DataSourceError, EngineError
from sluice.project.rules import read_rules
from sluice.quality import EvaluationOptions, MetricHistory, evaluate, parse_ruleset
from sluice.quality.results import Outcome, RuleResult, RulesetResult

#: Rules whose failures are duplicate keys, shown grouped by key.
KEY_RULES = frozenset({"IsPrimaryKey", "IsUnique"})


@dataclass
class DuplicateKeys:
    """Keys of a failed uniqueness rule that appear more than once, most repeated first."""

    location: str  # the rule's: sluice.yaml:line:col (contract) or rules.dqdl:line:col
    rule: str
    columns: tuple[str, ...]
    keys: list[tuple[tuple[Any, ...], int]]  # (key values, how many rows have it)
    total: int  # how many distinct keys are duplicated (``keys`` holds at most a sample)

    def to_dict(self) -> dict[str, Any]:
        return {"location": self.location, "rule": self.rule, "columns": list(self.columns),
                "keys": [{"key": dict(zip(self.columns, [str(v) for v in values],
                                          strict=True)), "rows": n}
                         for values, n in self.keys],
                "total": self.total}


@dataclass
class AuditResult:
    dataset: str
    version: str
    contract_problems: list[str] = field(default_factory=list)
    contract: RulesetResult | None = None
    rules: RulesetResult | None = None
    #: the dataset's ``contract:`` in sluice.yaml (``sluice.yaml:line:col``), when it has one
    contract_location: str | None = None
    rules_file: str | None = None
    duplicates: list[DuplicateKeys] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(not self.contract_problems
                    and (self.contract is None or self.contract.passed)
                    and (self.rules is None or self.rules.passed))

    def failures(self) -> list[str]:
        where = f"{self.contract_location}: " if self.contract_location else ""
        out = [f"{where}{p}" for p in self.contract_problems]
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
            "contract_location": self.contract_location, "rules_file": self.rules_file,
            "contract": self.contract.to_dict() if self.contract else None,
            "rules": self.rules.to_dict() if self.rules else None,
            "duplicate_keys": [d.to_dict() for d in self.duplicates],
        }

    def failed_rules(self) -> Iterator[RuleResult]:
        """Every failed or errored rule (composites' children included), contract first."""
        for res in (self.contract, self.rules):
            if res is not None:
                yield from _failed(res.results)


def _failed(results: list[RuleResult]) -> Iterator[RuleResult]:
    for r in results:
        if r.outcome in {Outcome.FAIL, Outcome.ERROR}:
            yield r
        yield from _failed(r.children)


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
    doc = _document(release_dir)
    key = _dataset_key(doc, dataset) if doc is not None else None
    if contract is not None:
        engine.register("sluice_audit", data)
        if doc is not None and key is not None:
            result.contract_location = str(doc.locate(("datasets", key, "contract"), key=True))
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
            if doc is not None and key is not None:
                _locate_contract_rules(result.contract, doc, key)
    if ds is not None and ds.rules:
        result.rules_file = ds.rules
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
    key_rules = [r for r in result.failed_rules() if r.rule_type in KEY_RULES]
    if key_rules:
        engine.register("sluice_audit", data)  # the rules' evaluation may have re-pointed it
        result.duplicates = [d for r in key_rules
                             if (d := _duplicates(engine, r, sample_limit)) is not None]
    return result


def _document(release_dir: Path) -> YamlDocument | None:
    try:
        return read_config_document(release_dir)
    except ConfigError:  # the release was validated when built; locations are a courtesy
        return None


def _dataset_key(doc: YamlDocument, dataset: str) -> str | None:
    """The key of ``dataset`` under ``datasets:`` as written (``orders`` for main.orders)."""
    datasets = doc.data.get("datasets") if isinstance(doc.data, dict) else None
    if not isinstance(datasets, dict):
        return None
    return next((k for k in datasets if isinstance(k, str) and qualify(k) == dataset), None)


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _locate_contract_rules(res: RulesetResult, doc: YamlDocument, key: str) -> None:
    """Point the generated contract rules at what declares them in sluice.yaml."""
    base = ("datasets", key, "contract")
    for r in res.results:
        if r.rule_type == "IsComplete":
            columns = _QUOTED.findall(r.rule)
            r.location = str(doc.locate((*base, "columns", *columns[:1]), key=True))
        elif r.rule_type == "IsPrimaryKey":
            r.location = str(doc.locate((*base, "primary_key"), key=True))


def _duplicates(engine: Engine, rule: RuleResult, limit: int) -> DuplicateKeys | None:
    """The repeated keys of a failed uniqueness rule over the whole version, counted."""
    if " where " in rule.rule.lower() or limit <= 0:  # a filtered rule: not the whole table
        return None
    columns = tuple(_QUOTED.findall(rule.rule))
    if not columns:
        return None
    cols = [exp.column(c, quoted=True) for c in columns]
    repeated = exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))
    query = (exp.select(*cols, exp.alias_(exp.Count(this=exp.Star()), "sluice_rows"),
                        exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "sluice_keys"))
             .from_("sluice_audit")
             .where(exp.and_(*[exp.Not(this=exp.Is(this=c.copy(), expression=exp.Null()))
                               for c in cols]))
             .group_by(*cols).having(repeated)
             .order_by(exp.Ordered(this=exp.column("sluice_rows"), desc=True), *cols)
             .limit(limit))
    try:
        _, rows = engine.fetch(query.sql(engine.dialect))
    except EngineError:  # the audit's verdict stands; the grouping is a courtesy
        return None
    if not rows:
        return None
    n = len(columns)
    return DuplicateKeys(rule.location, rule.rule, columns,
                         [(tuple(row[:n]), int(row[n])) for row in rows], int(rows[0][n + 1]))
