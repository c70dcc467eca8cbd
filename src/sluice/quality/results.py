"""Typed results of evaluating a ruleset."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sluice.quality import model as m


class Outcome(Enum):
    PASS = "pass"
    WARN = "warn"  # failed, but its severity label says warn
    FAIL = "fail"
    ERROR = "error"  # could not be evaluated (unknown column, SQL error …)

    @property
    def ok(self) -> bool:
        return self in {Outcome.PASS, Outcome.WARN}


@dataclass
class RuleResult:
    rule: str
    rule_type: str
    location: str
    outcome: Outcome
    severity: m.Severity
    message: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    failing_rows: int | None = None
    evaluated_rows: int | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)
    children: list[RuleResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "type": self.rule_type,
            "location": self.location,
            "outcome": self.outcome.value,
            "severity": self.severity.value,
            "message": self.message,
            "metrics": self.metrics,
            "failing_rows": self.failing_rows,
            "evaluated_rows": self.evaluated_rows,
            "sample": [{k: _jsonable(v) for k, v in row.items()} for row in self.sample],
            "children": [c.to_dict() for c in self.children],
        }


@dataclass
class RulesetResult:
    ruleset: str
    dataset: str
    engine: str
    results: list[RuleResult]
    analyzer_metrics: dict[str, float | None] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    run_id: str = ""

    @property
    def outcome(self) -> Outcome:
        outcomes = {r.outcome for r in self.results}
        for o in (Outcome.ERROR, Outcome.FAIL, Outcome.WARN):
            if o in outcomes:
                return o
        return Outcome.PASS

    @property
    def passed(self) -> bool:
        return self.outcome.ok

    def counts(self) -> dict[str, int]:
        out = {o.value: 0 for o in Outcome}
        for r in self.results:
            out[r.outcome.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "dataset": self.dataset,
            "engine": self.engine,
            "outcome": self.outcome.value,
            "passed": self.passed,
            "counts": self.counts(),
            "elapsed_seconds": round(self.elapsed_seconds, 4),
            "run_id": self.run_id,
            "rules": [r.to_dict() for r in self.results],
            "analyzers": self.analyzer_metrics,
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
