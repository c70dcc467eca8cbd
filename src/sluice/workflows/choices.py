"""Choice rules of JSONPath-mode states: the comparators, ``And``/``Or``/``Not`` and the
``Is…`` type tests, as the ASL specification defines them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sluice.workflows.data import Scope, select
from sluice.workflows.errors import runtime

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_MISSING = object()
_ORDER = {"Equals": lambda a, b: a == b, "LessThan": lambda a, b: a < b,
          "GreaterThan": lambda a, b: a > b, "LessThanEquals": lambda a, b: a <= b,
          "GreaterThanEquals": lambda a, b: a >= b}


def matches(rule: Mapping[str, Any], data: Any, scope: Scope) -> bool:
    """Whether a Choice rule holds for a state's (effective) input."""
    if "And" in rule:
        return all(matches(r, data, scope) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data, scope) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data, scope)
    variable = rule["Variable"]
    op = next(k for k in rule if k not in ("Variable", "Next", "Comment", "Assign"))
    expected = rule[op]
    if op == "IsPresent":
        return _present(variable, data, scope) is expected
    value = select(variable, data, scope, field="Variable")
    if op.startswith("Is"):
        return _is(op, value) is expected
    if op.endswith("Path"):
        op = op[:-4]
        expected = select(expected, data, scope, field=op + "Path")
    return _compare(op, value, expected)


def _present(variable: str, data: Any, scope: Scope) -> bool:
    from sluice.workflows.errors import StatesError

    try:
        found = select(variable, data, scope, field="Variable")
    except StatesError:
        return False
    return not (isinstance(found, list) and not found and _indefinite(variable))


def _indefinite(path: str) -> bool:
    return any(c in path for c in "*?") or ".." in path or ":" in path


def _is(op: str, value: Any) -> bool:
    if op == "IsNull":
        return value is None
    if op == "IsNumeric":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if op == "IsString":
        return isinstance(value, str)
    if op == "IsBoolean":
        return isinstance(value, bool)
    if op == "IsTimestamp":
        return isinstance(value, str) and _timestamp(value) is not None
    raise runtime(f"unknown type test {op}")


def _compare(op: str, value: Any, expected: Any) -> bool:
    for family, check in (("String", _string), ("Numeric", _number), ("Boolean", _boolean),
                          ("Timestamp", _timestamp)):
        if op.startswith(family):
            relation = op[len(family):]
            if family == "String" and relation == "Matches":
                return isinstance(value, str) and _wildcard_match(expected, value)
            left, right = check(value), check(expected)
            if left is None or right is None:
                return False  # a value of another type never matches
            return bool(_ORDER[relation](left, right))
    raise runtime(f"unknown comparator {op}")


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _pieces(pattern: str) -> tuple[str, ...]:
    """A StringMatches pattern split at its unescaped ``*`` (``\\*`` and ``\\\\`` are
    literal)."""
    pieces, current, i = [], [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            current.append(pattern[i + 1])
            i += 2
            continue
        if char == "*":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    pieces.append("".join(current))
    return tuple(pieces)


def _wildcard_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches: the first piece a prefix, the last a suffix, the others
    found in order between them (greedy leftmost is exact for ``*``; linear time)."""
    pieces = _pieces(pattern)
    if len(pieces) == 1:
        return value == pieces[0]
    first, *middle, last = pieces
    if not value.startswith(first) or len(value) < len(first) + len(last) or \
            not value.endswith(last):
        return False
    at, end = len(first), len(value) - len(last)
    for piece in middle:
        found = value.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True
