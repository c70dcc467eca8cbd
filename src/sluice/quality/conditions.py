"""Evaluate DQDL conditions on measured metric values, including dynamic expressions.

Dynamic operands read the history of the rule's own metric: ``last(k)`` is its k most
recent recorded values (oldest first), aggregated by ``avg``, ``min``, ``max``, ``sum``,
``std``/``stddev`` (population) or picked with ``index(last(k), i)`` (0 = newest).
When the history holds no value yet, a dynamic condition cannot be judged: the rule passes
and says so, so that a first run records the baseline (see docs/quality.md).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable

from sluice.errors import RuleDefinitionError
from sluice.quality import model as m

REL_TOL = 1e-9


class NoHistory(Exception):
    """A dynamic operand needs history that is not there yet."""


History = Callable[[int], list[float]]


def resolve(op: m.Operand, history: History, rule: m.Rule) -> float:
    """A number operand's value; dynamic parts read ``history(k)``."""
    if isinstance(op, m.Number):
        return float(op.value)
    if isinstance(op, m.Text):
        try:
            return float(op.value)
        except ValueError as exc:
            raise RuleDefinitionError(f"{op.value!r} is not a number",
                                      location=rule.location) from exc
    if isinstance(op, m.BinaryOp):
        a, b = resolve(op.left, history, rule), resolve(op.right, history, rule)
        if op.op == "+":
            return a + b
        if op.op == "-":
            return a - b
        if op.op == "*":
            return a * b
        if b == 0:
            raise RuleDefinitionError("division by zero in the condition", location=rule.location)
        return a / b
    if isinstance(op, m.Call):
        return _call(op, history, rule)
    raise RuleDefinitionError(f"not a number: {op}", location=rule.location)


def _series(op: m.Operand, history: History, rule: m.Rule) -> list[float]:
    if isinstance(op, m.Call) and op.name == "last":
        k = int(resolve(op.args[0], history, rule)) if op.args else 1
        if k < 1:
            raise RuleDefinitionError("last(k) needs k >= 1", location=rule.location)
        values = history(k)
        if not values:
            raise NoHistory()
        return values
    return [resolve(op, history, rule)]


def _call(op: m.Call, history: History, rule: m.Rule) -> float:
    if op.name == "last":
        # last() / last(1) alone is the newest value
        values = _series(op, history, rule)
        if len(values) > 1 and op.args and resolve(op.args[0], history, rule) > 1:
            raise RuleDefinitionError("last(k) must be aggregated", location=rule.location)
        return values[-1]
    if op.name == "index":
        if len(op.args) != 2:
            raise RuleDefinitionError("index takes (last(k), i)", location=rule.location)
        values = _series(op.args[0], history, rule)
        i = int(resolve(op.args[1], history, rule))
        newest_first = list(reversed(values))
        if not 0 <= i < len(newest_first):
            raise NoHistory()
        return newest_first[i]
    if op.name == "abs":
        return abs(resolve(op.args[0], history, rule))
    pooled: list[float] = []
    for a in op.args:
        pooled.extend(_series(a, history, rule))
    return _aggregate(op.name, pooled)


def _aggregate(name: str, values: list[float]) -> float:
    if not values:
        raise NoHistory()
    if name == "avg":
        return statistics.fmean(values)
    if name == "min":
        return min(values)
    if name == "max":
        return max(values)
    if name == "sum":
        return math.fsum(values)
    return statistics.pstdev(values)


def _eq(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


def compare(op: str, value: float, target: float) -> bool:
    if op == "=":
        return _eq(value, target)
    if op == "!=":
        return not _eq(value, target)
    if op == ">":
        return value > target and not _eq(value, target)
    if op == ">=":
        return value >= target or _eq(value, target)
    if op == "<":
        return value < target and not _eq(value, target)
    return value <= target or _eq(value, target)


def holds(cond: m.Condition, value: float, history: History, rule: m.Rule) -> bool:
    """Whether a number condition holds for a measured value (NoHistory propagates)."""
    if isinstance(cond, m.Compare):
        return compare(cond.op, value, resolve(cond.value, history, rule))
    if isinstance(cond, m.Between):
        lo, hi = resolve(cond.low, history, rule), resolve(cond.high, history, rule)
        inside = compare(">", value, lo) and compare("<", value, hi)
        return not inside if cond.negated else inside
    if isinstance(cond, m.InSet):
        found = any(_eq(value, resolve(v, history, rule)) for v in cond.values)
        return not found if cond.negated else found
    raise RuleDefinitionError("'matches' needs a text value", location=rule.location)


def holds_time(cond: m.Condition, value: dt.datetime, now: dt.datetime, rule: m.Rule) -> bool:
    """Conditions on a timestamp (FileFreshness): operands are now()±d or date literals."""

    def ts(op: m.Operand) -> float:
        if isinstance(op, m.Now):
            return (now + op.offset).timestamp()
        if isinstance(op, m.Text):
            parsed = dt.datetime.fromisoformat(op.value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.timestamp()
        if isinstance(op, m.Duration):
            return (now - op.to_timedelta()).timestamp()
        raise RuleDefinitionError("expected a date, now() or a duration", location=rule.location)

    v = value.timestamp()
    if isinstance(cond, m.Compare):
        return compare(cond.op, v, ts(cond.value))
    if isinstance(cond, m.Between):
        lo, hi = sorted((ts(cond.low), ts(cond.high)))
        inside = lo < v < hi
        return not inside if cond.negated else inside
    raise RuleDefinitionError("unsupported condition for a timestamp", location=rule.location)
