"""resolveChoice on Spark: what Glue's choice types become when a column has one type.

Glue keeps a field whose records disagree on its type as a *choice* (``int`` or
``string``). Spark's readers settle such a field as ``string`` holding the text of every
value, so here a choice is a string column whose non-null values are of more than one
*kind* — ``boolean``, ``int``, ``long``, ``double`` or ``string``, judged by their text
(``"12"`` is an int, ``"1.5"`` a double, ``"true"`` a boolean, anything else a string). The
actions, as docs/glue.md states them:

- ``cast:T`` — Spark's ``try_cast`` to T: values that cannot be read as T become null.
- ``project:T`` — values of kind T (or a narrower number: int fits long and double) are
  kept as T, the others become null; ``project:string`` keeps every value as text.
- ``make_cols`` — the column is replaced by ``<name>_<kind>`` columns, one per kind present,
  each holding the values of its kind (null elsewhere).
- ``make_struct`` — the column becomes a struct with one field per kind present.
- ``match_catalog`` — each column of the catalog table is cast (``try_cast``) to the
  catalog's type; the GlueContext supplies those with ``catalog_columns(database, table)``.
"""

from __future__ import annotations

from typing import Any

from . import _paths
from ._support import unsupported

ACTIONS = ("cast", "project", "make_cols", "make_struct", "match_catalog")
#: Glue's names for Spark SQL types where they differ.
_SPARK_TYPE = {"long": "bigint", "short": "smallint", "byte": "tinyint", "integer": "int",
               "choice": "string"}
_KINDS = ("boolean", "int", "long", "double", "string")
#: A value of the first kind can be projected to each kind of the set.
_WIDENS = {"int": {"int", "long", "double"}, "long": {"long", "double"},
           "double": {"double"}, "boolean": {"boolean"}, "string": {"string"}}


def try_cast(col: Any, spark_type_name: str) -> Any:
    """``col`` cast to the type, null where a value does not convert: ``Column.try_cast``
    (PySpark 4); on PySpark 3.5, a plain cast, which gives null unless ANSI mode is on."""
    # On the class: a Column answers any unknown attribute with a struct field access.
    if getattr(type(col), "try_cast", None) is not None:
        return col.try_cast(spark_type_name)
    return col.cast(spark_type_name)


def spark_type(glue_type: str) -> str:
    name = glue_type.strip().lower()
    return _SPARK_TYPE.get(name, name)


def kind_of(col: Any) -> Any:
    """A column expression giving the kind of each (string) value, null for null."""
    from pyspark.sql import functions as F

    text = F.trim(col)
    as_long = try_cast(text, "bigint")
    return (F.when(col.isNull(), F.lit(None))
            .when(F.lower(text).isin("true", "false"), F.lit("boolean"))
            .when(text.rlike(r"^[+-]?\d+$") & as_long.isNotNull()
                  & as_long.between(-(2**31), 2**31 - 1), F.lit("int"))
            .when(text.rlike(r"^[+-]?\d+$") & as_long.isNotNull(), F.lit("long"))
            .when(try_cast(text, "double").isNotNull()
                  & ~F.lower(text).isin("nan", "infinity", "-infinity", "inf", "-inf"),
                  F.lit("double"))
            .otherwise(F.lit("string")))


def kinds(df: Any, paths: list[list[str]]) -> dict[tuple[str, ...], list[str]]:
    """The kinds present in each string column at ``paths`` (one pass over the data)."""
    from pyspark.sql import functions as F

    if not paths:
        return {}
    aggs = [F.collect_set(kind_of(F.col(_paths.quote(p)))).alias(f"k{i}")
            for i, p in enumerate(paths)]
    row = df.agg(*aggs).collect()[0]
    return {tuple(p): [k for k in _KINDS if k in (row[f"k{i}"] or [])]
            for i, p in enumerate(paths)}


def string_paths(schema: Any, prefix: list[str] | None = None) -> list[list[str]]:
    """Every string field, through structs."""
    from pyspark.sql import types as T

    out: list[list[str]] = []
    for f in schema.fields:
        path = [*(prefix or []), f.name]
        if isinstance(f.dataType, T.StringType):
            out.append(path)
        elif isinstance(f.dataType, T.StructType):
            out.extend(string_paths(f.dataType, path))
    return out


def parse(spec: str) -> tuple[str, str]:
    """``"cast:int"`` → ``("cast", "int")``; ``"make_cols"`` → ``("make_cols", "")``."""
    action, _, target = spec.partition(":")
    action = action.strip().lower()
    if action not in ACTIONS:
        raise ValueError(
            f"resolveChoice: unknown action {spec!r}; use one of cast:<type>, "
            "project:<type>, make_cols, make_struct, match_catalog")
    if action in ("cast", "project") and not target.strip():
        raise ValueError(f"resolveChoice: {action} needs a type, as in '{action}:int'")
    return action, target.strip()


def _typed(col: Any, kind: str) -> Any:
    from pyspark.sql import functions as F

    if kind == "boolean":
        return F.lower(F.trim(col)) == F.lit("true")
    if kind == "string":
        return col
    return try_cast(F.trim(col), spark_type(kind))


def _project(col: Any, kind_col: Any, target: str) -> Any:
    """Values whose kind fits ``target`` as ``target``; the others null."""
    from pyspark.sql import functions as F

    glue_target = {"bigint": "long", "integer": "int"}.get(target.lower(), target.lower())
    if glue_target == "string":
        return col
    fitting = [k for k, wider in _WIDENS.items() if glue_target in wider]
    if not fitting:
        return try_cast(F.trim(col), spark_type(target))
    return F.when(kind_col.isin(*fitting), try_cast(F.trim(col), spark_type(target)))


def resolve(df: Any, specs: list[tuple[str, str]], choice: str, database: str | None,
            table_name: str | None, glue_ctx: Any) -> Any:
    """``df`` with every spec (or the default ``choice``) applied."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    plan: list[tuple[list[str], str, str]] = []
    for path, spec in specs:
        parts = _paths.split(path)
        found = _paths.lookup(df.schema, parts)
        if found is None:
            continue  # Glue resolves only the choices it finds
        action, target = parse(spec)
        plan.append((found, action, target))
    if choice:
        action, target = parse(choice)
        if action == "match_catalog":
            plan.append(([], action, target))
        else:
            named = {tuple(p) for p, _, _ in plan}
            candidates = [p for p in string_paths(df.schema) if tuple(p) not in named]
            mixed = kinds(df, candidates)
            plan.extend((p, action, target) for p in candidates if len(mixed[tuple(p)]) > 1)

    need = [p for p, action, _ in plan if action in ("make_cols", "make_struct")
            or (action == "project" and isinstance(_paths.type_at(df.schema, p), T.StringType))]
    present = kinds(df, need)
    for parts, action, target in plan:
        if action == "match_catalog":
            df = _match_catalog(df, database, table_name, glue_ctx)
            continue
        col = F.col(_paths.quote(parts))
        if action == "cast":
            df = _paths.put(df, parts, try_cast(col, spark_type(target)))
        elif action == "project":
            if isinstance(_paths.type_at(df.schema, parts), T.StringType):
                df = _paths.put(df, parts, _project(col, kind_of(col), target))
            else:
                df = _paths.put(df, parts, try_cast(col, spark_type(target)))
        elif not isinstance(_paths.type_at(df.schema, parts), T.StringType):
            continue  # one type already: nothing to split
        elif action == "make_struct":
            found_kinds = present.get(tuple(parts)) or ["string"]
            kind_col = kind_of(col)
            df = _paths.put(df, parts, F.struct(*[
                F.when(kind_col == k, _typed(col, k)).alias(k) for k in found_kinds]))
        else:  # make_cols
            if len(parts) > 1:
                raise unsupported("resolveChoice make_cols on a nested field",
                                  f"{'.'.join(parts)}: use make_struct or cast")
            found_kinds = present.get(tuple(parts)) or ["string"]
            kind_col = kind_of(col)
            at = df.columns.index(parts[0])
            new_cols = [F.when(kind_col == k, _typed(col, k)).alias(f"{parts[0]}_{k}")
                        for k in found_kinds]
            others = [F.col(_paths.quote([c])) for c in df.columns]
            df = df.select(*others[:at], *new_cols, *others[at + 1:])
    return df


def _match_catalog(df: Any, database: str | None, table_name: str | None,
                   glue_ctx: Any) -> Any:
    from pyspark.sql import functions as F

    if not database or not table_name:
        raise ValueError("resolveChoice: match_catalog needs database= and table_name=")
    columns_of = getattr(glue_ctx, "catalog_columns", None)
    if columns_of is None:
        raise unsupported("resolveChoice match_catalog",
                          "this frame's GlueContext cannot look up catalog columns")
    columns: dict[str, str] = {str(k).lower(): str(v) for k, v in
                               columns_of(database, table_name).items()}
    out = []
    for name in df.columns:
        target = columns.get(name.lower())
        col = F.col(_paths.quote([name]))
        out.append(try_cast(col, spark_type(target)).alias(name) if target else col)
    return df.select(*out)
