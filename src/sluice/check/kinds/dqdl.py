"""DQDL rulesets: each parses, every rule can be evaluated as written, and the columns its
rules name exist in the dataset's contract."""

from __future__ import annotations

from collections.abc import Callable

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.model import Finding
from sluice.config import ProjectConfig
from sluice.config.base import did_you_mean
from sluice.errors import DQDLSyntaxError, RuleDefinitionError

#: Rule types whose every parameter is a column of the dataset.
COLUMN_RULES = frozenset({
    "ColumnDataType", "Completeness", "IsComplete", "Uniqueness", "IsUnique", "IsPrimaryKey",
    "DistinctValuesCount", "UniqueValueRatio", "Entropy", "Mean", "Sum", "StandardDeviation",
    "Variance", "ColumnCorrelation", "ColumnLength", "ColumnValues", "DataFreshness",
})


class DqdlCheck:
    kind = "dqdl"
    description = "DQDL rulesets parse and name existing columns"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        if cfg is None:
            return []
        units = []
        for name, ds in sorted(cfg.datasets.items()):
            if ds.rules is None:
                continue
            contract = ds.contract.model_dump(mode="json") if ds.contract else None
            units.append(Unit("dqdl", name, _runner(ctx, cfg, name, ds.rules),
                              files=(ds.rules,), nodes=frozenset({name}),
                              key={"contract": contract}))
        return units


def _runner(ctx: CheckContext, cfg: ProjectConfig, dataset: str,
            rules: str) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        from sluice.quality.dqdl.parser import parse_ruleset_file  # lazy: fast cached runs

        try:
            ruleset = parse_ruleset_file(ctx.root / rules)
        except (DQDLSyntaxError, RuleDefinitionError) as exc:
            loc = exc.location
            return findings_outcome([Finding(
                exc.reason, rules, loc.line if loc else None, loc.column if loc else None,
                tip=exc.tip or "see docs/quality.md for the DQDL sluice supports")])
        contract = cfg.datasets[dataset].contract
        columns = list(contract.columns) if contract is not None else []
        findings: list[Finding] = []
        if columns:
            lowered = {c.lower() for c in columns}
            for rule in ruleset.leaves():
                if rule.type not in COLUMN_RULES:
                    continue
                for param in rule.params:
                    if param.lower() not in lowered:
                        findings.append(Finding(
                            f"{rule.type} names column {param!r}, which {dataset}'s contract "
                            f"does not have{did_you_mean(param, columns)}", rules,
                            rule.location.line, rule.location.column,
                            tip=f"the contract has: {', '.join(columns)}"))
        n = len(ruleset.leaves())
        return findings_outcome(findings, f"{n} rule{'s' if n != 1 else ''}")

    return run
