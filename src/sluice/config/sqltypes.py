"""SQL dialect names and contract column types that ``sluice.yaml`` may use.

sqlglot decides, but importing it and loading a dialect costs about 0.2 s, more than the
rest of loading a project; every command loads the project, most never parse SQL. So the
common answers come from two small tables, each entry known to sqlglot (checked in
``tests/config/test_sqltypes.py``), and anything else goes to sqlglot.
"""

from __future__ import annotations

import functools

#: Dialects accepted without asking sqlglot (a subset of ``sqlglot.Dialects``).
COMMON_DIALECTS = frozenset({
    "athena", "bigquery", "databricks", "duckdb", "hive", "mysql", "postgres", "presto",
    "redshift", "snowflake", "spark", "sqlite", "trino", "tsql",
})

#: Bare column types that every sqlglot dialect reads (any letter case); a type with a length,
#: precision or element type (``DECIMAL(10, 2)``, ``ARRAY<INT>``) goes to sqlglot.
PLAIN_TYPES = frozenset({
    "BIGINT", "BINARY", "BLOB", "BOOL", "BOOLEAN", "BYTEA", "CHAR", "DATE", "DECIMAL",
    "DOUBLE", "FLOAT", "HUGEINT", "INT", "INTEGER", "INTERVAL", "JSON", "NUMERIC", "REAL",
    "SMALLINT", "STRING", "TEXT", "TIME", "TIMESTAMP", "TIMESTAMPTZ", "TINYINT", "UUID",
    "VARCHAR",
})


@functools.cache
def dialects() -> tuple[str, ...]:
    """Every SQL dialect sqlglot knows, sorted."""
    import sqlglot

    return tuple(sorted(d.value for d in sqlglot.Dialects if d.value))


def is_dialect(name: str) -> bool:
    """Whether ``name`` is a SQL dialect sluice can read and write."""
    return name in COMMON_DIALECTS or name in dialects()


@functools.lru_cache(maxsize=1024)
def is_column_type(type_: str, dialect: str) -> bool:
    """Whether ``type_`` is a column type in ``dialect`` (contracts repeat a few types)."""
    if type_.upper() in PLAIN_TYPES:
        return True
    import sqlglot
    from sqlglot import exp

    try:
        exp.DataType.build(type_, dialect=dialect, udt=False)
    except (sqlglot.ParseError, ValueError):
        return False
    return True
