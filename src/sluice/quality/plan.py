"""Compile rules into what they need from the engine, and turn answers into measurements.

Each leaf rule becomes a :class:`RulePlan`: the aggregates it needs from the shared scan of
the dataset (deduplicated across rules), the uniqueness statistics it needs (one GROUP BY per
distinct column set and filter), or a query of its own (CustomSql, cross-dataset rules); and a
``finish`` function that reads those values back into a :class:`Measurement`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from sluice.engines.base import Column, TypeFamily
from sluice.errors import RuleDefinitionError
from sluice.quality import model as m
from sluice.quality import sqlexpr as sx
from sluice.quality.predicates import (
    TYPE_FAMILIES,
    TYPE_PATTERNS,
    duration_predicate,
    value_predicate,
)
from sluice.quality.rules import ConditionKind, spec_for


class ColumnNotFound(RuleDefinitionError):
    """A rule names a column the dataset does not have."""


@dataclass
class Measurement:
    """What a rule measured. ``value`` is compared with the condition; ``passed``/``total``
    are row counts of row-level rules; ``verdict`` decides rules without a condition."""

    metrics: dict[str, float | None] = field(default_factory=dict)
    value: float | None = None
    passed: int | None = None
    total: int | None = None
    verdict: bool | None = None
    message: str = ""


Values = Mapping[str, Any]


@dataclass
class GroupKey:
    columns: tuple[str, ...]
    where: exp.Expr | None

    def key(self) -> tuple[tuple[str, ...], str | None]:
        return self.columns, self.where.sql() if self.where is not None else None


@dataclass
class RulePlan:
    rule: m.Rule
    metric: str  # the metric that dynamic conditions and anomaly detection read history of
    scan: dict[str, exp.Expr] = field(default_factory=dict)
    group: GroupKey | None = None
    query: exp.Expr | None = None
    finish: Callable[[Values, Values, list[tuple[Any, ...]]], Measurement] = (
        lambda s, g, q: Measurement()
    )
    #: rows failing the rule, for samples (a query over the primary dataset)
    failing: exp.Expr | None = None


@dataclass
class Context:
    columns: list[Column]
    now: dt.datetime
    references: Mapping[str, list[Column]]
    data_location: str = ""

    def column(self, name: str, rule: m.Rule) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        lowered = [c for c in self.columns if c.name.lower() == name.lower()]
        if len(lowered) == 1:
            return lowered[0]
        names = [c.name for c in self.columns]
        close = difflib.get_close_matches(name, names, n=1)
        raise ColumnNotFound(
            f"column {name!r} does not exist (columns: {', '.join(names)})",
            location=rule.location,
            tip=f"did you mean {close[0]!r}?" if close else "check the column name",
        )

    def ref_columns(self, alias: str, rule: m.Rule) -> list[Column]:
        if alias not in self.references:
            known = ", ".join(sorted(self.references)) or "none given"
            raise RuleDefinitionError(
                f"{rule.type} needs the reference dataset {alias!r} (references: {known})",
                location=rule.location,
                tip=f"pass --ref {alias}=PATH_OR_TABLE",
            )
        return self.references[alias]


def ref_table(alias: str) -> str:
    return f"sluice_ref_{re.sub(r'[^A-Za-z0-9_]', '_', alias)}"


def _metric_name(rule: m.Rule, kind: str = "") -> str:
    name = kind or rule.type
    if rule.type in {"RowCount", "ColumnCount", "CustomSql"}:
        base = f"Dataset.*.{'CustomSQL' if rule.type == 'CustomSql' else name}"
    elif rule.type in {"RowCountMatch", "SchemaMatch", "DatasetMatch"}:
        base = f"Dataset.{rule.params[0]}.{name}"
    elif len(rule.params) > 1 and rule.type not in {"ReferentialIntegrity", "AggregateMatch"}:
        base = f"Multicolumn.{','.join(rule.params)}.{name}"
    elif rule.params:
        base = f"Column.{rule.params[0]}.{name}"
    else:
        base = f"Dataset.*.{name}"
    return f"{base} where {rule.where}" if rule.where else base


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def _f(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def _rows_key(where: exp.Expr | None) -> tuple[str, exp.Expr]:
    if where is None:
        return "rows", exp.Count(this=exp.Star())
    return f"rows where {where.sql()}", sx.count_if(where)


# ------------------------------------------------------------------ handlers


def plan_rule(rule: m.Rule, ctx: Context) -> RulePlan:
    spec = spec_for(rule.type, rule.location)
    handler = _HANDLERS[spec.name]
    return handler(rule, ctx)


def _row_level(
    rule: m.Rule, ctx: Context, pred: exp.Expr, metric: str,
    extra: dict[str, exp.Expr] | None = None,
) -> RulePlan:
    where = sx.parse_where(rule.where, rule)
    rows_key, rows_expr = _rows_key(where)
    pass_key = f"pass {pred.sql()} {rows_key}"
    scan = {rows_key: rows_expr, pass_key: sx.count_if(sx.both(where, pred))}
    scan.update(extra or {})

    def finish(s: Values, _g: Values, _q: list[tuple[Any, ...]]) -> Measurement:
        total, passed = int(s[rows_key] or 0), int(s[pass_key] or 0)
        metrics: dict[str, float | None] = {metric: _ratio(passed, total)}
        for k in extra or {}:
            metrics[k] = _f(s[k])
        return Measurement(metrics=metrics, value=_ratio(passed, total), passed=passed,
                           total=total)

    failing = exp.select("*").from_(sx.PRIMARY).where(
        sx.both(where, exp.not_(sx.is_true(pred)))
    )
    return RulePlan(rule, metric, scan=scan, finish=finish, failing=failing)


def _rowcount(rule: m.Rule, ctx: Context) -> RulePlan:
    where = sx.parse_where(rule.where, rule)
    key, expr = _rows_key(where)
    metric = _metric_name(rule)

    def finish(s: Values, _g: Values, _q: list[tuple[Any, ...]]) -> Measurement:
        n = _f(s[key])
        return Measurement(metrics={metric: n}, value=n)

    return RulePlan(rule, metric, scan={key: expr}, finish=finish)


def _completeness(rule: m.Rule, ctx: Context) -> RulePlan:
    c = ctx.column(rule.params[0], rule)
    pred = exp.not_(exp.Is(this=sx.col(c.name), expression=exp.Null()))
    return _row_level(rule, ctx, pred, _metric_name(rule, "Completeness"))


def _aggregate(kind: str) -> Callable[[m.Rule, Context], RulePlan]:
    def handler(rule: m.Rule, ctx: Context) -> RulePlan:
        where = sx.parse_where(rule.where, rule)
        cols = [ctx.column(p, rule) for p in rule.params]
        for c in cols:
            if not (c.family.numeric or c.family is TypeFamily.BOOLEAN):
                raise RuleDefinitionError(
                    f"{rule.type} needs a numeric column; {c.name!r} is {c.type}",
                    location=rule.location,
                )
        # booleans go through INT: PostgreSQL cannot cast boolean to double
        xs = [sx.masked(sx.as_double(exp.cast(sx.col(c.name), exp.DataType.build("INT"))
                                     if c.family is TypeFamily.BOOLEAN else sx.col(c.name)),
                        where) for c in cols]
        if kind == "Mean":
            agg: exp.Expr = exp.Avg(this=xs[0])
        elif kind == "Sum":
            agg = exp.Sum(this=xs[0])
        elif kind == "StandardDeviation":
            agg = exp.StddevPop(this=xs[0])
        elif kind == "Variance":
            agg = exp.VariancePop(this=xs[0])
        else:  # ColumnCorrelation; rows where either value is NULL are left out
            agg = exp.Corr(this=xs[0], expression=xs[1])
        metric = _metric_name(rule)
        key = f"{kind} {agg.sql()}"

        def finish(s: Values, _g: Values, _q: list[tuple[Any, ...]]) -> Measurement:
            v = _f(s[key])
            return Measurement(metrics={metric: v}, value=v,
                               message="" if v is not None else "no non-null values")

        return RulePlan(rule, metric, scan={key: agg}, finish=finish)

    return handler


def _column_values(rule: m.Rule, ctx: Context) -> RulePlan:
    c = ctx.column(rule.params[0], rule)
    assert rule.condition is not None
    x: exp.Expr = sx.col(c.name)
    needs_number = any(isinstance(v, m.Number) for v in m.condition_operands(rule.condition))
    family = c.family
    if needs_number and family is TypeFamily.STRING:
        x, family = sx.try_double(x), TypeFamily.FLOAT
    pred = value_predicate(x, rule.condition, family, rule, ctx.now)
    extra: dict[str, exp.Expr] = {}
    if c.family.numeric:
        extra = {f"Column.{c.name}.Minimum": exp.Min(this=sx.col(c.name)),
                 f"Column.{c.name}.Maximum": exp.Max(this=sx.col(c.name))}
    return _row_level(rule, ctx, pred, _metric_name(rule, "ColumnValues.Compliance"), extra)


def _column_length(rule: m.Rule, ctx: Context) -> RulePlan:
    c = ctx.column(rule.params[0], rule)
    assert rule.condition is not None
    # AWS treats a NULL as length 0: `> 4` fails it, `< 6` passes it.
    length = exp.Coalesce(
        this=exp.Length(this=exp.cast(sx.col(c.name), exp.DataType.build("TEXT"))),
        expressions=[exp.Literal.number(0)],
    )
    pred = value_predicate(length, rule.condition, TypeFamily.INTEGER, rule, ctx.now)
    extra: dict[str, exp.Expr] = {f"Column.{c.name}.MinimumLength": exp.Min(this=length.copy()),
             f"Column.{c.name}.MaximumLength": exp.Max(this=length.copy())}
    return _row_level(rule, ctx, pred, _metric_name(rule, "ColumnLength.Compliance"), extra)


def _data_freshness(rule: m.Rule, ctx: Context) -> RulePlan:
    c = ctx.column(rule.params[0], rule)
    assert rule.condition is not None
    if not c.family.temporal:
        raise RuleDefinitionError(
            f"DataFreshness needs a date or timestamp column; {c.name!r} is {c.type}",
            location=rule.location,
        )
    pred = duration_predicate(sx.col(c.name), rule.condition, rule, ctx.now)
    return _row_level(rule, ctx, pred, _metric_name(rule, "DataFreshness.Compliance"))


def _column_data_type(rule: m.Rule, ctx: Context) -> RulePlan:
    c = ctx.column(rule.params[0], rule)
    assert rule.condition is not None
    wanted = [str(v.value).upper() for v in m.condition_operands(rule.condition)
              if isinstance(v, m.Text)]
    unknown = [w for w in wanted if w not in TYPE_PATTERNS]
    if unknown:
        raise RuleDefinitionError(
            f"unknown type {unknown[0]!r} for ColumnDataType",
            location=rule.location,
            tip=f"use one of {', '.join(sorted(TYPE_PATTERNS))}",
        )
    matches_family = any(c.family in TYPE_FAMILIES[w] for w in wanted)
    negated = isinstance(rule.condition, m.InSet) and rule.condition.negated
    negated = negated or (isinstance(rule.condition, m.Compare) and rule.condition.op == "!=")
    if c.family is TypeFamily.STRING and not all(w == "STRING" for w in wanted):
        checks = [sx.regex_full(sx.col(c.name), TYPE_PATTERNS[w]) for w in wanted]
        conforms: exp.Expr = exp.or_(*checks) if len(checks) > 1 else checks[0]
    else:
        conforms = exp.true() if matches_family else exp.false()
    if negated:
        conforms = exp.not_(sx.is_true(conforms))
    # NULLs carry no type; they pass
    pred = exp.or_(exp.Is(this=sx.col(c.name), expression=exp.Null()), exp.paren(conforms))
    return _row_level(rule, ctx, pred, _metric_name(rule, "ColumnDataType.Compliance"))


def _group_rule(rule: m.Rule, ctx: Context) -> RulePlan:
    cols = tuple(ctx.column(p, rule).name for p in rule.params)
    where = sx.parse_where(rule.where, rule)
    rows_key, rows_expr = _rows_key(where)
    group = GroupKey(cols, where)
    metric = _metric_name(rule, {"IsUnique": "Uniqueness", "IsPrimaryKey": "Uniqueness"}.get(
        rule.type, rule.type))
    scan = {rows_key: rows_expr}
    nulls_key = ""
    if rule.type == "IsPrimaryKey":
        any_null = exp.or_(*[exp.Is(this=sx.col(c), expression=exp.Null()) for c in cols])
        nulls_key = f"nulls {any_null.sql()} {rows_key}"
        scan[nulls_key] = sx.count_if(sx.both(where, any_null))

    def finish(s: Values, g: Values, _q: list[tuple[Any, ...]]) -> Measurement:
        total = int(s[rows_key] or 0)
        groups, singles = int(g["groups"] or 0), int(g["singles"] or 0)
        n, clnc = int(g["n"] or 0), _f(g["clnc"]) or 0.0
        t = rule.type
        if t == "DistinctValuesCount":
            return Measurement(metrics={metric: float(groups)}, value=float(groups))
        if t == "UniqueValueRatio":
            v = _ratio(singles, groups)
            return Measurement(metrics={metric: v}, value=v)
        if t == "Entropy":
            v = (math.log(n) - clnc / n) if n else None
            if v is not None:
                v = max(v, 0.0)
            return Measurement(metrics={metric: v}, value=v)
        uniq = _ratio(singles, total)
        metrics: dict[str, float | None] = {metric: uniq}
        if t == "IsPrimaryKey":
            nulls = int(s[nulls_key] or 0)
            metrics[_metric_name(rule, "Completeness")] = _ratio(total - nulls, total)
        return Measurement(metrics=metrics, value=uniq, passed=singles, total=total)

    # Rows in duplicate groups, found by joining the (small) set of duplicate keys rather than
    # a window over the whole table: the aggregation reads only the key columns, and the
    # probe side can stop at the sample limit.
    not_null = exp.and_(*[exp.not_(exp.Is(this=sx.col(c), expression=exp.Null())) for c in cols])
    dups = (
        exp.select(*[sx.col(c) for c in cols],
                   exp.alias_(exp.Literal.number(1), "sluice_dup"))
        .from_(sx.PRIMARY)
        .where(sx.both(where, not_null))
        .group_by(*[sx.col(c) for c in cols])
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    on = exp.and_(*[exp.EQ(this=sx.col(c, "p"), expression=sx.col(c, "d")) for c in cols])
    null_any = exp.or_(*[exp.Is(this=sx.col(c, "p"), expression=exp.Null()) for c in cols])
    is_dup = exp.EQ(this=exp.column("sluice_dup", "d"), expression=exp.Literal.number(1))
    failing = (
        exp.select(*[sx.col(c.name, "p") for c in ctx.columns])
        .from_(exp.to_table(sx.PRIMARY).as_("p"))
        .join(dups.subquery("d"), on=on, join_type="left")
        .where(sx.both(_qualify(where, "p") if where is not None else None,
                       exp.or_(is_dup, null_any)))
    )
    plan = RulePlan(rule, metric, scan=scan, group=group, finish=finish)
    if rule.type in {"IsUnique", "IsPrimaryKey", "Uniqueness"}:
        plan.failing = failing
    return plan


def _schema_rule(rule: m.Rule, ctx: Context) -> RulePlan:
    names = [c.name for c in ctx.columns]
    metric = _metric_name(rule)

    def finish(_s: Values, _g: Values, _q: list[tuple[Any, ...]]) -> Measurement:
        if rule.type == "ColumnCount":
            return Measurement(metrics={metric: float(len(names))}, value=float(len(names)))
        if rule.type == "ColumnExists":
            ok = rule.params[0] in names
            return Measurement(verdict=ok, message="" if ok else f"columns are {', '.join(names)}")
        try:
            rx = re.compile(rule.params[0])
        except re.error as exc:
            raise RuleDefinitionError(f"invalid regex {rule.params[0]!r}: {exc}",
                                      location=rule.location) from exc
        bad = [n for n in names if not rx.fullmatch(n)]
        ratio = _ratio(len(names) - len(bad), len(names))
        return Measurement(
            metrics={"Dataset.*.ColumnNamesPatternMatchRatio": ratio}, verdict=not bad,
            message=f"not matching: {', '.join(bad)}" if bad else "",
        )

    return RulePlan(rule, metric, finish=finish)


def _rewrite_primary(sql: str, rule: m.Rule) -> exp.Expr:
    parsed, tables = sx.parse_custom_sql(sql, rule)
    for node in tables:  # the tables it reads, not its CTEs; none is qualified
        if node.name.lower() == "primary":
            node.replace(exp.to_table(sx.PRIMARY).as_(node.alias or "primary"))
        else:
            node.replace(exp.to_table(ref_table(node.name)).as_(node.alias or node.name))

    def quote_primary(node: exp.Expr) -> exp.Expr:
        # PRIMARY is a reserved word in PostgreSQL: as an alias it must be quoted
        if isinstance(node, exp.Identifier) and node.name.lower() == "primary":
            return exp.to_identifier("primary", quoted=True)
        return node

    return parsed.transform(quote_primary)


def _custom_sql(rule: m.Rule, ctx: Context) -> RulePlan:
    stmt = _rewrite_primary(rule.params[0], rule)
    metric = _metric_name(rule)
    if rule.condition is not None:
        def finish(_s: Values, _g: Values, q: list[tuple[Any, ...]]) -> Measurement:
            if not q or len(q[0]) == 0:
                return Measurement(message="the statement returned no rows")
            if len(q) > 1 or len(q[0]) > 1:
                raise RuleDefinitionError(
                    "CustomSql with a condition must return one value (one row, one column)",
                    location=rule.location,
                )
            v = _f(q[0][0])
            return Measurement(metrics={metric: v}, value=v)

        return RulePlan(rule, metric, query=stmt, finish=finish)
    # row-level form: the statement selects the rows that pass
    rows_key, rows_expr = _rows_key(None)
    count = exp.select(exp.Count(this=exp.Star())).from_(exp.paren(stmt).as_("sluice_t"))

    def finish_rows(s: Values, _g: Values, q: list[tuple[Any, ...]]) -> Measurement:
        total, passed = int(s[rows_key] or 0), int(q[0][0] or 0)
        return Measurement(metrics={metric: _ratio(passed, total)}, value=_ratio(passed, total),
                           passed=passed, total=total)

    return RulePlan(rule, metric, scan={rows_key: rows_expr}, query=count, finish=finish_rows)


def _split_cols(spec: str) -> tuple[str | None, list[str]]:
    """ "ref.{a,b}" -> ("ref", [a, b]); "ref.a" -> ("ref", [a]); "a,b" -> (None, [a, b])."""
    spec = spec.strip()
    brace = re.fullmatch(r"([^.{}]+)\.\{(.*)\}", spec)
    if brace:
        return brace.group(1), [c.strip() for c in brace.group(2).split(",")]
    if "." in spec:
        alias, _, rest = spec.partition(".")
        return alias, [c.strip() for c in rest.split(",")]
    return None, [c.strip() for c in spec.split(",")]


def _referential_integrity(rule: m.Rule, ctx: Context) -> RulePlan:
    p_alias, p_cols = _split_cols(rule.params[0])
    if p_alias not in {None, "primary"}:
        p_cols = [f"{p_alias}.{c}" for c in p_cols] if "{" not in rule.params[0] else p_cols
    r_alias, r_cols = _split_cols(rule.params[1])
    if r_alias is None:
        raise RuleDefinitionError(
            'the second parameter names the reference: "reference.col"', location=rule.location
        )
    ref_cols = {c.name for c in ctx.ref_columns(r_alias, rule)}
    if len(r_cols) != len(p_cols):
        raise RuleDefinitionError(
            f"{len(p_cols)} primary column(s) against {len(r_cols)} reference column(s)",
            location=rule.location,
        )
    for c in r_cols:
        if c not in ref_cols:
            raise ColumnNotFound(f"reference {r_alias!r} has no column {c!r}",
                                 location=rule.location)
    p_names = [ctx.column(c, rule).name for c in p_cols]
    keys = exp.select(*[sx.col(c) for c in r_cols], exp.alias_(exp.Literal.number(1), "sluice_hit"))
    keys = keys.distinct().from_(ref_table(r_alias))
    on = exp.and_(*[exp.EQ(this=sx.col(pc, "p"), expression=sx.col(rc, "r"))
                    for pc, rc in zip(p_names, r_cols, strict=True)])
    where = sx.parse_where(rule.where, rule)
    hit = exp.EQ(this=exp.column("sluice_hit", "r"), expression=exp.Literal.number(1))
    query = (
        exp.select(exp.Count(this=exp.Star()), sx.count_if(hit))
        .from_(exp.to_table(sx.PRIMARY).as_("p"))
        .join(keys.subquery("r"), on=on, join_type="left")
    )
    if where is not None:
        query = query.where(_qualify(where, "p"))
    metric = _metric_name(rule, "ReferentialIntegrity")

    def finish(_s: Values, _g: Values, q: list[tuple[Any, ...]]) -> Measurement:
        total, passed = int(q[0][0] or 0), int(q[0][1] or 0)
        v = _ratio(passed, total)
        return Measurement(metrics={metric: v}, value=v, passed=passed, total=total)

    failing = (
        exp.select(*[sx.col(c.name, "p") for c in ctx.columns])
        .from_(exp.to_table(sx.PRIMARY).as_("p"))
        .join(keys.subquery("r"), on=on.copy(), join_type="left")
        .where(sx.both(_qualify(where, "p") if where is not None else None,
                       exp.Is(this=exp.column("sluice_hit", "r"), expression=exp.Null())))
    )
    return RulePlan(rule, metric, query=query, finish=finish, failing=failing)


def _qualify(where: exp.Expr, table: str) -> exp.Expr:
    def q(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table:
            return exp.column(node.name, table=table, quoted=True)
        return node

    return where.copy().transform(q)


def _row_count_match(rule: m.Rule, ctx: Context) -> RulePlan:
    alias = rule.params[0]
    ctx.ref_columns(alias, rule)
    where = sx.parse_where(rule.where, rule)
    left = exp.select(exp.Count(this=exp.Star())).from_(sx.PRIMARY)
    if where is not None:
        left = left.where(where)
    right = exp.select(exp.Count(this=exp.Star())).from_(ref_table(alias))
    query = exp.select(left.subquery(), right.subquery())
    metric = _metric_name(rule)

    def finish(_s: Values, _g: Values, q: list[tuple[Any, ...]]) -> Measurement:
        v = _ratio(q[0][0], q[0][1])
        return Measurement(metrics={metric: v}, value=v)

    return RulePlan(rule, metric, query=query, finish=finish)


_AGG_FUNCS: dict[str, type[exp.Func]] = {"sum": exp.Sum, "avg": exp.Avg, "count": exp.Count,
                                         "min": exp.Min, "max": exp.Max}


def _agg_side(spec: str, rule: m.Rule, ctx: Context) -> exp.Expr:
    found = re.fullmatch(r"\s*(\w+)\s*\(\s*([^()]+?)\s*\)\s*", spec)
    if not found or found.group(1).lower() not in _AGG_FUNCS:
        raise RuleDefinitionError(
            f"AggregateMatch expects sum(col), avg(col), count(col), min(col) or max(col), "
            f"got {spec!r}", location=rule.location)
    fn, arg = _AGG_FUNCS[found.group(1).lower()], found.group(2)
    alias, cols = _split_cols(arg)
    if alias in {None, "primary"}:
        name, table = ctx.column(cols[0], rule).name, sx.PRIMARY
    else:
        assert alias is not None
        if cols[0] not in {c.name for c in ctx.ref_columns(alias, rule)}:
            raise ColumnNotFound(f"reference {alias!r} has no column {cols[0]!r}",
                                 location=rule.location)
        name, table = cols[0], ref_table(alias)
    arg = sx.col(name) if fn is exp.Count else sx.as_double(sx.col(name))  # count any type
    return exp.select(fn(this=arg)).from_(table).subquery()


def _aggregate_match(rule: m.Rule, ctx: Context) -> RulePlan:
    query = exp.select(_agg_side(rule.params[0], rule, ctx), _agg_side(rule.params[1], rule, ctx))
    metric = _metric_name(rule, "AggregateMatch")

    def finish(_s: Values, _g: Values, q: list[tuple[Any, ...]]) -> Measurement:
        a, b = _f(q[0][0]), _f(q[0][1])
        v = 1.0 if a == b == 0 else _ratio(a, b)
        return Measurement(metrics={metric: v}, value=v)

    return RulePlan(rule, metric, query=query, finish=finish)


def _mapping(spec: str) -> list[tuple[str, str]]:
    out = []
    for part in spec.split(","):
        left, _, right = part.partition("->")
        out.append((left.strip(), (right or left).strip()))
    return out


def _dataset_match(rule: m.Rule, ctx: Context) -> RulePlan:
    alias = rule.params[0]
    ref_names = [c.name for c in ctx.ref_columns(alias, rule)]
    keys = _mapping(rule.params[1])
    for pk, rk in keys:
        ctx.column(pk, rule)
        if rk not in ref_names:
            raise ColumnNotFound(f"reference {alias!r} has no column {rk!r}",
                                 location=rule.location)
    if len(rule.params) > 2:
        pairs = _mapping(rule.params[2])
    else:
        key_cols = {k for k, _ in keys}
        pairs = [(c.name, c.name) for c in ctx.columns
                 if c.name not in key_cols and c.name in ref_names]
    on = exp.and_(*[exp.EQ(this=sx.col(p, "p"), expression=sx.col(r, "r")) for p, r in keys])
    same = [exp.NullSafeEQ(this=sx.col(p, "p"), expression=sx.col(r, "r")) for p, r in pairs]
    hit = exp.EQ(this=exp.column("sluice_hit", "r"), expression=exp.Literal.number(1))
    matched = exp.and_(hit, *same) if same else hit
    ref = exp.select(exp.Star(), exp.alias_(exp.Literal.number(1), "sluice_hit")).from_(
        ref_table(alias))
    query = (
        exp.select(exp.Count(this=exp.Star()), sx.count_if(matched))
        .from_(exp.to_table(sx.PRIMARY).as_("p"))
        .join(ref.subquery("r"), on=on, join_type="left")
    )
    metric = _metric_name(rule)

    def finish(_s: Values, _g: Values, q: list[tuple[Any, ...]]) -> Measurement:
        v = _ratio(q[0][1], q[0][0])
        return Measurement(metrics={metric: v}, value=v)

    return RulePlan(rule, metric, query=query, finish=finish)


def _schema_match(rule: m.Rule, ctx: Context) -> RulePlan:
    ref = {c.name: c.family for c in ctx.ref_columns(rule.params[0], rule)}
    mine = {c.name: c.family for c in ctx.columns}
    metric = _metric_name(rule)

    def finish(_s: Values, _g: Values, _q: list[tuple[Any, ...]]) -> Measurement:
        same = sum(1 for n, f in mine.items() if ref.get(n) == f)
        v = _ratio(same, len(set(mine) | set(ref)))
        diff = sorted((set(mine) ^ set(ref)) | {n for n in mine if n in ref and ref[n] != mine[n]})
        return Measurement(metrics={metric: v}, value=v,
                           message=f"differs on: {', '.join(diff)}" if diff else "")

    return RulePlan(rule, metric, finish=finish)


def _file_freshness(rule: m.Rule, ctx: Context) -> RulePlan:
    path = Path(rule.params[0])
    metric = _metric_name(rule, "FileFreshness.Compliance")
    assert rule.condition is not None

    def finish(_s: Values, _g: Values, _q: list[tuple[Any, ...]]) -> Measurement:
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else (
            [path] if path.is_file() else [])
        if not files:
            return Measurement(verdict=False, message=f"no files at {path}")
        from sluice.quality.conditions import holds_time

        stamps = [dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC) for p in files]
        cond = rule.condition
        assert cond is not None
        passed = sum(1 for s in stamps if holds_time(cond, s, ctx.now, rule))
        v = _ratio(passed, len(files))
        return Measurement(metrics={metric: v}, value=v, passed=passed, total=len(files))

    return RulePlan(rule, metric, finish=finish)


def _detect_anomalies(rule: m.Rule, ctx: Context) -> RulePlan:
    inner_type, *params = rule.params
    spec = spec_for(inner_type, rule.location)
    if spec.condition not in {ConditionKind.NUMBER, ConditionKind.NONE} or spec.name in {
        "IsComplete", "IsUnique", "IsPrimaryKey", "ColumnExists", "ColumnNamesMatchPattern",
        "DetectAnomalies",
    }:
        raise RuleDefinitionError(f"DetectAnomalies cannot watch {inner_type}",
                                  location=rule.location)
    inner = m.Rule(spec.name, tuple(params), None, rule.location, rule.text, where=rule.where)
    plan = plan_rule(inner, ctx)
    plan.rule = rule
    plan.failing = None
    return plan


_HANDLERS: dict[str, Callable[[m.Rule, Context], RulePlan]] = {
    "RowCount": _rowcount,
    "ColumnCount": _schema_rule,
    "ColumnNamesMatchPattern": _schema_rule,
    "ColumnExists": _schema_rule,
    "ColumnDataType": _column_data_type,
    "Completeness": _completeness,
    "IsComplete": _completeness,
    "Uniqueness": _group_rule,
    "IsUnique": _group_rule,
    "IsPrimaryKey": _group_rule,
    "DistinctValuesCount": _group_rule,
    "UniqueValueRatio": _group_rule,
    "Entropy": _group_rule,
    "Mean": _aggregate("Mean"),
    "Sum": _aggregate("Sum"),
    "StandardDeviation": _aggregate("StandardDeviation"),
    "Variance": _aggregate("Variance"),
    "ColumnCorrelation": _aggregate("ColumnCorrelation"),
    "ColumnLength": _column_length,
    "ColumnValues": _column_values,
    "DataFreshness": _data_freshness,
    "CustomSql": _custom_sql,
    "ReferentialIntegrity": _referential_integrity,
    "DatasetMatch": _dataset_match,
    "SchemaMatch": _schema_match,
    "RowCountMatch": _row_count_match,
    "AggregateMatch": _aggregate_match,
    "FileFreshness": _file_freshness,
    "DetectAnomalies": _detect_anomalies,
}
