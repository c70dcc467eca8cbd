"""Typed model of a parsed DQDL document.

The parser produces these records; the rule-type registry validates them; the SQL compiler
and the reference evaluator consume them. Every node carries the :class:`~sluice.errors.Location`
of its first character so that later errors can point back into the ruleset file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, TypeAlias

from sluice.errors import Location

CompareOp: TypeAlias = Literal["=", "!=", ">", ">=", "<", "<="]
DurationUnit: TypeAlias = Literal["minutes", "hours", "days"]


class Keyword(Enum):
    """DQDL's value keywords."""

    NULL = "NULL"
    EMPTY = "EMPTY"
    WHITESPACES_ONLY = "WHITESPACES_ONLY"


# ---------------------------------------------------------------- operands (values)


@dataclass(frozen=True)
class Number:
    value: float | int


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class KeywordValue:
    keyword: Keyword


@dataclass(frozen=True)
class Duration:
    amount: float | int
    unit: DurationUnit

    def to_timedelta(self) -> dt.timedelta:
        return dt.timedelta(**{self.unit: self.amount})

    def seconds(self) -> float:
        return self.to_timedelta().total_seconds()


@dataclass(frozen=True)
class Now:
    """``now()`` optionally shifted: ``now() - 3 days``."""

    offset: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class Call:
    """A function call in a number expression: ``avg(last(10))``, ``last(3)``."""

    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True)
class BinaryOp:
    op: Literal["+", "-", "*", "/"]
    left: Operand
    right: Operand


Operand: TypeAlias = Number | Text | KeywordValue | Duration | Now | Call | BinaryOp


def is_dynamic(operand: Operand) -> bool:
    """Whether an operand needs the metric history (``avg(last(3))`` …)."""
    if isinstance(operand, Call):
        return True
    if isinstance(operand, BinaryOp):
        return is_dynamic(operand.left) or is_dynamic(operand.right)
    return False


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    value: Operand


@dataclass(frozen=True)
class Between:
    low: Operand
    high: Operand
    negated: bool = False


@dataclass(frozen=True)
class InSet:
    values: tuple[Operand, ...]
    negated: bool = False


@dataclass(frozen=True)
class Matches:
    pattern: str
    negated: bool = False


Condition: TypeAlias = Compare | Between | InSet | Matches


def condition_operands(cond: Condition) -> tuple[Operand, ...]:
    if isinstance(cond, Compare):
        return (cond.value,)
    if isinstance(cond, Between):
        return (cond.low, cond.high)
    if isinstance(cond, InSet):
        return cond.values
    return ()


# ---------------------------------------------------------------- rules


class Severity(Enum):
    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True)
class Rule:
    """One DQDL rule: ``Type "p1" "p2" <condition> [where "…"] [with threshold …] [labels=…]``."""

    type: str
    params: tuple[str, ...]
    condition: Condition | None
    location: Location
    text: str
    where: str | None = None
    threshold: Condition | None = None
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return _severity(self.labels)


@dataclass(frozen=True)
class Composite:
    """``(rule) and (rule)`` / ``(rule) or (rule)``, nestable."""

    op: Literal["and", "or"]
    operands: tuple[RuleNode, ...]
    location: Location
    text: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        if "severity" in self.labels:
            return _severity(self.labels)
        severities = {leaf.severity for leaf in iter_rules(self)}
        return Severity.WARN if severities == {Severity.WARN} else Severity.FAIL


RuleNode: TypeAlias = Rule | Composite


def _severity(labels: dict[str, str]) -> Severity:
    value = labels.get("severity", "").strip().lower()
    return Severity.WARN if value in {"warn", "warning", "info", "low"} else Severity.FAIL


@dataclass(frozen=True)
class Analyzer:
    """An entry of ``Analyzers = [...]``: a metric to compute and record, with no condition."""

    type: str
    params: tuple[str, ...]
    location: Location
    text: str
    where: str | None = None


@dataclass(frozen=True)
class Ruleset:
    source: str
    rules: tuple[RuleNode, ...]
    analyzers: tuple[Analyzer, ...] = ()
    metadata: dict[str, object] = field(default_factory=dict)
    data_sources: dict[str, object] = field(default_factory=dict)
    variables: dict[str, str | tuple[str, ...]] = field(default_factory=dict)

    def leaves(self) -> list[Rule]:
        out: list[Rule] = []
        for node in self.rules:
            out.extend(iter_rules(node))
        return out


def iter_rules(node: RuleNode) -> list[Rule]:
    """The leaf rules of a rule node, depth first."""
    if isinstance(node, Rule):
        return [node]
    out: list[Rule] = []
    for child in node.operands:
        out.extend(iter_rules(child))
    return out
