"""sqlglot expression helpers shared by the rule compilers (no string pasting of SQL)."""

from __future__ import annotations

import datetime as dt
import math

from sqlglot import exp

from sluice.engines.base import TypeFamily
from sluice.errors import RuleDefinitionError
from sluice.project.sqlguard import vet_custom_sql, vet_predicate
from sluice.quality import model as m

PRIMARY = "sluice_primary"
#: DQDL's where clauses and CustomSql statements are Spark SQL on AWS Glue
SOURCE_DIALECT = "spark"


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def num(value: float | int) -> exp.Expr:
    if isinstance(value, float) and not math.isfinite(value):
        raise RuleDefinitionError(f"{value} is not a finite number")
    return exp.Literal.number(repr(value) if isinstance(value, float) else value)


def string(value: str) -> exp.Expr:
    return exp.Literal.string(value)


def timestamp(value: dt.datetime) -> exp.Expr:
    naive = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    return exp.cast(string(naive.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))


def date(value: dt.date) -> exp.Expr:
    return exp.cast(string(value.isoformat()), exp.DataType.build("DATE"))


def as_double(x: exp.Expr) -> exp.Expr:
    return exp.cast(x, exp.DataType.build("DOUBLE"))


_NUMBER = r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*"


def try_double(x: exp.Expr) -> exp.Expr:
    """``x`` (a string) as DOUBLE, NULL when it is not a number: a portable TRY_CAST
    (PostgreSQL has none, and sqlglot renders TRY_CAST there as a failing CAST)."""
    return exp.Case(ifs=[exp.If(this=regex_full(x.copy(), _NUMBER), true=as_double(x))])


def count_if(pred: exp.Expr) -> exp.Expr:
    """SUM(CASE WHEN pred THEN 1 ELSE 0 END): NULL predicates count as not passing."""
    case = exp.Case(ifs=[exp.If(this=pred, true=exp.Literal.number(1))],
                    default=exp.Literal.number(0))
    return exp.Coalesce(this=exp.Sum(this=case), expressions=[exp.Literal.number(0)])


def masked(value: exp.Expr, where: exp.Expr | None) -> exp.Expr:
    """The value where the rule's where clause holds, NULL elsewhere."""
    if where is None:
        return value
    return exp.Case(ifs=[exp.If(this=where.copy(), true=value)])


def both(a: exp.Expr | None, b: exp.Expr) -> exp.Expr:
    return b if a is None else exp.and_(exp.paren(a.copy()), exp.paren(b))


def is_true(pred: exp.Expr) -> exp.Expr:
    """COALESCE(pred, FALSE): three-valued logic folded into pass/fail."""
    return exp.Coalesce(this=exp.paren(pred), expressions=[exp.false()])


def parse_where(sql: str | None, rule: m.Rule | m.Analyzer) -> exp.Expr | None:
    """A rule's where clause, read as Spark SQL like AWS Glue does: one expression over the
    dataset's columns, parsed strictly, reading no table, file or setting
    (:func:`sluice.project.sqlguard.vet_predicate`)."""
    if sql is None:
        return None
    vetted = vet_predicate(sql, SOURCE_DIALECT)
    if not vetted.ok or vetted.tree is None:
        r = vetted.refusals[0]
        raise RuleDefinitionError(f"the where clause {sql!r} is refused: {r.message}"
                                  f"{_at(r.line, r.column)}",
                                  location=rule.location, tip=r.tip)
    return exp.paren(vetted.tree)


def parse_custom_sql(sql: str, rule: m.Rule) -> tuple[exp.Query, list[exp.Table]]:
    """A CustomSql statement and the tables it reads (``primary`` and references; not its
    CTEs): one query, parsed strictly, reading no file or setting
    (:func:`sluice.project.sqlguard.vet_custom_sql`)."""
    vetted = vet_custom_sql(sql, SOURCE_DIALECT)
    if not vetted.ok or not isinstance(vetted.tree, exp.Query):
        r = vetted.refusals[0]
        raise RuleDefinitionError(f"the CustomSql statement is refused: {r.message}"
                                  f"{_at(r.line, r.column)}",
                                  location=rule.location, tip=r.tip)
    return vetted.tree, [t.node for t in vetted.tables]


def sql_errors(ruleset: m.Ruleset) -> list[RuleDefinitionError]:
    """Every where clause and CustomSql statement of a ruleset that would be refused when it
    is compiled: ``sluice check`` and ``sluice release`` report them before any audit."""
    out: list[RuleDefinitionError] = []
    nodes: list[m.Rule | m.Analyzer] = [*ruleset.leaves(), *ruleset.analyzers]
    for node in nodes:
        try:
            parse_where(node.where, node)
            if isinstance(node, m.Rule):
                statement = _custom_sql_of(node)
                if statement is not None:
                    parse_custom_sql(statement, node)
        except RuleDefinitionError as exc:
            out.append(exc)
    return out


def _custom_sql_of(rule: m.Rule) -> str | None:
    if rule.type == "CustomSql" and rule.params:
        return rule.params[0]
    # DetectAnomalies "CustomSql" "select …" watches a CustomSql metric
    if rule.type == "DetectAnomalies" and len(rule.params) > 1 and rule.params[0] == "CustomSql":
        return rule.params[1]
    return None


def _at(line: int, column: int) -> str:
    """Where in the quoted SQL the refusal is (the error itself points at the rule)."""
    return f" (line {line}, column {column} of the SQL)" if line > 1 else (
        f" (column {column} of the SQL)" if column > 1 else "")


def regex_full(x: exp.Expr, pattern: str) -> exp.Expr:
    return exp.RegexpLike(this=x, expression=string(f"^(?:{pattern})$"))


def literal_for(
    value: m.Operand, family: TypeFamily, rule: m.Rule, now: dt.datetime
) -> exp.Expr:
    """Render a DQDL value as a literal compatible with a column of the given family."""
    if isinstance(value, m.Number):
        return num(value.value)
    if isinstance(value, m.Now):
        return timestamp(now + value.offset)
    if isinstance(value, m.Text):
        text = value.value
        if family.numeric:
            try:
                return num(float(text) if any(c in text for c in ".eE") else int(text))
            except ValueError:
                pass
        if family.temporal:
            try:
                parsed = dt.datetime.fromisoformat(text)
            except ValueError as exc:
                raise RuleDefinitionError(
                    f"{text!r} is not a date or timestamp (use YYYY-MM-DD)",
                    location=rule.location,
                ) from exc
            if family is TypeFamily.DATE and len(text) <= 10:
                return date(parsed.date())
            return timestamp(parsed)
        return string(text)
    raise RuleDefinitionError(
        f"{rule.type} cannot compare a column with this value: {rule.text}",
        location=rule.location,
    )
