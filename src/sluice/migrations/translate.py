"""Migrations are written in the project's dialect (e.g. Redshift) and run on each
environment's engine, translated with sqlglot.

Redshift's physical storage hints (DISTSTYLE, DISTKEY, SORTKEY, ENCODE) have no meaning on
DuckDB or PostgreSQL and are dropped (reported as notes); IDENTITY columns become identity
columns on PostgreSQL and a sequence-backed default on DuckDB. What cannot be translated
(stored procedures, statements sqlglot cannot parse) is reported with its line and construct.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import TokenType

_HINTS = (exp.DistStyleProperty, exp.DistKeyProperty, exp.SortKeyProperty)
_UNSUPPORTED = {"PROCEDURE": "stored procedure", "FUNCTION": "user-defined function"}


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of its first token in the script


@dataclass
class Translation:
    statements: list[Statement] = field(default_factory=list)  # in the engine's dialect
    notes: list[str] = field(default_factory=list)  # what was changed, for the plan
    problems: list[str] = field(default_factory=list)  # "line N: construct: why"


def split_statements(text: str, dialect: str) -> list[Statement]:
    """Statements of a script (split at top-level semicolons), each with its first line."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(text)
    except SqlglotError:
        return [Statement(text.strip(), 1)] if text.strip() else []
    out: list[Statement] = []
    start = None
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            if start is not None:
                out.append(Statement(text[start[0]:tok.start].strip(), start[1]))
            start = None
        elif start is None:
            start = (tok.start, tok.line)
    if start is not None:
        out.append(Statement(text[start[0]:].strip(), start[1]))
    return [s for s in out if s.text]


def translate(text: str, source: str, engine: str, *, verbatim: bool = False) -> Translation:
    result = Translation()
    for stmt in split_statements(text, source):
        if verbatim or source == engine:
            result.statements.append(stmt)
            continue
        try:
            trees = sqlglot.parse(stmt.text, read=source)
        except SqlglotError as exc:
            result.problems.append(f"line {stmt.line}: does not parse as {source}: "
                                   f"{str(exc).splitlines()[0]}")
            continue
        for tree in trees:
            if tree is None:
                continue
            problem = _unsupported(tree)
            if problem:
                result.problems.append(
                    f"line {stmt.line}: {problem} cannot run on {engine}; to run the script "
                    f"as written on {source} only (skipped on {engine}), start it with "
                    f"`-- sluice: engine={source} verbatim`")
                continue
            pre: list[str] = []
            tree = _adapt(tree, engine, stmt.line, result.notes, pre)
            try:
                sql = tree.sql(dialect=engine, unsupported_level=sqlglot.ErrorLevel.RAISE)
            except SqlglotError as exc:
                result.problems.append(f"line {stmt.line}: cannot be written for {engine}: "
                                       f"{str(exc).splitlines()[0]}")
                continue
            result.statements += [Statement(p, stmt.line) for p in pre]
            result.statements.append(Statement(sql, stmt.line))
    return result


def _unsupported(tree: exp.Expr) -> str | None:
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        if kind in _UNSUPPORTED:
            return f"CREATE {kind} ({_UNSUPPORTED[kind]})"
    if isinstance(tree, exp.Command):
        return f"{str(tree.this).upper()} (not understood by the translator)"
    return None


def _adapt(tree: exp.Expr, engine: str, line: int, notes: list[str],
           pre: list[str]) -> exp.Expr:
    for hint in list(tree.find_all(*_HINTS)):
        notes.append(f"line {line}: dropped {hint.sql('redshift')} (a Redshift storage hint)")
        hint.pop()
    for constraint in list(tree.find_all(exp.ColumnConstraint)):
        if isinstance(constraint.args.get("kind"), exp.EncodeColumnConstraint):
            notes.append(f"line {line}: dropped {constraint.sql('redshift')} (a Redshift "
                         "column encoding)")
            constraint.pop()
    if engine == "duckdb":
        for ident in list(tree.find_all(exp.GeneratedAsIdentityColumnConstraint)):
            column = ident.find_ancestor(exp.ColumnDef)
            table = tree.find(exp.Table)
            if column is None or table is None:
                continue
            start = ident.args.get("start") or exp.Literal.number(1)
            step = ident.args.get("increment") or exp.Literal.number(1)
            seq = f"{table.db + '.' if table.db else ''}{table.name}_{column.name}_seq"
            pre.append(f"CREATE SEQUENCE IF NOT EXISTS {seq} START {start.sql()} "
                       f"INCREMENT {step.sql()} MINVALUE {start.sql()}")
            parent = ident.parent
            default = exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(
                this=exp.func("nextval", exp.Literal.string(seq))))
            if isinstance(parent, exp.ColumnConstraint):
                parent.replace(default)
            notes.append(f"line {line}: IDENTITY on {table.name}.{column.name} became "
                         f"DEFAULT nextval('{seq}')")
    return tree
