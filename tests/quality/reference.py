"""A reference evaluator of DQDL leaf rules over in-memory rows, in plain Python.

It is written independently of the SQL compiler (it only shares the parsed model) and
follows the AWS Glue Data Quality semantics that sluice documents:

* a ``where`` clause keeps the rows for which it is TRUE (NULL comparisons drop the row);
* ColumnValues: NULL fails every condition except ``!=`` and ``not in``, unless NULL itself
  is named; ``between`` is exclusive and ``not between`` inclusive; ``matches`` is a full
  match; EMPTY is ``""``; WHITESPACES_ONLY is a non-empty string of spaces (Spark's ``trim``
  removes U+0020 only);
* ColumnLength treats NULL as length 0;
* Uniqueness = rows whose value (tuple) has no NULL and occurs exactly once / all rows;
  DistinctValuesCount counts non-null distinct values; UniqueValueRatio = values occurring
  once / distinct values; Entropy is ``-sum p ln p`` over the non-null values;
* StandardDeviation / Variance are population statistics; ColumnCorrelation is Pearson's r
  over the rows where both values are non-null;
* ratio metrics on zero rows are undefined and a rule on an undefined metric fails;
* row-level rules without a threshold pass iff no row fails (vacuously on no rows); with a
  threshold the fraction of passing rows (1.0 on no rows) is compared.

Only the ``where`` forms the property tests generate are understood: ``col OP literal``,
``col is [not] null`` and conjunctions of those with ``and``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sluice.quality import model as m

Row = dict[str, Any]

ROW_VERDICT = {"ColumnValues", "ColumnLength", "DataFreshness", "IsComplete", "IsUnique",
               "IsPrimaryKey"}


@dataclass
class RefResult:
    verdict: bool
    metric: float | None
    #: rows after the where clause, and how many of them fail (row-level rules only)
    total: int | None = None
    failing: int | None = None
    failing_ids: set[int] = field(default_factory=set)
    #: absolute tolerance for comparing the metric with an engine's float arithmetic
    abs_tol: float = 0.0
    #: the numbers the verdict compared the metric (or the passing fraction) with
    operands: tuple[float, ...] = ()
    #: the value those operands were compared with (metric, or fraction under a threshold)
    judged: float | None = None


# ------------------------------------------------------------------ where clauses

_ATOM_NULL = re.compile(r"\s*(\w+)\s+is\s+(not\s+)?null\s*", re.I)
_ATOM_CMP = re.compile(r"\s*(\w+)\s*(<=|>=|<>|!=|=|<|>)\s*(.+?)\s*")


def _literal(text: str, column: str) -> Any:
    if text.startswith("'") and text.endswith("'"):
        value = text[1:-1].replace("''", "'")
        if column == "ts":
            return _parse_ts(value)
        return value
    return float(text) if any(c in text for c in ".eE") else int(text)


def where_predicate(sql: str | None) -> Callable[[Row], bool]:
    """The tiny evaluator for the where clauses the tests generate."""
    if sql is None:
        return lambda _row: True
    atoms: list[Callable[[Row], bool | None]] = []
    for part in re.split(r"\s+and\s+", sql.strip(), flags=re.I):
        null = _ATOM_NULL.fullmatch(part)
        if null:
            name, negated = null.group(1), bool(null.group(2))
            atoms.append(lambda r, n=name, neg=negated: (r[n] is None) != neg)
            continue
        cmp_ = _ATOM_CMP.fullmatch(part)
        if not cmp_:
            raise ValueError(f"the reference does not understand the where clause {sql!r}")
        name, op, lit = cmp_.group(1), cmp_.group(2), _literal(cmp_.group(3), cmp_.group(1))
        op = "!=" if op == "<>" else op

        def atom(r: Row, n: str = name, o: str = op, v: Any = lit) -> bool | None:
            x = r[n]
            if x is None:
                return None
            return _cmp(o, x, v)

        atoms.append(atom)
    # three-valued AND: the row is kept only when every atom is TRUE
    return lambda r: all(a(r) is True for a in atoms)


# ------------------------------------------------------------------ helpers


def _cmp(op: str, a: Any, b: Any) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    if op == "<":
        return bool(a < b)
    return bool(a <= b)


def _parse_ts(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


_NUMBER_TEXT = re.compile(r" *([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?) *")


def _text_to_number(s: str) -> float | None:
    """A string read as a number (the simple forms every engine agrees on), else None."""
    found = _NUMBER_TEXT.fullmatch(s)
    return float(found.group(1)) if found else None


def _number(op: m.Operand) -> float | int:
    if isinstance(op, m.Number):
        return op.value
    if isinstance(op, m.Text):
        return float(op.value)
    raise TypeError(f"not a number operand: {op!r}")


def _keyword_holds(v: Any, kw: m.Keyword) -> bool:
    if kw is m.Keyword.NULL:
        return v is None
    if not isinstance(v, str):
        return False
    if kw is m.Keyword.EMPTY:
        return v == ""
    return len(v) > 0 and v.strip(" ") == ""


def _operand_value(op: m.Operand, sample: Any, now: dt.datetime) -> Any:
    """A condition operand as a Python value comparable with the column's values."""
    if isinstance(op, m.Now):
        return now + op.offset
    if isinstance(op, m.Number):
        return op.value
    if isinstance(op, m.Text):
        if isinstance(sample, dt.datetime):
            return _parse_ts(op.value)
        if isinstance(sample, int | float):
            return float(op.value)
        return op.value
    raise TypeError(f"unexpected operand {op!r}")


def value_holds(v: Any, cond: m.Condition, kind: str, now: dt.datetime) -> bool:
    """Whether one column value satisfies a ColumnValues condition.

    ``kind`` is the column kind: "number", "string" or "timestamp"; a string column
    compared with numbers is read as numbers (unreadable strings behave as NULL).
    """
    sample: Any = {"number": 0, "string": "", "timestamp": now}[kind]
    operands = m.condition_operands(cond)
    if kind == "string" and any(isinstance(o, m.Number) for o in operands):
        v = _text_to_number(v) if v is not None else None
        sample = 0

    def val(op: m.Operand) -> Any:
        return _operand_value(op, sample, now)

    if isinstance(cond, m.Compare):
        if isinstance(cond.value, m.KeywordValue):
            hit = _keyword_holds(v, cond.value.keyword)
            return hit if cond.op == "=" else not hit
        if v is None:
            return cond.op == "!="
        return _cmp(cond.op, v, val(cond.value))
    if isinstance(cond, m.Between):
        if v is None:
            return False
        lo, hi = val(cond.low), val(cond.high)
        if cond.negated:
            return bool(v <= lo or v >= hi)
        return bool(lo < v < hi)
    if isinstance(cond, m.InSet):
        keywords = [o.keyword for o in cond.values if isinstance(o, m.KeywordValue)]
        values = [val(o) for o in cond.values if not isinstance(o, m.KeywordValue)]
        hit = (v is not None and any(v == x for x in values)) or any(
            _keyword_holds(v, k) for k in keywords)
        return not hit if cond.negated else hit
    assert isinstance(cond, m.Matches)
    if v is None:
        return False
    # Java/RE2 character classes (\d, \s, \w) are ASCII; a full match of the whole value
    full = re.fullmatch(cond.pattern, str(v), flags=re.ASCII) is not None
    return not full if cond.negated else full


def number_holds(cond: m.Condition, value: float) -> bool:
    """A number condition on a measured metric (plain float comparison)."""
    if isinstance(cond, m.Compare):
        return _cmp(cond.op, value, _number(cond.value))
    if isinstance(cond, m.Between):
        inside = _number(cond.low) < value < _number(cond.high)
        return not inside if cond.negated else inside
    if isinstance(cond, m.InSet):
        found = any(value == _number(o) for o in cond.values)
        return not found if cond.negated else found
    raise TypeError(f"not a number condition: {cond!r}")


def _number_operands(cond: m.Condition | None) -> tuple[float, ...]:
    if cond is None:
        return ()
    return tuple(float(_number(o)) for o in m.condition_operands(cond))


def _freshness_holds(v: dt.datetime | None, cond: m.Condition, now: dt.datetime) -> bool:
    if v is None:
        return False
    age = now - v

    def d(op: m.Operand) -> dt.timedelta:
        assert isinstance(op, m.Duration)
        return op.to_timedelta()

    if isinstance(cond, m.Compare):
        return _cmp(cond.op, age, d(cond.value))
    assert isinstance(cond, m.Between)
    lo, hi = d(cond.low), d(cond.high)
    if cond.negated:
        return age <= lo or age >= hi
    return lo < age < hi


def _exact(values: Sequence[float | int]) -> list[Fraction]:
    # the engines aggregate DOUBLEs: an integer is first rounded to the nearest double
    return [Fraction(float(v)) for v in values]


def _variance(xs: list[Fraction]) -> Fraction:
    n = len(xs)
    mean = sum(xs, Fraction(0)) / n
    return sum(((x - mean) ** 2 for x in xs), Fraction(0)) / n


# ------------------------------------------------------------------ rules


def evaluate_rule(rows: Sequence[Row], rule: m.Rule, now: dt.datetime,
                  kinds: dict[str, str]) -> RefResult:
    """Evaluate a leaf rule on ``rows`` (each row has an ``id``); ``kinds`` maps column
    names to "number", "string" or "timestamp"."""
    keep = where_predicate(rule.where)
    kept = [r for r in rows if keep(r)]
    t = rule.type

    # ---- row-level rules: a per-row predicate
    row_pred: Callable[[Row], bool] | None = None
    if t in {"Completeness", "IsComplete"}:
        col = rule.params[0]
        row_pred = lambda r: r[col] is not None  # noqa: E731
    elif t in {"Uniqueness", "IsUnique", "IsPrimaryKey"}:
        cols = rule.params
        keys = [tuple(r[c] for c in cols) for r in kept]
        counts = Counter(k for k in keys if None not in k)
        row_pred = lambda r: (  # noqa: E731
            None not in (k := tuple(r[c] for c in cols)) and counts[k] == 1)
    elif t == "ColumnValues":
        col = rule.params[0]
        assert rule.condition is not None
        cond, kind = rule.condition, kinds[col]
        row_pred = lambda r: value_holds(r[col], cond, kind, now)  # noqa: E731
    elif t == "ColumnLength":
        col = rule.params[0]
        assert rule.condition is not None
        cond = rule.condition
        row_pred = lambda r: value_holds(  # noqa: E731
            len(str(r[col])) if r[col] is not None else 0, cond, "number", now)
    elif t == "DataFreshness":
        col = rule.params[0]
        assert rule.condition is not None
        cond = rule.condition
        row_pred = lambda r: _freshness_holds(r[col], cond, now)  # noqa: E731

    if row_pred is not None:
        failing_ids = {r["id"] for r in kept if not row_pred(r)}
        total, failing = len(kept), len(failing_ids)
        passed = total - failing
        metric = passed / total if total else None
        if t in ROW_VERDICT:
            if rule.threshold is not None:
                frac = passed / total if total else 1.0
                verdict = number_holds(rule.threshold, frac)
                ops, judged = _number_operands(rule.threshold), frac
            else:
                verdict, ops, judged = failing == 0, (), None
        else:  # Completeness, Uniqueness: the ratio is compared with the condition
            assert rule.condition is not None
            verdict = metric is not None and number_holds(rule.condition, metric)
            ops, judged = _number_operands(rule.condition), metric
        return RefResult(verdict, metric, total, failing, failing_ids, abs_tol=1e-12,
                         operands=ops, judged=judged)

    # ---- dataset-level metrics
    value: float | None
    tol = 1e-12
    if t == "RowCount":
        value = float(len(kept))
    elif t in {"DistinctValuesCount", "UniqueValueRatio", "Entropy"}:
        cols = rule.params
        counts = Counter(k for r in kept if None not in (k := tuple(r[c] for c in cols)))
        if t == "DistinctValuesCount":
            value = float(len(counts))
        elif t == "UniqueValueRatio":
            singles = sum(1 for c in counts.values() if c == 1)
            value = singles / len(counts) if counts else None
        else:
            n = sum(counts.values())
            value = (max(0.0, -math.fsum(c / n * math.log(c / n) for c in counts.values()))
                     if n else None)
            tol = 1e-9
    elif t == "ColumnCorrelation":
        a, b = rule.params
        pairs = [(r[a], r[b]) for r in kept if r[a] is not None and r[b] is not None]
        value = None
        if pairs:
            xs, ys = _exact([p[0] for p in pairs]), _exact([p[1] for p in pairs])
            vx, vy = _variance(xs), _variance(ys)
            if vx > 0 and vy > 0:
                mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
                cov = sum(((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)),
                          Fraction(0)) / len(xs)
                value = float(cov) / math.sqrt(float(vx)) / math.sqrt(float(vy))
        tol = 1e-6
    else:  # Mean, Sum, StandardDeviation, Variance over the non-null values
        col = rule.params[0]
        xs = _exact([r[col] for r in kept if r[col] is not None])
        value = None
        if xs:
            mags = sum((abs(x) for x in xs), Fraction(0))
            squares = sum((x * x for x in xs), Fraction(0)) / len(xs)
            if t == "Sum":
                value, tol = float(sum(xs, Fraction(0))), 1e-12 * float(mags)
            elif t == "Mean":
                value, tol = float(sum(xs, Fraction(0)) / len(xs)), 1e-12 * float(mags)
            elif t == "Variance":
                value, tol = float(_variance(xs)), 1e-10 * float(squares)
            else:
                value = math.sqrt(float(_variance(xs)))
                tol = math.sqrt(1e-10 * float(squares))
    assert rule.condition is not None
    verdict = value is not None and number_holds(rule.condition, value)
    return RefResult(verdict, value, abs_tol=tol, operands=_number_operands(rule.condition),
                     judged=value)
