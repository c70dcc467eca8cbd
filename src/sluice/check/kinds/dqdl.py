"""DQDL rulesets: each exists, its ``${name}``s are known parameters, it parses, every rule
can be evaluated as written, and the columns its rules name exist in the dataset's contract
(the rules of :mod:`sluice.project.rules`, which ``sluice release`` enforces too)."""

from __future__ import annotations

from collections.abc import Callable

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.kinds.project import error_findings
from sluice.check.model import Finding
from sluice.config import ProjectConfig
from sluice.errors import DQDLSyntaxError, RuleDefinitionError, SluiceError
from sluice.project.rules import column_problems, read_rules, rules_location


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
                              key={"contract": contract, "params": ctx.params}))
        return units


def _runner(ctx: CheckContext, cfg: ProjectConfig, dataset: str,
            rules: str) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        from sluice.quality.dqdl.parser import parse_ruleset  # lazy: fast cached runs

        if not (ctx.root / rules).is_file():
            loc, key = rules_location(ctx.root, dataset)
            return findings_outcome([Finding(
                f"{key}: file not found: {rules!r}", loc.source, loc.line, loc.column,
                tip="create the file, or fix the path (relative to the project)")])
        try:
            ruleset = parse_ruleset(read_rules(ctx.root, rules, ctx.params), source=rules)
        except (DQDLSyntaxError, RuleDefinitionError) as exc:
            where = exc.location
            return findings_outcome([Finding(
                exc.reason, rules, where.line if where else None,
                where.column if where else None,
                tip=exc.tip or "see docs/quality.md for the DQDL sluice supports")])
        except UnicodeDecodeError as exc:  # a binary file, or another encoding
            line = exc.object[: exc.start].count(b"\n") + 1
            return findings_outcome([Finding(
                f"not UTF-8 text ({exc.reason} at byte {exc.start})", rules, line, None,
                tip="save the ruleset as UTF-8 text")])
        except OSError as exc:
            return findings_outcome([Finding(f"cannot read {rules}: {exc}", rules)])
        except SluiceError as exc:  # an unknown ${name}, located in the rules file
            return findings_outcome(error_findings(exc))
        contract = cfg.datasets[dataset].contract
        columns = ", ".join(contract.columns) if contract is not None else ""
        findings = [Finding(message, loc.source, loc.line, loc.column,
                            tip=f"the contract has: {columns}")
                    for loc, message in column_problems(ruleset, dataset, contract)]
        from sluice.quality.sqlexpr import sql_errors  # lazy, like the parser

        findings += [Finding(e.reason, rules, e.location.line if e.location else None,
                             e.location.column if e.location else None, tip=e.tip or "")
                     for e in sql_errors(ruleset)]
        n = len(ruleset.leaves())
        return findings_outcome(findings, f"{n} rule{'s' if n != 1 else ''}")

    return run
