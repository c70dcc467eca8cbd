"""PostgreSQL (and the Redshift stand-in): a real server reached through psycopg 3."""

from __future__ import annotations

import os
from typing import Any

import sqlglot
from sqlglot import exp

from sluice.engines.base import Column, DataRef, Engine, family_of
from sluice.errors import DataSourceError, EngineError, EngineUnavailableError


class PostgresEngine(Engine):
    name = "postgres"
    dialect = "postgres"

    def __init__(self, url: str | None = None) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EngineUnavailableError(
                "the postgres engine needs psycopg", tip="pip install 'sluice-cd[postgres]'"
            ) from exc
        self._psycopg = psycopg
        url = url or os.environ.get("SLUICE_POSTGRES_URL") or os.environ.get("DATABASE_URL")
        if not url:
            raise EngineUnavailableError(
                "no PostgreSQL URL given",
                tip="pass --postgres-url postgresql://user@host/db or set SLUICE_POSTGRES_URL",
            )
        try:
            self.con = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise EngineUnavailableError(
                f"cannot connect to PostgreSQL: {str(exc).splitlines()[0]}",
                tip="check that the server runs and the URL is right",
            ) from None
        self.con.execute("SET TIME ZONE 'UTC'")

    def register(self, alias: str, data: DataRef) -> None:
        ident = exp.to_identifier(alias).sql(self.dialect)
        if data.kind == "table":
            source = exp.to_table(data.location, dialect=self.dialect).sql(self.dialect)
            try:
                # not CREATE OR REPLACE: the new relation may have other columns
                with self.con.transaction():
                    self.con.execute(f"DROP VIEW IF EXISTS pg_temp.{ident} CASCADE")
                    self.con.execute(f"CREATE TEMP VIEW {ident} AS SELECT * FROM {source}")
            except self._psycopg.Error as exc:
                raise DataSourceError(
                    f"cannot read table {data.location}: {str(exc).splitlines()[0]}"
                ) from exc
            return
        self.load_file(ident, data)

    def load_file(self, ident: str, data: DataRef, *, temporary: bool = True) -> None:
        """Load files into a table (temporary by default): DuckDB reads them, COPY writes them."""
        from sluice.engines.duckdb import DuckDBEngine

        reader = DuckDBEngine()
        try:
            reader.register("src", data)
            self.copy_from_duckdb(ident, reader, "src", temporary=temporary)
        finally:
            reader.close()

    def copy_from_duckdb(self, ident: str, reader: Any, alias: str, *,
                         temporary: bool = True) -> None:
        """(Re)create table ``ident`` from relation ``alias`` of DuckDB engine ``reader``."""
        cols = reader.columns(alias)
        rows = reader.con.execute(
            f"SELECT * FROM {exp.to_identifier(alias).sql('duckdb')}").fetchall()
        types = [_pg_type(c.type) for c in cols]
        defs = ", ".join(
            f"{exp.to_identifier(c.name).sql(self.dialect)} {t.sql(self.dialect)}"
            for c, t in zip(cols, types, strict=True)
        )
        as_json = [i for i, t in enumerate(types) if t.this == exp.DataType.Type.JSONB]
        self.con.execute(f"DROP TABLE IF EXISTS {ident}")
        self.con.execute(f"CREATE {'TEMP ' if temporary else ''}TABLE {ident} ({defs})")
        names = ", ".join(exp.to_identifier(c.name).sql(self.dialect) for c in cols)
        with self.con.cursor() as cur, cur.copy(f"COPY {ident} ({names}) FROM STDIN") as copy:
            for row in rows:
                values = list(row)
                for i in as_json:
                    values[i] = None if values[i] is None else _jsonb(values[i])
                copy.write_row(values)
        self.con.execute(f"ANALYZE {ident}")

    def columns(self, alias: str) -> list[Column]:
        ident = exp.to_identifier(alias).sql(self.dialect)
        with self.con.cursor() as cur:
            cur.execute(f"SELECT * FROM {ident} LIMIT 0")
            desc = cur.description or []
            return [Column(d.name, d.type_display, family_of(d.type_display, self.dialect))
                    for d in desc]

    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            with self.con.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
                names = [d.name for d in (cur.description or [])]
        except self._psycopg.Error as exc:
            raise EngineError(
                f"PostgreSQL failed: {str(exc).splitlines()[0]}\n  SQL: {sql}"
            ) from exc
        return names, [tuple(r) for r in rows]

    def close(self) -> None:
        self.con.close()


_T = exp.DataType.Type
#: DuckDB types PostgreSQL lacks, and what holds their values there
_PG_TYPES = {
    _T.UTINYINT: "SMALLINT", _T.USMALLINT: "INTEGER", _T.UINT: "BIGINT",
    _T.UBIGINT: "NUMERIC(20, 0)", _T.INT128: "NUMERIC(39, 0)", _T.UINT128: "NUMERIC(39, 0)",
    _T.BIGNUM: "NUMERIC", _T.TIMESTAMP_S: "TIMESTAMP", _T.TIMESTAMP_MS: "TIMESTAMP",
    _T.TIMESTAMP_NS: "TIMESTAMP", _T.BIT: "TEXT", _T.UNION: "JSONB", _T.STRUCT: "JSONB",
    _T.MAP: "JSONB",
}


def _pg_type(duckdb_type: str) -> exp.DataType:
    """The PostgreSQL column type for a DuckDB type (nested values become JSONB)."""
    try:
        dtype = exp.DataType.build(duckdb_type, dialect="duckdb")
    except (sqlglot.errors.ParseError, ValueError):  # an exotic type: keep its text
        return exp.DataType.build("TEXT")
    if dtype.this == _T.ARRAY:
        inner = dtype.expressions[0] if dtype.expressions else None
        if inner is None or not isinstance(inner, exp.DataType):
            return exp.DataType.build("JSONB")
        mapped = _pg_type(inner.sql("duckdb"))
        if mapped.this in {_T.JSONB, _T.ARRAY}:
            return exp.DataType.build("JSONB")
        return exp.DataType(this=_T.ARRAY, expressions=[mapped], nested=True)
    if dtype.this in _PG_TYPES:
        return exp.DataType.build(_PG_TYPES[dtype.this], dialect="postgres")
    return dtype


def _jsonb(value: Any) -> Any:
    import json

    from psycopg.types.json import Jsonb

    return Jsonb(value, dumps=lambda v: json.dumps(v, default=str))
