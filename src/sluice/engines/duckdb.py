"""DuckDB: the embedded default engine."""

from __future__ import annotations

from typing import Any

import duckdb
from sqlglot import exp

from sluice.engines.base import Column, DataRef, Engine, family_of
from sluice.errors import DataSourceError, EngineError

_READERS = {"parquet": "read_parquet", "csv": "read_csv_auto", "json": "read_json_auto"}


class DuckDBEngine(Engine):
    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, database: str = ":memory:", threads: int | None = None) -> None:
        self.con = duckdb.connect(database)
        self.con.execute("SET TimeZone = 'UTC'")
        # results carry no order without ORDER BY; letting DuckDB drop it speeds up scans
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def register(self, alias: str, data: DataRef) -> None:
        if data.kind == "table":
            source: exp.Expr = exp.to_table(data.location, dialect=self.dialect)
        else:
            source = exp.func(_READERS[data.kind], exp.Literal.string(data.location))
        view = exp.Create(
            this=exp.to_table(alias),
            kind="VIEW",
            replace=True,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            expression=exp.select("*").from_(source),
        )
        try:
            self.con.execute(view.sql(self.dialect))
            self.con.execute(f"SELECT * FROM {exp.to_identifier(alias).sql(self.dialect)} LIMIT 0")
        except duckdb.Error as exc:
            raise DataSourceError(
                f"cannot read {data.kind} {data.location}: {str(exc).splitlines()[0]}",
                tip="check the path or table name and that the file is valid",
            ) from exc

    def columns(self, alias: str) -> list[Column]:
        rows = self.con.execute(
            f"DESCRIBE SELECT * FROM {exp.to_identifier(alias).sql(self.dialect)}"
        ).fetchall()
        return [Column(r[0], r[1], family_of(r[1], self.dialect)) for r in rows]

    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cur = self.con.execute(sql)
            rows = cur.fetchall()
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed: {str(exc).splitlines()[0]}\n  SQL: {sql}") from exc
        names = [d[0] for d in (cur.description or [])]
        return names, rows

    def close(self) -> None:
        self.con.close()
