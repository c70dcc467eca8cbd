"""Row-level DQDL conditions as SQL predicates, with AWS's NULL semantics.

A row passes when the predicate is TRUE; NULL counts as failing (callers wrap with
``count_if``/``is_true``). NULL values fail every condition except ``!=`` and ``not in``,
which they pass unless NULL itself is named (``!= NULL``, ``not in [..., NULL]``).
``between`` is exclusive and ``not between`` inclusive, as AWS's expression table says.
``matches`` must match the whole value.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from sluice.engines.base import TypeFamily
from sluice.errors import RuleDefinitionError
from sluice.quality import model as m
from sluice.quality.sqlexpr import is_true, literal_for, regex_full, string

_OPS: dict[str, type[exp.Binary]] = {
    "=": exp.EQ, "!=": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE,
}


def _keyword_pred(x: exp.Expr, kw: m.Keyword) -> exp.Expr:
    if kw is m.Keyword.NULL:
        return exp.Is(this=x.copy(), expression=exp.Null())
    if kw is m.Keyword.EMPTY:
        return exp.EQ(this=x.copy(), expression=string(""))
    # AWS (Spark's TRIM) strips U+0020 only; a bare TRIM strips other space characters on
    # some engines (DuckDB: NBSP, U+3000 ...)
    trimmed = exp.Trim(this=x.copy(), expression=string(" "))
    return exp.and_(
        exp.EQ(this=trimmed, expression=string("")),
        exp.GT(this=exp.Length(this=x.copy()), expression=exp.Literal.number(0)),
    )


def value_predicate(
    x: exp.Expr, cond: m.Condition, family: TypeFamily, rule: m.Rule, now: dt.datetime
) -> exp.Expr:
    """The predicate ``x <cond>`` for one row."""

    def lit(v: m.Operand) -> exp.Expr:
        return literal_for(v, family, rule, now)

    if isinstance(cond, m.Compare):
        v = cond.value
        if isinstance(v, m.KeywordValue):
            pred = _keyword_pred(x, v.keyword)
            if cond.op == "=":
                return pred
            if cond.op == "!=":
                if v.keyword is m.Keyword.NULL:
                    return exp.not_(pred)
                return exp.not_(is_true(pred))
            raise RuleDefinitionError(
                f"{v.keyword.value} can only be compared with = or !=", location=rule.location
            )
        if cond.op == "!=":
            return exp.not_(is_true(exp.EQ(this=x.copy(), expression=lit(v))))
        return _OPS[cond.op](this=x.copy(), expression=lit(v))
    if isinstance(cond, m.Between):
        lo, hi = lit(cond.low), lit(cond.high)
        if cond.negated:
            return exp.or_(exp.LTE(this=x.copy(), expression=lo),
                           exp.GTE(this=x.copy(), expression=hi))
        return exp.and_(exp.GT(this=x.copy(), expression=lo), exp.LT(this=x.copy(), expression=hi))
    if isinstance(cond, m.InSet):
        keywords = [v.keyword for v in cond.values if isinstance(v, m.KeywordValue)]
        values = [lit(v) for v in cond.values if not isinstance(v, m.KeywordValue)]
        parts: list[exp.Expr] = []
        if values:
            parts.append(exp.In(this=x.copy(), expressions=values))
        parts.extend(_keyword_pred(x, kw) for kw in keywords)
        pos = exp.or_(*parts) if len(parts) > 1 else parts[0]
        return exp.not_(is_true(pos)) if cond.negated else pos
    # matches
    rx = regex_full(x.copy(), cond.pattern)
    if cond.negated:
        return exp.and_(exp.Not(this=exp.Is(this=x.copy(), expression=exp.Null())), exp.not_(rx))
    return rx


def duration_predicate(
    x: exp.Expr, cond: m.Condition, rule: m.Rule, now: dt.datetime
) -> exp.Expr:
    """``age(x) <cond>`` where age = now - x, written as a comparison of timestamps."""
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}

    def cutoff(d: m.Operand) -> m.Now:
        assert isinstance(d, m.Duration)
        return m.Now(-d.to_timedelta())

    if isinstance(cond, m.Compare):
        return value_predicate(x, m.Compare(flip[cond.op], cutoff(cond.value)),  # type: ignore[arg-type]
                               TypeFamily.TIMESTAMP, rule, now)
    if isinstance(cond, m.Between):
        # age in (lo, hi)  <=>  x in (now - hi, now - lo)
        return value_predicate(x, m.Between(cutoff(cond.high), cutoff(cond.low), cond.negated),
                               TypeFamily.TIMESTAMP, rule, now)
    raise RuleDefinitionError(
        f"DataFreshness supports comparisons and between, not {type(cond).__name__}",
        location=rule.location,
    )


TYPE_PATTERNS = {
    "INTEGER": r"\s*[-+]?[0-9]+\s*",
    "LONG": r"\s*[-+]?[0-9]+\s*",
    "BIGINT": r"\s*[-+]?[0-9]+\s*",
    "SHORT": r"\s*[-+]?[0-9]+\s*",
    "DOUBLE": r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*",
    "FLOAT": r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*",
    "DECIMAL": r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*",
    "BOOLEAN": r"\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*",
    "DATE": r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*",
    "TIMESTAMP": r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?\s*",
    "STRING": r"(.|\n)*",
}

TYPE_FAMILIES = {
    "INTEGER": {TypeFamily.INTEGER}, "LONG": {TypeFamily.INTEGER},
    "BIGINT": {TypeFamily.INTEGER}, "SHORT": {TypeFamily.INTEGER},
    "DOUBLE": {TypeFamily.FLOAT, TypeFamily.INTEGER},
    "FLOAT": {TypeFamily.FLOAT, TypeFamily.INTEGER},
    "DECIMAL": {TypeFamily.FLOAT, TypeFamily.INTEGER},
    "BOOLEAN": {TypeFamily.BOOLEAN}, "DATE": {TypeFamily.DATE},
    "TIMESTAMP": {TypeFamily.TIMESTAMP, TypeFamily.DATE},
    "STRING": set(TypeFamily),
}
