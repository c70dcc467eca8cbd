"""unnest and relationalize: nested records as flat tables, Glue's way.

``unnest`` lifts every field of every struct to a top-level column named by its path
(``name.first``). ``relationalize(root)`` does that, then moves each array out into a table
of its own, named ``<root>_<column>`` (``hist_root_contact_details``), with columns ``id``
(the join key, a bigint: the root's array column now holds it), ``index`` (the element's
position, from 0) and ``<column>.val`` for a scalar element or ``<column>.val.<field>`` for a
struct's fields. Arrays inside those elements become tables in turn
(``hist_root_contact_details.val.phones``). This is what Glue's documentation shows for
the legislators example; Glue's join keys are opaque numbers too, so they are unique but not
consecutive here.
"""

from __future__ import annotations

from typing import Any

from . import _paths

_ROW_ID = "__sluice_row_id"


def flatten(df: Any) -> Any:
    """Every struct field lifted to a top-level column named by its dotted path."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def leaves(dtype: Any, path: list[str]) -> list[list[str]]:
        if isinstance(dtype, T.StructType) and dtype.fields:
            return [leaf for f in dtype.fields for leaf in leaves(f.dataType, [*path, f.name])]
        return [path]

    cols = [leaf for f in df.schema.fields for leaf in leaves(f.dataType, [f.name])]
    if all(len(c) == 1 for c in cols):
        return df
    return df.select(*[F.col(_paths.quote(c)).alias(".".join(c)) for c in cols])


def relationalize(df: Any, root: str) -> list[tuple[str, Any]]:
    """``[(table name, DataFrame)]``, the root table first."""
    tables: list[tuple[str, Any]] = []
    _table(df, root, root, tables)
    return tables


def _table(df: Any, name: str, root: str, out: list[tuple[str, Any]]) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    flat = flatten(df)
    arrays = [f.name for f in flat.schema.fields if isinstance(f.dataType, T.ArrayType)]
    if not arrays:
        out.append((name, flat))
        return
    # The ids must be the same in the table and its children: fix them once.
    keyed = flat.withColumn(_ROW_ID, F.monotonically_increasing_id() + 1).localCheckpoint()
    parent = keyed.select(*[
        (F.when(F.col(_paths.quote([c])).isNotNull(), F.col(_ROW_ID)).alias(c)
         if c in arrays else F.col(_paths.quote([c])))
        for c in flat.columns])
    out.append((name, parent))
    for column in arrays:
        child = keyed.select(F.col(_ROW_ID).alias("id"),
                             F.posexplode(F.col(_paths.quote([column]))).alias("index", "val"))
        child = child.select("id", F.col("index").cast("int").alias("index"),
                             F.col("val").alias(f"{column}.val"))
        _table(child, f"{root}_{column}", root, out)
