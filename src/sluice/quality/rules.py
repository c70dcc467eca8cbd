"""The rule types sluice understands, as data: arity, accepted conditions and capabilities.

This table is the single place that says what a rule type is. The parser validates rules
against it (so arity and condition errors are located in the ruleset file), the SQL compiler
and the reference evaluator dispatch on the same names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum

from sluice.errors import Location, RuleDefinitionError
from sluice.quality import model as m


class ConditionKind(Enum):
    NONE = "none"  # IsComplete "c": no condition allowed
    NUMBER = "number"  # compared with a number (or a dynamic expression)
    VALUE = "value"  # ColumnValues: numbers, strings, dates, keywords, regex
    DURATION = "duration"  # DataFreshness "c" <= 24 hours
    TYPE = "type"  # ColumnDataType "c" = "INTEGER"


class Scope(Enum):
    SCHEMA = "schema"  # needs only the column list
    SCAN = "scan"  # aggregates that share the one scan of the dataset
    GROUP = "group"  # GROUP BY per distinct column set (uniqueness family)
    QUERY = "query"  # its own query (CustomSql)
    CROSS = "cross"  # joins with a reference dataset
    HISTORY = "history"  # evaluated over recorded metrics (DetectAnomalies)
    FILES = "files"  # file metadata (FileFreshness)


@dataclass(frozen=True)
class RuleSpec:
    name: str
    min_params: int
    max_params: int | None
    condition: ConditionKind
    scope: Scope
    row_level: bool = False
    threshold: bool = False
    where: bool = True
    condition_optional: bool = False
    summary: str = ""


_SPECS = [
    RuleSpec("RowCount", 0, 0, ConditionKind.NUMBER, Scope.SCAN, summary="number of rows"),
    RuleSpec("ColumnCount", 0, 0, ConditionKind.NUMBER, Scope.SCHEMA, where=False,
             summary="number of columns"),
    RuleSpec("ColumnNamesMatchPattern", 1, 1, ConditionKind.NONE, Scope.SCHEMA, where=False,
             summary="every column name matches a regex"),
    RuleSpec("ColumnExists", 1, 1, ConditionKind.NONE, Scope.SCHEMA, where=False,
             summary="a column exists"),
    RuleSpec("ColumnDataType", 1, 1, ConditionKind.TYPE, Scope.SCAN, row_level=True,
             threshold=True, summary="values are of (or convert to) a type"),
    RuleSpec("Completeness", 1, 1, ConditionKind.NUMBER, Scope.SCAN, row_level=True,
             summary="fraction of non-null values"),
    RuleSpec("IsComplete", 1, 1, ConditionKind.NONE, Scope.SCAN, row_level=True,
             summary="no null values"),
    RuleSpec("Uniqueness", 1, None, ConditionKind.NUMBER, Scope.GROUP, row_level=True,
             summary="fraction of rows whose value occurs once"),
    RuleSpec("IsUnique", 1, None, ConditionKind.NONE, Scope.GROUP, row_level=True,
             summary="every value occurs once"),
    RuleSpec("IsPrimaryKey", 1, None, ConditionKind.NONE, Scope.GROUP, row_level=True,
             summary="columns are complete and unique together"),
    RuleSpec("DistinctValuesCount", 1, None, ConditionKind.NUMBER, Scope.GROUP,
             summary="number of distinct non-null values"),
    RuleSpec("UniqueValueRatio", 1, None, ConditionKind.NUMBER, Scope.GROUP,
             summary="values occurring once / distinct values"),
    RuleSpec("Entropy", 1, None, ConditionKind.NUMBER, Scope.GROUP,
             summary="Shannon entropy (natural log) of the value distribution"),
    RuleSpec("Mean", 1, 1, ConditionKind.NUMBER, Scope.SCAN, summary="mean of the values"),
    RuleSpec("Sum", 1, 1, ConditionKind.NUMBER, Scope.SCAN, summary="sum of the values"),
    RuleSpec("StandardDeviation", 1, 1, ConditionKind.NUMBER, Scope.SCAN,
             summary="population standard deviation"),
    RuleSpec("Variance", 1, 1, ConditionKind.NUMBER, Scope.SCAN, summary="population variance"),
    RuleSpec("ColumnCorrelation", 2, 2, ConditionKind.NUMBER, Scope.SCAN,
             summary="Pearson correlation of two columns"),
    RuleSpec("ColumnLength", 1, 1, ConditionKind.VALUE, Scope.SCAN, row_level=True,
             threshold=True, summary="length of each string value"),
    RuleSpec("ColumnValues", 1, 1, ConditionKind.VALUE, Scope.SCAN, row_level=True,
             threshold=True, summary="each value meets the condition"),
    RuleSpec("DataFreshness", 1, 1, ConditionKind.DURATION, Scope.SCAN, row_level=True,
             threshold=True, summary="age of each timestamp"),
    RuleSpec("CustomSql", 1, 2, ConditionKind.NUMBER, Scope.QUERY, threshold=True,
             condition_optional=True, summary="a SQL statement over `primary`"),
    RuleSpec("ReferentialIntegrity", 2, 2, ConditionKind.NUMBER, Scope.CROSS, row_level=True,
             summary="fraction of values found in a reference dataset"),
    RuleSpec("DatasetMatch", 2, 3, ConditionKind.NUMBER, Scope.CROSS, where=False,
             summary="fraction of rows equal to a reference dataset's, joined on keys"),
    RuleSpec("SchemaMatch", 1, 1, ConditionKind.NUMBER, Scope.CROSS, where=False,
             summary="1.0 when the schema equals a reference dataset's"),
    RuleSpec("RowCountMatch", 1, 1, ConditionKind.NUMBER, Scope.CROSS,
             summary="row count / reference row count"),
    RuleSpec("AggregateMatch", 2, 2, ConditionKind.NUMBER, Scope.CROSS,
             summary="aggregate / reference aggregate"),
    RuleSpec("FileFreshness", 1, 1, ConditionKind.VALUE, Scope.FILES, row_level=True,
             threshold=True, where=False, summary="modification time of each file"),
    RuleSpec("DetectAnomalies", 1, None, ConditionKind.NONE, Scope.HISTORY,
             summary="metric lies within the band learnt from its history"),
]

SPECS: dict[str, RuleSpec] = {s.name: s for s in _SPECS}
_BY_LOWER = {s.name.lower(): s for s in _SPECS}

def spec_for(name: str, location: Location | None = None) -> RuleSpec:
    """The spec of a rule type; rule type names are matched case-insensitively as AWS does."""
    spec = _BY_LOWER.get(name.lower())
    if spec is None:
        close = difflib.get_close_matches(name, list(SPECS), n=1, cutoff=0.6)
        tip = f"did you mean {close[0]}?" if close else "see docs/quality.md for rule types"
        raise RuleDefinitionError(f"unknown rule type {name!r}", location=location, tip=tip)
    return spec


def validate_ruleset(ruleset: m.Ruleset) -> None:
    """Check every rule's arity, condition and clauses against its spec."""
    for node in ruleset.rules:
        if isinstance(node, m.Composite):
            for leaf in m.iter_rules(node):
                if leaf.labels:
                    raise RuleDefinitionError(
                        f"labels inside a composite rule: {leaf.text}",
                        location=leaf.location,
                        tip="put the labels after the whole composite in parentheses: "
                        '(IsComplete "a" and RowCount > 0) labels=["k"="v"]',
                    )
    for rule in ruleset.leaves():
        validate_rule(rule)
    for analyzer in ruleset.analyzers:
        spec = spec_for(analyzer.type, analyzer.location)
        _check_arity(spec, analyzer.params, analyzer.location, analyzer.text)


def _check_arity(spec: RuleSpec, params: tuple[str, ...], loc: Location, text: str) -> None:
    n = len(params)
    if n < spec.min_params or (spec.max_params is not None and n > spec.max_params):
        if spec.max_params is None:
            want = f"at least {spec.min_params}"
        elif spec.min_params == spec.max_params:
            want = str(spec.min_params)
        else:
            want = f"{spec.min_params} to {spec.max_params}"
        raise RuleDefinitionError(
            f"{spec.name} takes {want} parameter(s), got {n}: {text}",
            location=loc,
            tip=f"{spec.name}: {spec.summary}",
        )


def validate_rule(rule: m.Rule) -> None:
    spec = spec_for(rule.type, rule.location)
    _check_arity(spec, rule.params, rule.location, rule.text)
    cond = rule.condition
    if spec.condition is ConditionKind.NONE and cond is not None and spec.name != "CustomSql":
        raise RuleDefinitionError(
            f"{spec.name} takes no condition: {rule.text}", location=rule.location,
            tip=f'write it as  {spec.name} "{rule.params[0] if rule.params else "col"}"',
        )
    if spec.condition is not ConditionKind.NONE and cond is None and not spec.condition_optional:
        raise RuleDefinitionError(
            f"{spec.name} needs a condition: {rule.text}", location=rule.location,
            tip=f"for example  {spec.name} {' '.join(repr(p) for p in rule.params)} > 0",
        )
    # AWS accepts `with threshold` and `where` on rule types where they mean nothing (its own
    # docs show `RowCount > 0 with threshold > 0.8`); so do we, and the result says so.
    if cond is None:
        return
    if spec.condition is ConditionKind.NUMBER:
        for op in m.condition_operands(cond):
            if isinstance(op, m.Call) and op.name == "last" and _list_length(op) > 1:
                raise RuleDefinitionError(
                    f"last(k) is a list of k values; aggregate it first: {rule.text}",
                    location=rule.location,
                    tip="write  avg(last(5)), min(last(5)), max(last(5)) or index(last(5), 0)",
                )
            if isinstance(op, m.Text) and _is_number(op.value):
                continue
            if not isinstance(op, m.Number | m.Call | m.BinaryOp):
                raise RuleDefinitionError(
                    f"{spec.name} compares a number, not {_describe(op)}: {rule.text}",
                    location=rule.location,
                )
        if isinstance(cond, m.Matches):
            raise RuleDefinitionError(
                f"{spec.name} cannot use 'matches': {rule.text}", location=rule.location
            )
    if spec.condition is ConditionKind.DURATION:
        for op in m.condition_operands(cond):
            if not isinstance(op, m.Duration):
                raise RuleDefinitionError(
                    f"{spec.name} compares a duration such as 24 hours, not {_describe(op)}",
                    location=rule.location,
                    tip=f'write  DataFreshness "{rule.params[0]}" <= 24 hours',
                )
    if spec.condition is ConditionKind.TYPE:
        for op in m.condition_operands(cond):
            if not isinstance(op, m.Text):
                raise RuleDefinitionError(
                    f"{spec.name} compares a type name such as \"INTEGER\", not {_describe(op)}",
                    location=rule.location,
                )


def _list_length(call: m.Call) -> int:
    """k of last(k); last() is the newest value alone."""
    if not call.args:
        return 1
    arg = call.args[0]
    return int(arg.value) if isinstance(arg, m.Number) else 2


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _describe(op: m.Operand) -> str:
    return {
        m.Text: "a string",
        m.KeywordValue: "a keyword",
        m.Duration: "a duration",
        m.Now: "a date",
        m.Number: "a number",
    }.get(type(op), "an expression")
