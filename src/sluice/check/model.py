"""Typed results of ``sluice check``: findings, per-unit results and the whole report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

#: Every kind of check, in the order the summary lists them.
KINDS: tuple[str, ...] = (
    "config", "graph", "sql", "dqdl", "contracts", "migrations", "lint", "unit", "cfn", "asl",
    "integration",
)


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to check, or a prerequisite failed (the reason says which)


@dataclass(frozen=True)
class Finding:
    """One problem: what, where (file:line:col when known) and what to do next."""

    message: str
    path: str | None = None
    line: int | None = None
    col: int | None = None
    severity: str = "error"  # "error" fails the check, "warning" and "info" (a note) do not
    code: str = ""  # the tool's rule id (ruff E501, cfn-lint E3012 …)
    tip: str = ""

    @property
    def where(self) -> str:
        if not self.path:
            return ""
        return ":".join(str(p) for p in (self.path, self.line, self.col) if p is not None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**data)


@dataclass(frozen=True)
class TestCase:
    """One test of the project's own suite (for JUnit output and the per-test table)."""

    name: str
    classname: str
    outcome: str  # passed, failed, error, skipped
    seconds: float = 0.0
    message: str = ""

    __test__ = False  # not a pytest class

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckResult:
    """The outcome of one unit of checking (a kind over one subject)."""

    kind: str
    name: str  # the subject: a job, a dataset, a template@env, "project" …
    status: Status
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    detail: str = ""  # one line: what was checked, or why it was skipped
    cases: list[TestCase] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "status": self.status.value,
                "seconds": round(self.seconds, 4), "cached": self.cached, "detail": self.detail,
                "findings": [f.to_dict() for f in self.findings],
                "cases": [c.to_dict() for c in self.cases]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(kind=data["kind"], name=data["name"], status=Status(data["status"]),
                   findings=[Finding.from_dict(f) for f in data["findings"]],
                   seconds=data["seconds"], cached=data["cached"], detail=data["detail"],
                   cases=[TestCase(**c) for c in data["cases"]])



@dataclass
class CheckReport:
    """Everything one ``sluice check`` did."""

    results: list[CheckResult]
    seconds: float
    tree: str | None  # git tree id of the checked work tree (None outside git)
    complete: bool  # every kind ran on every subject (no --only/--skip/--changed-since)
    selection: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.status != Status.FAILED for r in self.results)

    @property
    def reused(self) -> int:
        return sum(1 for r in self.results if r.cached)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "seconds": round(self.seconds, 3), "tree": self.tree,
                "complete": self.complete, "counts": self.counts(), "reused": self.reused,
                "selection": self.selection, "results": [r.to_dict() for r in self.results]}
