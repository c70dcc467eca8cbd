"""Parse DQDL text into the typed model of :mod:`sluice.quality.model`.

The grammar lives beside this module in ``grammar.lark`` (LALR, so parsing is linear and
every syntax error knows exactly which tokens were acceptable). Syntax errors become
:class:`~sluice.errors.DQDLSyntaxError` with line:column, the offending text quoted with a
caret under it, and the tokens that were expected; variables are resolved here, so the
rest of the library never sees ``$name``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from lark.tree import Meta, Tree

from sluice.errors import DataSourceError, DQDLSyntaxError, Location, RuleDefinitionError
from sluice.quality import model as m

_TOKEN_NAMES = {
    "COMPARE": "a comparison operator (=, !=, >, >=, <, <=)",
    "NUMBER": "a number",
    "STRING": 'a "quoted string"',
    "NAME": "a name",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "_EQUAL": "'='",
    "COLON": "':'",
    "DOLLAR": "'$'",
    "AND": "'and'",
    "OR": "'or'",
    "OF": "'of'",
    "NOT": "'not'",
    "IN": "'in'",
    "BETWEEN": "'between'",
    "MATCHES": "'matches'",
    "WHERE": "'where'",
    "WITH": "'with'",
    "THRESHOLD": "'threshold'",
    "LABELS": "'labels'",
    "RULES": "'Rules'",
    "ANALYZERS": "'Analyzers'",
    "METADATA": "'Metadata'",
    "DATASOURCES": "'DataSources'",
    "NOW": "'now()'",
    "UNIT": "a time unit (minutes, hours, days)",
    "KEYWORD": "NULL, EMPTY or WHITESPACES_ONLY",
    "PLUS": "'+'",
    "MUL_OP": "'*' or '/'",
    "MINUS": "'-'",
    "CONN_AND": "'and'",
    "DEFAULTLABELS": "'DefaultLabels'",
    "$END": "the end of the ruleset",
}


class _ConnectorPostLex:
    """Tell the connector ``and`` of a parameter list from the ``and`` of a composite rule.

    ``ColumnCorrelation "a" and "b" > 0.8`` and ``(IsComplete "a" and RowCount > 0)`` both
    have ``and`` after a rule's last parameter; one token of look-ahead settles it: an ``and``
    followed by a quoted string is a connector word.
    """

    always_accept = ("AND",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        pending: Token | None = None
        for token in stream:
            if pending is not None:
                if token.type == "STRING":
                    pending = Token.new_borrow_pos("CONN_AND", str(pending), pending)
                yield pending
                pending = None
            if token.type == "AND":
                pending = token
                continue
            yield token
        if pending is not None:
            yield pending


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("sluice.quality.dqdl").joinpath("grammar.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        postlex=_ConnectorPostLex(),
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_ruleset_file(path: str | Path) -> m.Ruleset:
    """Read and parse a ``.dqdl`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataSourceError(
            f"ruleset file {p} does not exist", tip="check the path of the .dqdl file"
        ) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise DQDLSyntaxError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                              location=Location(str(p), line, 1),
                              tip="save the ruleset as UTF-8 text") from exc
    except OSError as exc:
        raise DataSourceError(f"cannot read ruleset file {p}: {exc.strerror or exc}") from exc
    return parse_ruleset(text, source=str(p))


def parse_ruleset(text: str, *, source: str = "<ruleset>", validate: bool = True) -> m.Ruleset:
    """Parse a DQDL document. Raises DQDLSyntaxError / RuleDefinitionError, never lark errors."""
    _check_depth(text, source)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, source) from None
    builder = _Builder(text, source)
    try:
        ruleset = builder.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, DQDLSyntaxError | RuleDefinitionError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, _InvalidValue):  # a value the grammar cannot refuse
            meta: Meta | Token = exc.obj.meta if isinstance(exc.obj, Tree) else exc.obj
            raise builder._err(meta, str(exc.orig_exc), exc.orig_exc.tip) from None
        raise
    assert isinstance(ruleset, m.Ruleset)
    if validate:
        from sluice.quality.rules import validate_ruleset

        validate_ruleset(ruleset)
    return ruleset


#: Parentheses and lists nested deeper than this are refused before parsing: the tree and
#: everything that walks it (the SQL compiler) recurse once per level.
MAX_DEPTH = 64
#: Longer numbers are refused (Python will not even convert integers past 4,300 digits).
MAX_DIGITS = 100


class _InvalidValue(ValueError):
    """A value that parses but means nothing: raised in the builder, located by the caller."""

    def __init__(self, message: str, tip: str | None = None) -> None:
        super().__init__(message)
        self.tip = tip


def _check_depth(text: str, source: str) -> None:
    depth, in_string, escaped, line, column = 0, False, False, 1, 0
    for ch in text:
        column += 1
        if ch == "\n":
            line, column = line + 1, 0
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "([":
            depth += 1
            if depth > MAX_DEPTH:
                raise DQDLSyntaxError(
                    f"nested too deeply (more than {MAX_DEPTH} levels of parentheses and "
                    "lists)", location=Location(source, line, column),
                    tip="split the condition into several rules")
        elif ch in ")]":
            depth -= 1


def _check_sql(sql: str, what: str, *, query: bool) -> None:
    """A where clause must be one SQL condition, a CustomSql statement one query: never a
    second statement smuggled in after a ``;``, nor text sqlglot cannot parse."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    wrapped = sql if query else f"SELECT 1 WHERE {sql}"
    try:
        statements = [s for s in sqlglot.parse(wrapped) if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _InvalidValue(f"{what} is not valid SQL: {first}",
                            tip="test the SQL on its own first") from None
    if len(statements) != 1:
        raise _InvalidValue(f"{what} holds {len(statements)} SQL statements; it must be one",
                            tip="remove the ';' and what follows it")
    if query and not isinstance(statements[0], exp.Query):
        raise _InvalidValue(f"{what} must be a SELECT query, not "
                            f"{statements[0].key.upper()}",
                            tip="CustomSql reads the data; it never changes it")


def snippet(text: str, line: int, column: int, width: int = 1) -> str:
    """The source line with a caret under the column, for error messages."""
    lines = text.splitlines() or [""]
    if not 1 <= line <= len(lines):
        return ""
    src = lines[line - 1].replace("\t", " ")
    return f"  {src}\n  {' ' * (column - 1)}{'^' * max(1, width)}"


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_TOKEN_NAMES.get(t, t.lower()) for t in expected if not t.startswith("__")})
    if not names:
        return "something else"
    if len(names) > 8:
        names = [*names[:8], "…"]
    return ", ".join(names)


def _syntax_error(exc: UnexpectedInput, text: str, source: str) -> DQDLSyntaxError:
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedEOF) or line <= 0:
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "the end of the ruleset"
        width = 1
    elif isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        found = f"unexpected character {ch!r}"
        if ch == '"':
            found = "an unterminated string (a '\"' without its closing '\"')"
        width = 1
    else:
        token = getattr(exc, "token", None)
        value = str(token) if token is not None else ""
        found = f"unexpected {value!r}" if value else "unexpected end of the ruleset"
        if token is not None and token.type == "$END":
            found = "the ruleset ends too early"
        width = len(value) or 1
    expected = _describe_expected(set(getattr(exc, "expected", None) or ()) | set(
        getattr(exc, "allowed", None) or ()
    ))
    message = f"{found}; expected {expected}"
    tip = "see docs/quality.md for the DQDL syntax sluice accepts"
    return DQDLSyntaxError(
        message,
        location=Location(source, line, column),
        snippet=snippet(text, line, column, width),
        tip=tip,
    )


def _unquote(token: Token | str) -> str:
    raw = str(token)
    body = raw[1:-1]
    # DQDL strings escape only \" and \\ ; keep every other backslash (regexes!) as written.
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in {'"', "\\"}:
            out.append(body[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_Scalar = str | tuple[str, ...]


@v_args(inline=True)
class _Builder(Transformer[Token, Any]):
    """Turns the lark tree into model records, resolving ``$variables`` as it goes."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__()
        self._text = text
        self.source = source
        self.variables: dict[str, _Scalar] = {}

    # --------------------------------------------------------------- helpers
    def _loc(self, meta: Meta) -> Location:
        return Location(self.source, meta.line, meta.column)

    def _slice(self, meta: Meta) -> str:
        return " ".join(self._text[meta.start_pos : meta.end_pos].split())

    def _err(self, meta: Meta | Token, message: str, tip: str | None = None) -> DQDLSyntaxError:
        line, column = meta.line or 0, meta.column or 0
        return DQDLSyntaxError(
            message,
            location=Location(self.source, line, column),
            snippet=snippet(self._text, line, column),
            tip=tip,
        )

    # --------------------------------------------------------------- document
    @v_args(inline=False)
    def start(self, sections: list[Any]) -> m.Ruleset:
        rules: list[m.RuleNode] = []
        analyzers: list[m.Analyzer] = []
        metadata: dict[str, object] = {}
        data_sources: dict[str, object] = {}
        seen: set[str] = set()
        default_labels: dict[str, str] = {}
        for kind, value in sections:
            if kind == "variable":
                continue
            if kind == "DefaultLabels":
                default_labels = value
                continue
            if kind in seen:
                raise DQDLSyntaxError(
                    f"the {kind} section appears twice",
                    location=Location(self.source, 1, 1),
                    tip=f"merge both {kind} sections into one",
                )
            seen.add(kind)
            if kind == "Rules":
                rules = value
            elif kind == "Analyzers":
                analyzers = value
            elif kind == "Metadata":
                metadata = value
            else:
                data_sources = value
        if "Rules" not in seen and "Analyzers" not in seen:
            raise DQDLSyntaxError(
                "the ruleset has neither a Rules nor an Analyzers section",
                location=Location(self.source, 1, 1),
                tip='start the file with  Rules = [ RowCount > 0 ]',
            )
        if "Rules" in seen and not rules and not analyzers:
            # an empty gate passes everything: almost certainly rules deleted by mistake
            at = re.search(r"\bRules\s*=", self._text)
            line = self._text.count("\n", 0, at.start()) + 1 if at else 1
            raise DQDLSyntaxError("the Rules section is empty: it would pass any data",
                                  location=Location(self.source, line, 1),
                                  tip="add at least one rule, e.g.  Rules = [ RowCount > 0 ]")
        if default_labels:
            rules = [_with_default_labels(node, default_labels) for node in rules]
        return m.Ruleset(
            source=self.source,
            rules=tuple(rules),
            analyzers=tuple(analyzers),
            metadata=metadata,
            data_sources=data_sources,
            variables=dict(self.variables),
        )

    @v_args(inline=False)
    def rules_section(self, children: list[Any]) -> tuple[str, list[m.RuleNode]]:
        return "Rules", [c for c in children if not isinstance(c, Token)]

    @v_args(inline=False)
    def analyzers_section(self, children: list[Any]) -> tuple[str, list[m.Analyzer]]:
        return "Analyzers", [c for c in children if not isinstance(c, Token)]

    def default_labels(self, _kw: Token, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
        return "DefaultLabels", labels

    def metadata_section(self, _kw: Token, d: dict[str, object]) -> tuple[str, dict[str, object]]:
        return "Metadata", d

    def sources_section(self, _kw: Token, d: dict[str, object]) -> tuple[str, dict[str, object]]:
        return "DataSources", d

    @v_args(meta=True, inline=True)
    def variable(self, meta: Meta, name: Token, value: _Scalar) -> tuple[str, None]:
        if str(name) in self.variables:
            raise self._err(meta, f"variable {name} is defined twice", "rename one of them")
        self.variables[str(name)] = value
        return "variable", None

    @v_args(inline=False)
    def dictionary(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        return dict(pairs)

    def pair(self, key: str, value: object) -> tuple[str, object]:
        return key, value

    @v_args(inline=False)
    def string_array(self, items: list[str]) -> tuple[str, ...]:
        return tuple(items)

    def string(self, token: Token) -> str:
        return _unquote(token)

    @v_args(inline=False)
    def signed_number(self, children: list[Token]) -> float | int:
        value = _num(children[-1])
        return -value if len(children) == 2 else value

    @v_args(meta=True, inline=True)
    def variable_ref(self, meta: Meta, name: Token) -> _Scalar:
        if str(name) not in self.variables:
            known = ", ".join(f"${k}" for k in sorted(self.variables)) or "none defined"
            raise self._err(
                meta,
                f"unknown variable ${name} (known: {known})",
                f'define it before the Rules section:  {name} = "..."',
            )
        return self.variables[str(name)]

    # --------------------------------------------------------------- rules
    @v_args(meta=True, inline=False)
    def all_of(self, meta: Meta, children: list[Any]) -> m.Composite:
        ops = tuple(c for c in children if not isinstance(c, Token))
        return m.Composite("and", ops, self._loc(meta), self._slice(meta))

    @v_args(meta=True, inline=False)
    def any_of(self, meta: Meta, children: list[Any]) -> m.Composite:
        ops = tuple(c for c in children if not isinstance(c, Token))
        return m.Composite("or", ops, self._loc(meta), self._slice(meta))

    @v_args(meta=True, inline=True)
    def labelled(self, meta: Meta, node: m.RuleNode, labels: _Clause) -> m.RuleNode:
        extra = dict(labels.value)  # type: ignore[call-overload]
        if isinstance(node, m.Rule):
            return replace(node, labels={**node.labels, **extra}, text=self._slice(meta))
        return replace(node, labels={**node.labels, **extra}, text=self._slice(meta))

    @v_args(meta=True, inline=False)
    def rule(self, meta: Meta, children: list[Any]) -> m.Rule:
        name, params, condition, clauses = self._rule_parts(meta, children)
        where, threshold, labels, options = clauses
        return m.Rule(
            type=name,
            params=params,
            condition=condition,
            location=self._loc(meta),
            text=self._slice(meta),
            where=where,
            threshold=threshold,
            labels=labels,
            options=options,
        )

    @v_args(meta=True, inline=False)
    def analyzer(self, meta: Meta, children: list[Any]) -> m.Analyzer:
        name, params, condition, clauses = self._rule_parts(meta, children)
        where, threshold, _labels, _options = clauses
        if condition is not None or threshold is not None:
            raise self._err(meta, f"analyzer {name} cannot have a condition", "move it to Rules")
        return m.Analyzer(name, params, self._loc(meta), self._slice(meta), where)

    def _rule_parts(
        self, meta: Meta, children: list[Any]
    ) -> tuple[
        str,
        tuple[str, ...],
        m.Condition | None,
        tuple[str | None, m.Condition | None, dict[str, str], dict[str, str]],
    ]:
        name = str(children[0])
        params: list[str] = []
        condition: m.Condition | None = None
        where: str | None = None
        threshold: m.Condition | None = None
        labels: dict[str, str] = {}
        options: dict[str, str] = {}
        for child in children[1:]:
            if isinstance(child, _Param):
                if name == "CustomSql" and not params:
                    _check_sql(child.values[0], "the CustomSql statement", query=True)
                params.extend(child.values)
            elif isinstance(child, _Clause):
                if child.kind == "where":
                    if where is not None:
                        raise self._err(meta, f"rule {name} has two where clauses")
                    where = str(child.value)
                    _check_sql(where, f"the where clause of {name}", query=False)
                elif child.kind == "threshold":
                    if threshold is not None:
                        raise self._err(meta, f"rule {name} has two thresholds")
                    threshold = child.value  # type: ignore[assignment]
                    if name != "CustomSql":  # CustomSql's threshold counts rows
                        _check_fraction(threshold, meta)
                elif child.kind == "labels":
                    labels.update(child.value)  # type: ignore[call-overload]
                else:
                    options.update(child.value)  # type: ignore[call-overload]
            else:
                condition = child
        return name, tuple(params), condition, (where, threshold, labels, options)

    @v_args(inline=False)
    def param(self, children: list[Any]) -> _Param:
        value = children[-1]
        if isinstance(value, tuple):
            return _Param(tuple(value))
        return _Param((str(value),))

    def where_clause(self, _kw: Token, sql: str) -> _Clause:
        return _Clause("where", sql)

    def threshold_clause(self, _w: Token, _t: Token, cond: m.Condition) -> _Clause:
        return _Clause("threshold", cond)

    @v_args(inline=False)
    def option_clause(self, children: list[Any]) -> _Clause:
        items = children[1:]
        pairs = {str(items[i]): str(items[i + 1]) for i in range(0, len(items) - 1, 2)}
        return _Clause("options", pairs)

    def labels_clause(self, _kw: Token, labels: dict[str, object]) -> _Clause:
        return _Clause("labels", {str(k): str(v) for k, v in labels.items()})

    @v_args(inline=False)
    def label_list(self, items: list[tuple[str, str]]) -> dict[str, str]:
        return dict(items)

    def label(self, key: str, value: str) -> tuple[str, str]:
        return key, value

    # --------------------------------------------------------------- conditions
    def compare(self, op: Token, value: m.Operand) -> m.Compare:
        return m.Compare(str(op), value)  # type: ignore[arg-type]


    @v_args(inline=False)
    def between(self, children: list[Any]) -> m.Between:
        negated = isinstance(children[0], Token) and children[0].type == "NOT"
        values = [c for c in children if not isinstance(c, Token)]
        return m.Between(values[0], values[1], negated)

    @v_args(inline=False)
    def in_set(self, children: list[Any]) -> m.InSet:
        negated = isinstance(children[0], Token) and children[0].type == "NOT"
        return m.InSet(children[-1], negated)

    @v_args(inline=False)
    def matches(self, children: list[Any]) -> m.Matches:
        negated = isinstance(children[0], Token) and children[0].type == "NOT"
        pattern = children[-1]
        if isinstance(pattern, tuple):
            pattern = pattern[0] if pattern else ""
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise _InvalidValue(f"invalid regular expression {str(pattern)!r}: {exc}",
                                tip="check the brackets and escapes of the pattern") from None
        return m.Matches(str(pattern), negated)

    @v_args(inline=False)
    def value_list(self, children: list[Any]) -> tuple[m.Operand, ...]:
        if len(children) == 1 and isinstance(children[0], tuple):
            return tuple(m.Text(v) for v in children[0])
        out: list[m.Operand] = []
        for c in children:
            if isinstance(c, str):
                out.append(m.Text(c))
            elif isinstance(c, tuple):
                out.extend(m.Text(v) for v in c)
            else:
                out.append(c)
        return tuple(out)

    # --------------------------------------------------------------- operands
    def number(self, token: Token) -> m.Number:
        return m.Number(_num(token))

    def duration(self, token: Token, unit: Token) -> m.Duration:
        u = str(unit).lower()
        if not u.endswith("s"):
            u += "s"
        return m.Duration(_num(token), u)  # type: ignore[arg-type]

    def now(self, _token: Token) -> m.Now:
        return m.Now()

    def text(self, value: str | tuple[str, ...]) -> m.Operand:
        return m.Text(value) if isinstance(value, str) else m.Text(", ".join(value))

    def keyword(self, token: Token) -> m.KeywordValue:
        return m.KeywordValue(m.Keyword(str(token).upper()))

    def compare_eq(self, value: m.Operand) -> m.Compare:
        return m.Compare("=", value)

    def negate(self, _minus: Token, value: m.Operand) -> m.Operand:
        if isinstance(value, m.Number):
            return m.Number(-value.value)
        if isinstance(value, m.Duration):
            return m.Duration(-value.amount, value.unit)
        return m.BinaryOp("-", m.Number(0), value)

    @v_args(meta=True, inline=True)
    def binary(self, meta: Meta, left: m.Operand, op: Token, right: m.Operand) -> m.Operand:
        sym = str(op)
        if isinstance(left, m.Now):
            if not isinstance(right, m.Duration) or sym not in {"+", "-"}:
                raise self._err(
                    meta, "now() can only be shifted by a duration", "write  now() - 3 days"
                )
            delta = right.to_timedelta()
            return m.Now(left.offset + (delta if sym == "+" else -delta))
        if isinstance(left, m.Duration | m.Text | m.KeywordValue) or isinstance(
            right, m.Duration | m.Now | m.Text | m.KeywordValue
        ):
            raise self._err(meta, f"cannot apply {sym!r} to these operands")
        return m.BinaryOp(sym, left, right)  # type: ignore[arg-type]

    @v_args(meta=True, inline=False)
    def call(self, meta: Meta, children: list[Any]) -> m.Call:
        name = str(children[0]).lower()
        allowed = {"avg", "min", "max", "sum", "std", "stddev", "last", "index", "abs"}
        if name not in allowed:
            raise self._err(
                meta,
                f"unknown function {children[0]}()",
                "dynamic rules use avg, min, max, sum, std, last(k) and index(last(k), i)",
            )
        return m.Call(name, tuple(children[1:]))


def _with_default_labels(node: m.RuleNode, defaults: dict[str, str]) -> m.RuleNode:
    """Rule labels override the document's DefaultLabels key by key."""
    if isinstance(node, m.Rule):
        return replace(node, labels={**defaults, **node.labels})
    return replace(node, labels={**defaults, **node.labels})


class _Param:
    __slots__ = ("values",)

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values


class _Clause:
    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: object) -> None:
        self.kind = kind
        self.value = value


def _num(token: Token | str) -> float | int:
    raw = str(token)
    if len(raw) > MAX_DIGITS:
        raise _InvalidValue(f"a number of {len(raw)} characters (at most {MAX_DIGITS})",
                            tip="use a sensible bound")
    if "." in raw or "e" in raw.lower():
        value = float(raw)
        if not math.isfinite(value):
            raise _InvalidValue(f"{raw} is too large a number", tip="use a sensible bound")
        return value
    return int(raw)


def _check_fraction(cond: m.Condition | None, meta: Meta) -> None:
    for operand in _operands(cond) if cond is not None else []:
        if isinstance(operand, m.Number) and not 0 <= operand.value <= 1:
            raise _InvalidValue(
                f"a threshold is the fraction of rows that must pass, between 0 and 1; got "
                f"{operand.value}", tip="for example  with threshold > 0.95")


def _operands(cond: m.Condition) -> list[m.Operand]:
    if isinstance(cond, m.Compare):
        return [cond.value]
    if isinstance(cond, m.Between):
        return [cond.low, cond.high]
    if isinstance(cond, m.InSet):
        return list(cond.values)
    return []


__all__ = ["parse_ruleset", "parse_ruleset_file", "snippet"]

