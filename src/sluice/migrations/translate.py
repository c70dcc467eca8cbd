"""Migrations are written in the project's dialect (e.g. Redshift) and run on each
environment's engine, translated with sqlglot.

What sqlglot's dialect translation leaves to do for Redshift (storage hints, IDENTITY, SUPER,
statements that mean nothing locally, COPY …) is :mod:`sluice.migrations.redshift`'s. What
cannot be translated (stored procedures, UNLOAD, statements sqlglot cannot parse) is reported
with its line and construct.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import TokenType

from sluice.migrations import copy, redshift
from sluice.migrations.copy import Load

_UNSUPPORTED = {"PROCEDURE": "stored procedure", "FUNCTION": "user-defined function"}


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of its first token in the script
    load: Load | None = None  # a COPY the session loads (text is what it shows)


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


def translate(text: str, source: str, engine: str, *, verbatim: bool = False,
              objects: Path | None = None) -> Translation:
    """``text`` for ``engine``; ``objects`` is the local object store a COPY reads from."""
    result = Translation()
    for stmt in split_statements(text, source):
        if verbatim or source == engine:
            result.statements.append(stmt)
            continue
        if source == "redshift" and _redshift_verdict(stmt, engine, objects, result):
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
                result.problems.append(_refusal(stmt.line, problem, source, engine))
                continue
            pre: list[str] = []
            tree = redshift.adapt(tree, engine, stmt.line, result.notes, pre)
            try:
                sql = tree.sql(dialect=engine, unsupported_level=sqlglot.ErrorLevel.RAISE)
            except SqlglotError as exc:
                result.problems.append(f"line {stmt.line}: cannot be written for {engine}: "
                                       f"{str(exc).splitlines()[0]}")
                continue
            result.statements += [Statement(p, stmt.line) for p in pre]
            result.statements.append(Statement(sql, stmt.line))
    return result


def _refusal(line: int, construct: str, source: str, engine: str) -> str:
    return (f"line {line}: {construct} cannot run on {engine}; to run the script as written "
            f"on {source} only (skipped on {engine}), start it with "
            f"`-- sluice: engine={source} verbatim`")


def _redshift_verdict(stmt: Statement, engine: str, objects: Path | None,
                      result: Translation) -> bool:
    """True when the statement was dealt with by its leading keywords (skipped, refused or
    loaded)."""
    verdict = redshift.classify(stmt.text)
    if verdict is None:
        return False
    if verdict.skip:
        result.notes.append(f"line {stmt.line}: {verdict.skip}")
    elif verdict.refuse:
        result.problems.append(_refusal(stmt.line, verdict.refuse, "redshift", engine))
    else:
        try:
            sql, load = copy.load(stmt.text, engine, objects)
        except copy.CopyError as exc:
            result.problems.append(f"line {stmt.line}: {exc} on {engine}; {copy.GUIDANCE}")
        else:
            result.notes.append(f"line {stmt.line}: COPY became a load from the object store")
            result.statements.append(Statement(sql, stmt.line, load))
    return True


def _unsupported(tree: exp.Expr) -> str | None:
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        if kind in _UNSUPPORTED:
            return f"CREATE {kind} ({_UNSUPPORTED[kind]})"
    if isinstance(tree, exp.Command):
        return f"{str(tree.this).upper()} (not understood by the translator)"
    return None
