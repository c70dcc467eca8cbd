"""Redshift → DuckDB / PostgreSQL: what sqlglot's dialect translation leaves to us.

Three kinds of rewriting, each reported as a note so ``sluice migrate plan`` and ``sluice
check`` show it:

- statements recognised by their leading keywords (sqlglot parses many of them as an opaque
  ``exp.Command``): access control, external schemas and tables, ``ANALYZE``, ``VACUUM`` and
  the storage-only ``ALTER TABLE … ALTER DISTKEY|DISTSTYLE|SORTKEY|ENCODE`` are skipped on the
  local engines (they run as written on Redshift, where nothing is translated); ``UNLOAD`` and
  ``ALTER TABLE … APPEND`` are refused; ``COPY … FROM 's3://…'`` becomes a load from the
  environment's object store (:mod:`sluice.migrations.copy`);
- parsed trees: storage hints and column encodings dropped, ``IDENTITY(seed, step)`` with any
  seed and step, ``SUPER``, ``VARCHAR(MAX)``, ``CREATE TABLE t (LIKE s)``, ``LISTAGG … WITHIN
  GROUP`` and ``WITH NO SCHEMA BINDING``;
- nothing else: functions (``GETDATE``, ``NVL``, ``DATEADD`` …) are sqlglot's.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

_HINTS = (exp.DistStyleProperty, exp.DistKeyProperty, exp.SortKeyProperty)

#: leading keywords → why the statement means nothing on a local engine
_SKIPPED = {
    ("GRANT",): "access control",
    ("REVOKE",): "access control",
    ("CREATE", "GROUP"): "access control",
    ("ALTER", "GROUP"): "access control",
    ("DROP", "GROUP"): "access control",
    ("CREATE", "USER"): "access control",
    ("ALTER", "USER"): "access control",
    ("DROP", "USER"): "access control",
    ("ALTER", "DEFAULT", "PRIVILEGES"): "access control",
    ("CREATE", "EXTERNAL", "SCHEMA"): "Redshift Spectrum",
    ("CREATE", "EXTERNAL", "TABLE"): "Redshift Spectrum",
    ("DROP", "EXTERNAL"): "Redshift Spectrum",
    ("ANALYZE",): "Redshift maintenance",
    ("VACUUM",): "Redshift maintenance",
}
#: ``ALTER TABLE name ALTER <word>`` that only changes physical storage
_STORAGE_ALTERS = {"DISTKEY", "DISTSTYLE", "SORTKEY", "COMPOUND", "INTERLEAVED", "ENCODE"}
_REFUSED = {("UNLOAD",): "UNLOAD (writes to S3)", ("CALL",): "CALL (a stored procedure)"}


@dataclass(frozen=True)
class Verdict:
    """What to do with one statement before it is parsed."""

    skip: str | None = None  # a note: the statement does not run on the local engine
    refuse: str | None = None  # the construct, for a problem
    copy: bool = False  # a COPY: translated by sluice.migrations.copy


def words(text: str, n: int = 12) -> list[str]:
    """The first ``n`` tokens of a statement as written (strings without their quotes)."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(text)
    except SqlglotError:
        return text.split()[:n]
    return [t.text for t in tokens[:n]]


def classify(text: str) -> Verdict | None:
    """A verdict for statements recognised by their leading keywords, else None."""
    raw = words(text)
    w = [x.upper() for x in raw]
    for key, why in _SKIPPED.items():
        if tuple(w[:len(key)]) == key:
            return Verdict(skip=f"skipped {' '.join(key)} ({why}; it runs on Redshift only)")
    for key, what in _REFUSED.items():
        if tuple(w[:len(key)]) == key:
            return Verdict(refuse=what)
    if w[:1] == ["COPY"]:
        return Verdict(copy=True)
    if w[:2] == ["ALTER", "TABLE"]:
        at = len(w) - len(_after_table_name(w[2:]))
        rest = w[at:]
        if rest[:1] == ["APPEND"]:
            return Verdict(refuse="ALTER TABLE … APPEND (moves Redshift storage blocks)")
        if rest[:1] == ["ALTER"] and ((rest[1:2] and rest[1] in _STORAGE_ALTERS)
                                      or (rest[1:2] == ["COLUMN"] and "ENCODE" in rest[3:4])):
            return Verdict(skip=f"skipped ALTER TABLE {''.join(raw[2:at])} ALTER "
                                f"{' '.join(raw[at + 1:at + 3])} (a Redshift storage change; "
                                "it runs on Redshift only)")
    return None


def _after_table_name(w: list[str]) -> list[str]:
    """``w`` past a (possibly qualified) table name, and IF EXISTS."""
    if w[:2] == ["IF", "EXISTS"]:
        w = w[2:]
    i = 1
    while i + 1 < len(w) and w[i] == ".":
        i += 2
    return w[i:]


def adapt(tree: exp.Expr, engine: str, line: int, notes: list[str],
          pre: list[str]) -> exp.Expr:
    """The tree rewritten for ``engine``; statements it needs first go to ``pre``."""
    for hint in list(tree.find_all(*_HINTS)):
        notes.append(f"line {line}: dropped {hint.sql('redshift')} (a Redshift storage hint)")
        hint.pop()
    for constraint in list(tree.find_all(exp.ColumnConstraint)):
        if isinstance(constraint.args.get("kind"), exp.EncodeColumnConstraint):
            notes.append(f"line {line}: dropped {constraint.sql('redshift')} (a Redshift "
                         "column encoding)")
            constraint.pop()
    if isinstance(tree, exp.Create) and tree.args.get("no_schema_binding"):
        tree.set("no_schema_binding", None)
        notes.append(f"line {line}: dropped WITH NO SCHEMA BINDING (a late-binding view)")
    _types(tree, engine)
    _identity(tree, engine, line, notes, pre)
    _listagg(tree, engine)
    return _like(tree, engine, line, notes)


def _types(tree: exp.Expr, engine: str) -> None:
    for dt in list(tree.find_all(exp.DataType)):
        if dt.this == exp.DType.SUPER:
            dt.replace(exp.DataType.build("JSON" if engine == "duckdb" else "JSONB"))
        elif dt.this in (exp.DType.VARCHAR, exp.DType.NVARCHAR) and any(
                isinstance(p, exp.DataTypeParam) and p.this.name.upper() == "MAX"
                for p in dt.expressions):
            dt.replace(exp.DataType.build("VARCHAR" if engine == "duckdb" else "TEXT"))


def _number(node: exp.Expr | None, default: int) -> int:
    if node is None:
        return default
    value = node.sql()
    try:
        return int(value)
    except ValueError:
        return default


def _identity(tree: exp.Expr, engine: str, line: int, notes: list[str],
              pre: list[str]) -> None:
    """IDENTITY(seed, step): PostgreSQL needs MINVALUE (or MAXVALUE when descending) when the
    seed is outside the default range; DuckDB has no identity columns, so a sequence."""
    for ident in list(tree.find_all(exp.GeneratedAsIdentityColumnConstraint)):
        start = _number(ident.args.get("start"), 1)
        step = _number(ident.args.get("increment"), 1)
        bound = "minvalue" if step > 0 else "maxvalue"
        if engine == "postgres":
            if (step > 0 and start < 1) or (step < 0 and start > -1):
                ident.set(bound, exp.Literal.number(start))
            continue
        if engine != "duckdb":
            continue
        column = ident.find_ancestor(exp.ColumnDef)
        table = tree.find(exp.Table)
        if column is None or table is None:
            continue
        seq = f"{table.db + '.' if table.db else ''}{table.name}_{column.name}_seq"
        pre.append(f"CREATE SEQUENCE IF NOT EXISTS {seq} START {start} INCREMENT {step} "
                   f"{bound.upper()} {start}")
        parent = ident.parent
        default = exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(
            this=exp.func("nextval", exp.Literal.string(seq))))
        if isinstance(parent, exp.ColumnConstraint):
            parent.replace(default)
        notes.append(f"line {line}: IDENTITY on {table.name}.{column.name} became "
                     f"DEFAULT nextval('{seq}')")


def _listagg(tree: exp.Expr, engine: str) -> None:
    """``LISTAGG(x, sep) WITHIN GROUP (ORDER BY y)`` → ``string_agg(x, sep ORDER BY y)``
    (PostgreSQL's takes text only: x is cast)."""
    for within in list(tree.find_all(exp.WithinGroup)):
        agg, order = within.this, within.expression
        if not isinstance(agg, exp.GroupConcat) or not isinstance(order, exp.Order):
            continue
        value = agg.this
        if engine == "postgres":
            value = exp.cast(value, exp.DataType.build("TEXT"))
        sep = agg.args.get("separator") or exp.Literal.string("")
        within.replace(exp.Anonymous(this="string_agg", expressions=[
            value, exp.Order(this=sep, expressions=order.expressions)]))


def _like(tree: exp.Expr, engine: str, line: int, notes: list[str]) -> exp.Expr:
    """``CREATE [TEMP] TABLE t (LIKE s [INCLUDING DEFAULTS])``: PostgreSQL has it; DuckDB gets
    an empty copy (columns and types, no defaults)."""
    if engine != "duckdb" or not isinstance(tree, exp.Create):
        return tree
    schema = tree.this
    if not isinstance(schema, exp.Schema) or not schema.expressions or not all(
            isinstance(e, exp.LikeProperty) for e in schema.expressions):
        return tree
    like = schema.expressions[0]
    if len(schema.expressions) > 1:
        return tree
    select = exp.select("*").from_(like.this.copy()).limit(0)
    out = exp.Create(this=schema.this.copy(), kind="TABLE", expression=select,
                     properties=tree.args.get("properties"))
    notes.append(f"line {line}: CREATE TABLE … (LIKE {like.this.sql()}) became CREATE TABLE … "
                 "AS SELECT * … LIMIT 0 (columns and types; DuckDB copies no defaults)")
    return out
