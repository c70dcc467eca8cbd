"""The local target with a PostgreSQL warehouse (``warehouse: postgresql://…``).

Folders, releases, the ``current`` link and ``objects/`` are those of every local target
(``LocalTargetBase``); only the warehouse differs. Dataset versions are tables in schema
``_sluice_versions`` (with the ``registry`` and ``catalog`` tables), the catalog is one view per
dataset, and publish swaps them in one PostgreSQL transaction (DDL is transactional there), so
readers see all old or all new data. PostgreSQL cannot read files: a file source is loaded
(DuckDB reads, COPY writes) into ``_sluice_sources."<name>"``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlglot import exp

from sluice.engines.base import DataRef
from sluice.engines.duckdb import DuckDBEngine
from sluice.engines.postgres import PostgresEngine
from sluice.errors import EngineUnavailableError, SluiceError
from sluice.targets.base import VersionInfo
from sluice.targets.local.target import (
    SCHEMA,
    LocalTargetBase,
    as_registrable,
    quote_ident,
    quote_qualified,
)

SOURCES = "_sluice_sources"


def mask_url(url: str) -> str:
    """``url`` with its password (in the authority or the query) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<postgresql URL>"
    if password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(query=query))


def _scrub(text: str, url: str) -> str:
    """``text`` without the password of ``url``."""
    text = text.replace(url, mask_url(url))
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password and len(password) >= 4:
        text = text.replace(password, "***")
    return text


def _ident(name: str) -> str:
    return quote_ident(name, "postgres")


def _qualified(dataset: str) -> str:
    return quote_qualified(dataset, "postgres", "public")


class LocalPostgresTarget(LocalTargetBase):
    """The local target whose warehouse is a PostgreSQL database."""

    def __init__(self, env: str, home: Path, warehouse: str, **_: Any) -> None:
        super().__init__(env, home)
        self.url = warehouse
        self._engine: PostgresEngine | None = None

    def __repr__(self) -> str:
        return f"LocalPostgresTarget({self.env!r}, {mask_url(self.url)!r})"

    # ------------------------------------------------------------------ data
    def engine(self) -> PostgresEngine:
        if self._engine is None:
            try:
                engine = PostgresEngine(self.url)
            except SluiceError as exc:
                raise EngineUnavailableError(
                    f"environment {self.env}: cannot reach its warehouse {mask_url(self.url)}: "
                    f"{_scrub(exc.message, self.url)}",
                    tip="check that the server runs and the warehouse URL in sluice.yaml",
                ) from None
            try:
                with engine.con.transaction():
                    for schema in (SCHEMA, SOURCES):
                        engine.con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
                    engine.con.execute(
                        f"CREATE TABLE IF NOT EXISTS {_ident(SCHEMA)}.registry ("
                        "dataset TEXT, version TEXT, fingerprint TEXT, nrows BIGINT, "
                        "created_at TEXT, PRIMARY KEY (dataset, version))"
                    )
                    engine.con.execute(
                        f"CREATE TABLE IF NOT EXISTS {_ident(SCHEMA)}.catalog ("
                        "dataset TEXT PRIMARY KEY, version TEXT)"
                    )
            except Exception as exc:
                engine.close()
                raise EngineUnavailableError(
                    f"environment {self.env}: cannot prepare its warehouse "
                    f"{mask_url(self.url)}: {_scrub(str(exc).splitlines()[0], self.url)}",
                    tip="the warehouse user needs CREATE on the database",
                ) from None
            self._engine = engine
        return self._engine

    def reader(self) -> Any:
        from sluice.targets.local.readers import PostgresReader

        return PostgresReader(self.env, self.url, mask_url(self.url))

    def source_sql(self, name: str, fmt: str, location: str) -> str:
        if fmt == "table":
            return exp.to_table(location, dialect="postgres").sql("postgres")
        path = self._source_path(name, fmt, location)
        table = f"{_ident(SOURCES)}.{_ident(name)}"
        engine = self.engine()
        with engine.con.transaction():  # readers see the old or the new copy
            engine.load_file(table, DataRef(str(path), fmt), temporary=False)
        return table

    def _exists(self, dataset: str, version: str) -> bool:
        row = self.engine().con.execute(
            f"SELECT 1 FROM {_ident(SCHEMA)}.registry WHERE dataset = %s AND version = %s",
            [dataset, version],
        ).fetchone()
        return row is not None

    def _register(self, dataset: str, version: str, fingerprint: str) -> int:
        """Count a version table and record it (inside the caller's transaction)."""
        con = self.engine().con
        row = con.execute(f"SELECT COUNT(*) FROM {self.version_table(dataset, version)}").fetchone()
        rows = int(row[0]) if row else 0
        con.execute(
            f"INSERT INTO {_ident(SCHEMA)}.registry VALUES (%s, %s, %s, %s, %s)",
            [dataset, version, fingerprint, rows, dt.datetime.now(dt.UTC).isoformat()],
        )
        return rows

    def create_version(self, dataset: str, version: str, fingerprint: str, select_sql: str) -> int:
        table = self.version_table(dataset, version)
        if self._exists(dataset, version):
            raise SluiceError(f"version {version} of {dataset} exists; versions are immutable")
        con = self.engine().con
        with con.transaction():
            con.execute(f"CREATE TABLE {table} AS {select_sql}")
            return self._register(dataset, version, fingerprint)

    def create_version_from(self, dataset: str, version: str, fingerprint: str,
                            data: Any) -> int:
        table = self.version_table(dataset, version)
        if self._exists(dataset, version):
            raise SluiceError(f"version {version} of {dataset} exists; versions are immutable")
        engine = self.engine()
        reader = DuckDBEngine()
        try:
            reader.con.register("sluice_out", as_registrable(data))
            with engine.con.transaction():
                engine.copy_from_duckdb(table, reader, "sluice_out", temporary=False)
                return self._register(dataset, version, fingerprint)
        finally:
            reader.close()

    def read_arrow(self, sql: str) -> Any:
        import pyarrow as pa

        names, rows = self.engine().fetch(sql)
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        sql = ("SELECT dataset, version, fingerprint, nrows, created_at "
               f"FROM {_ident(SCHEMA)}.registry")
        params: list[Any] = []
        if dataset is not None:
            sql += " WHERE dataset = %s"
            params.append(dataset)
        rows = self.engine().con.execute(
            sql + " ORDER BY created_at DESC, version DESC", params).fetchall()
        return [VersionInfo(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]

    def drop_version(self, dataset: str, version: str) -> None:
        if self.catalog().get(dataset) == version:
            raise SluiceError(f"version {version} of {dataset} is published; not dropping it")
        con = self.engine().con
        with con.transaction():
            # CASCADE: audits leave temporary views over the version on this connection
            # (a published version, the only one a catalog view uses, is refused above)
            con.execute(f"DROP TABLE IF EXISTS {self.version_table(dataset, version)} CASCADE")
            con.execute(
                f"DELETE FROM {_ident(SCHEMA)}.registry WHERE dataset = %s AND version = %s",
                [dataset, version])

    # ------------------------------------------------------------------ catalog
    def publish(self, versions: Mapping[str, str], *, exact: bool = False) -> None:
        con = self.engine().con
        current = self.catalog()
        names = sorted(versions)
        registry = {
            (r[0], r[1]) for r in con.execute(
                f"SELECT dataset, version FROM {_ident(SCHEMA)}.registry "
                "WHERE dataset = ANY(%s)", [names]).fetchall()
        }
        dropped = sorted(set(current) - set(versions)) if exact else []
        changes = {d: v for d, v in versions.items() if current.get(d) != v}
        unknown = [f"{d}@{v}" for d, v in sorted(changes.items()) if (d, v) not in registry]
        if unknown:
            raise SluiceError(f"cannot publish to {self.env}: no such version {', '.join(unknown)}",
                              tip="publish versions that create_version wrote")
        dataset = version = ""
        try:
            with con.transaction():
                for dataset, version in sorted(changes.items()):
                    schema = dataset.rpartition(".")[0] or "public"
                    if schema not in self._schemas:
                        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
                    # a view cannot change its columns in place: drop and create
                    con.execute(f"DROP VIEW IF EXISTS {_qualified(dataset)}")
                    con.execute(f"CREATE VIEW {_qualified(dataset)} AS "
                                f"SELECT * FROM {self.version_table(dataset, version)}")
                    con.execute(
                        f"INSERT INTO {_ident(SCHEMA)}.catalog VALUES (%s, %s) "
                        "ON CONFLICT (dataset) DO UPDATE SET version = EXCLUDED.version",
                        [dataset, version])
                for dataset in dropped:
                    version = "-"
                    con.execute(f"DROP VIEW IF EXISTS {_qualified(dataset)}")
                    con.execute(f"DELETE FROM {_ident(SCHEMA)}.catalog WHERE dataset = %s",
                                [dataset])
            self._schemas.update(d.rpartition(".")[0] or "public" for d in changes)
        except Exception as exc:
            raise SluiceError(
                f"publish to {self.env} failed at {dataset} (version {version}), nothing was "
                f"published: {_scrub(str(exc).splitlines()[0], self.url)}",
                tip="the catalog still points at the previous versions",
            ) from exc
