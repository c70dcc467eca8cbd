"""Read-only readers of the local target's warehouses (:mod:`sluice.targets.reader`).

DuckDB: ``warehouse.duckdb`` opened with ``read_only=True`` (many readers may share the file,
never with a writer: a deploy in progress makes this a :class:`WarehouseBusyError`). The file
sources a query names are copied into temporary tables first; then ``enable_external_access``
is switched off and the configuration locked, so no function can read or write a file, attach
a database or load an extension, whatever SQL reaches the connection.

PostgreSQL: a session with ``default_transaction_read_only = on``; every query runs inside
``BEGIN READ ONLY`` … ``ROLLBACK``. File sources are the ``_sluice_sources`` tables a deploy
loaded (a reader never loads them: that would write).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from sluice.engines.base import DataRef, Engine
from sluice.engines.duckdb import DuckDBEngine, connect_file
from sluice.engines.postgres import PostgresEngine
from sluice.errors import DataSourceError, EngineError, SluiceError, WarehouseBusyError
from sluice.targets.base import VersionInfo
from sluice.targets.reader import SourceSpec, WarehouseReader

SCHEMA = "_sluice_versions"
SOURCES = "_sluice_sources"
_READERS = {"csv": "read_csv_auto", "json": "read_json_auto", "parquet": "read_parquet"}


def _ident(name: str, dialect: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect)


def _version_table(dataset: str, version: str, dialect: str) -> str:
    return (f"{_ident(SCHEMA, dialect)}."
            f"{_ident(dataset.replace('.', '__') + '__' + version, dialect)}")


def never_deployed(env: str) -> SluiceError:
    return SluiceError(f"{env} has no warehouse yet: nothing was ever deployed there",
                       tip=f"deploy first:  sluice deploy {env}")


class _Engine(DuckDBEngine):
    """A DuckDB engine over an existing (read-only) connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def close(self) -> None:  # the reader owns the connection
        return None


class DuckDBReader(WarehouseReader):
    """The DuckDB warehouse of a local environment, read-only."""

    dialect = "duckdb"

    def __init__(self, env: str, path: Path, objects: Path) -> None:
        if not path.is_file():
            raise never_deployed(env)
        self.env = env
        self.objects = objects
        try:
            self.con = connect_file(str(path), read_only=True, what=f"warehouse of {env}")
        except WarehouseBusyError as exc:
            exc.tip = (f"a deploy, run, promote, rollback or gc is writing {env}'s warehouse "
                       "(or another program holds it open for writing): run this again "
                       "when it is done")
            raise
        self.con.execute("SET TimeZone = 'UTC'")
        self._locked = False

    def catalog(self) -> dict[str, str]:
        rows = self.con.execute(
            f"SELECT dataset, version FROM {_ident(SCHEMA, 'duckdb')}.catalog").fetchall()
        return {r[0]: r[1] for r in rows}

    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        sql = ("SELECT dataset, version, fingerprint, nrows, created_at "
               f"FROM {_ident(SCHEMA, 'duckdb')}.registry")
        params: list[Any] = []
        if dataset is not None:
            sql += " WHERE dataset = ?"
            params.append(dataset)
        rows = self.con.execute(sql + " ORDER BY created_at DESC, version DESC",
                                params).fetchall()
        return [VersionInfo(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]

    def version_relation(self, dataset: str, version: str) -> str:
        return _version_table(dataset, version, "duckdb")

    def attach_sources(self, sources: Mapping[str, SourceSpec]) -> dict[str, str]:
        out: dict[str, str] = {}
        root = self.objects.resolve()
        for i, (name, spec) in enumerate(sorted(sources.items())):
            if spec.format == "table":
                out[name] = exp.to_table(spec.location, dialect="duckdb").sql("duckdb")
                continue
            path = (self.objects / spec.location).resolve()
            if not path.is_relative_to(root):
                raise DataSourceError(f"source {name}: {spec.location!r} points outside "
                                      "objects/")
            temp = f"sluice_source_{i}"
            try:
                self.con.execute(
                    f"CREATE TEMP TABLE {temp} AS SELECT * FROM "
                    f"{_READERS[spec.format]}({exp.Literal.string(str(path)).sql('duckdb')})")
            except duckdb.Error as exc:
                raise DataSourceError(
                    f"source {name}: cannot read {spec.location} in {self.env}'s object "
                    f"store: {str(exc).splitlines()[0]}",
                    tip=f"copy the files into it:  sluice load {self.env} DIR") from exc
            out[name] = f"temp.main.{temp}"
        self._lock()
        return out

    def _lock(self) -> None:
        if not self._locked:
            self.con.execute("SET enable_external_access = false")
            self.con.execute("SET lock_configuration = true")
            self._locked = True

    def fetch(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        self._lock()
        try:
            cur = self.con.execute(sql)
            rows = cur.fetchall() if limit is None else cur.fetchmany(limit)
        except duckdb.Error as exc:
            raise EngineError(f"DuckDB failed: {str(exc).splitlines()[0]}") from exc
        return [d[0] for d in (cur.description or [])], rows

    def column_count(self, relation: str) -> int:
        return len(self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall())

    def engine(self) -> Engine:
        self._lock()
        return _Engine(self.con)

    def close(self) -> None:
        self.con.close()


class _PgEngine(PostgresEngine):
    """A PostgreSQL engine over the reader's read-only session: DQDL's SQL runs in read-only
    transactions; only the temporary view of a dataset version (sluice's own two statements,
    over a relation the reader named) is created in a read-write one."""

    def __init__(self, reader: PostgresReader) -> None:
        self._reader = reader
        self._psycopg = reader._pg._psycopg
        self.con = reader.con

    def register(self, alias: str, data: DataRef) -> None:
        if data.kind != "table":
            raise DataSourceError(f"{self._reader.env}'s warehouse reads its own tables only")
        ident = exp.to_identifier(alias).sql(self.dialect)
        source = exp.to_table(data.location, dialect=self.dialect).sql(self.dialect)
        try:
            with self.con.transaction():
                self.con.execute("SET TRANSACTION READ WRITE")  # temporary objects only
                self.con.execute(f"DROP VIEW IF EXISTS pg_temp.{ident}")
                self.con.execute(f"CREATE TEMP VIEW {ident} AS SELECT * FROM {source}")
        except self._psycopg.Error as exc:
            raise DataSourceError(
                f"cannot read table {data.location}: {str(exc).splitlines()[0]}") from exc

    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        return self._reader.fetch(sql)

    def close(self) -> None:
        return None


class PostgresReader(WarehouseReader):
    """The PostgreSQL warehouse of a local environment, in read-only transactions."""

    dialect = "postgres"

    def __init__(self, env: str, url: str, masked: str) -> None:
        self.env = env
        try:
            self._pg = PostgresEngine(url)
        except SluiceError as exc:
            raise SluiceError(f"environment {env}: cannot reach its warehouse {masked}",
                              tip="check that the server runs and the warehouse URL in "
                                  "sluice.yaml") from exc
        self.con = self._pg.con
        # every transaction of this session is read-only unless it says otherwise, and
        # queries below say READ ONLY explicitly
        self.con.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        self.con.execute("SET default_transaction_read_only = on")
        row = self.con.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.catalog"]).fetchone()
        if row is None or row[0] is None:
            self.close()
            raise never_deployed(env)

    def _read(self, sql: str, params: list[Any] | None = None,
              limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        psycopg = self._pg._psycopg
        try:
            self.con.execute("BEGIN TRANSACTION READ ONLY")
            try:
                with self.con.cursor() as cur:
                    cur.execute(sql, params)
                    rows = cur.fetchall() if limit is None else cur.fetchmany(limit)
                    names = [d.name for d in (cur.description or [])]
            finally:
                self.con.execute("ROLLBACK")
        except psycopg.Error as exc:
            raise EngineError(f"PostgreSQL failed: {str(exc).splitlines()[0]}") from exc
        return names, [tuple(r) for r in rows]

    def catalog(self) -> dict[str, str]:
        _, rows = self._read(f"SELECT dataset, version FROM {_ident(SCHEMA, 'postgres')}.catalog")
        return {r[0]: r[1] for r in rows}

    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        sql = ("SELECT dataset, version, fingerprint, nrows, created_at "
               f"FROM {_ident(SCHEMA, 'postgres')}.registry")
        params: list[Any] = []
        if dataset is not None:
            sql += " WHERE dataset = %s"
            params.append(dataset)
        _, rows = self._read(sql + " ORDER BY created_at DESC, version DESC", params)
        return [VersionInfo(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]

    def version_relation(self, dataset: str, version: str) -> str:
        return _version_table(dataset, version, "postgres")

    def attach_sources(self, sources: Mapping[str, SourceSpec]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, spec in sources.items():
            if spec.format == "table":
                out[name] = exp.to_table(spec.location, dialect="postgres").sql("postgres")
                continue
            relation = f"{_ident(SOURCES, 'postgres')}.{_ident(name, 'postgres')}"
            _, found = self._read("SELECT to_regclass(%s)", [relation])
            if not found or found[0][0] is None:
                raise DataSourceError(
                    f"source {name} is not loaded into {self.env}'s PostgreSQL warehouse yet "
                    "(a deploy loads the file sources its jobs read)",
                    tip=f"query the datasets instead, or deploy {self.env} first")
            out[name] = relation
        return out

    def fetch(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        return self._read(sql, None, limit)

    def column_count(self, relation: str) -> int:
        names, _ = self._read(f"SELECT * FROM {relation} LIMIT 0")
        return len(names)

    def engine(self) -> Engine:
        return _PgEngine(self)

    def close(self) -> None:
        self._pg.close()
