"""Glue's field paths (``address.city``, `` `a.b`.c ``) on Spark columns.

Glue names a nested field by its path with ``.`` between the parts and back-ticks around a
part that itself holds a dot. Spark reaches nested struct fields the same way in column
expressions, and changes them with ``Column.withField``/``dropFields``; these helpers turn
a path into those calls, so every transform treats nested fields alike.
"""

from __future__ import annotations

from typing import Any

from ._support import unsupported


def split(path: str) -> list[str]:
    """``"a.`b.c`.d"`` → ``["a", "b.c", "d"]``."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in path:
        if ch == "`":
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    if any("[]" in p for p in parts) or "" in parts:
        raise unsupported(f"the field path {path!r}",
                          "paths into arrays ('[]') and empty parts are not supported")
    return parts


def quote(parts: list[str]) -> str:
    """A Spark column expression for the path (each part back-ticked)."""
    return ".".join("`" + p.replace("`", "``") + "`" for p in parts)


def lookup(schema: Any, parts: list[str], case_sensitive: bool = True) -> list[str] | None:
    """The path as the schema spells it, or None when it is not there (or not through
    structs)."""
    from pyspark.sql import types as T

    found: list[str] = []
    dtype: Any = schema
    for part in parts:
        if not isinstance(dtype, T.StructType):
            return None
        match = [f for f in dtype.fields
                 if f.name == part or (not case_sensitive and f.name.lower() == part.lower())]
        if not match:
            return None
        exact = [f for f in match if f.name == part]
        field = (exact or match)[0]
        found.append(field.name)
        dtype = field.dataType
    return found


def type_at(schema: Any, parts: list[str]) -> Any:
    """The Spark type at an existing path."""
    dtype: Any = schema
    for part in parts:
        dtype = dtype[part].dataType
    return dtype


def drop(df: Any, parts: list[str]) -> Any:
    """``df`` without the field at ``parts`` (a no-op when it is not there)."""
    from pyspark.sql import functions as F

    if lookup(df.schema, parts) is None:
        return df
    if len(parts) == 1:
        return df.drop(parts[0])
    if len(type_at(df.schema, parts[:-1]).fields) == 1:
        return drop(df, parts[:-1])  # Spark has no empty struct: the parent goes too
    top = parts[0]
    return df.withColumn(top, F.col(quote([top])).dropFields(quote(parts[1:])))


def put(df: Any, parts: list[str], value: Any) -> Any:
    """``df`` with ``value`` at ``parts``: a new or replaced column, or a field of a struct
    (made when it does not exist)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if len(parts) == 1:
        return df.withColumn(parts[0], value)
    top = parts[0]
    existing = lookup(df.schema, [top])
    if existing is not None and isinstance(type_at(df.schema, existing), T.StructType):
        return df.withColumn(top, _with_field(F.col(quote([top])),
                                              type_at(df.schema, existing), parts[1:], value))
    return df.withColumn(top, _nest(parts[1:], value))


def _with_field(struct: Any, dtype: Any, parts: list[str], value: Any) -> Any:
    from pyspark.sql import types as T

    head = parts[0]
    if len(parts) == 1:
        return struct.withField(head, value)
    inner = [f for f in dtype.fields if f.name == head]
    if inner and isinstance(inner[0].dataType, T.StructType):
        return struct.withField(head, _with_field(struct.getField(head), inner[0].dataType,
                                                  parts[1:], value))
    return struct.withField(head, _nest(parts[1:], value))


def _nest(parts: list[str], value: Any) -> Any:
    from pyspark.sql import functions as F

    if len(parts) == 1:
        return F.struct(value.alias(parts[0]))
    return F.struct(_nest(parts[1:], value).alias(parts[0]))
