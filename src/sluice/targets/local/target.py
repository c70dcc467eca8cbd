"""Local target: ``envs/<env>/`` with releases, a ``current`` link, a DuckDB warehouse and
an ``objects/`` folder standing in for S3.

Dataset versions are tables in the ``_sluice_versions`` schema; the catalog is one view per
dataset (``schema.name``) swapped in a single DuckDB transaction, so publish and rollback cost
the same for ten rows or ten million.

``LocalTargetBase`` holds what every local warehouse shares (folders, releases, the
``current`` link, ``objects/``); ``LocalTarget`` is the DuckDB warehouse and
``postgres_warehouse.LocalPostgresTarget`` the PostgreSQL one. ``make_local_target`` picks one
from the ``warehouse`` option.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from sluice.engines.base import Engine
from sluice.engines.duckdb import DuckDBEngine
from sluice.errors import DataSourceError, ReleaseError, SluiceError, WarehouseBusyError
from sluice.release import ArtifactStore, Manifest, materialize
from sluice.secrecy import private_dir, private_file
from sluice.targets.base import Capabilities, Target, VersionInfo

SCHEMA = "_sluice_versions"
_READERS = {"csv": "read_csv_auto", "json": "read_json_auto", "parquet": "read_parquet"}


def quote_ident(name: str, dialect: str = "duckdb") -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect)


def quote_qualified(dataset: str, dialect: str = "duckdb", default_schema: str = "main") -> str:
    """``schema.name`` quoted for ``dialect``; an unqualified name gets ``default_schema``."""
    schema, _, name = dataset.rpartition(".")
    return f"{quote_ident(schema or default_schema, dialect)}.{quote_ident(name, dialect)}"


class LocalTargetBase(Target):
    """The folders of an environment; subclasses add the warehouse."""

    name = "local"
    capabilities = Capabilities(transactional_publish=True, sql_engine=True)

    def __init__(self, env: str, home: Path, **_: Any) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", env):
            raise SluiceError(f"invalid environment name {env!r}")
        self.env = env
        self.dir = Path(home) / "envs" / env
        self.objects = self.dir / "objects"
        self.releases = self.dir / "releases"
        private_dir(self.dir, tighten=True)  # 0700 like the home: the environment's data
        for d in (self.objects, self.releases):
            private_dir(d)
        self._schemas: set[str] = set()  # schemas known to exist in this warehouse
        self._engine: Engine | None = None

    def catalog(self) -> dict[str, str]:
        _, rows = self.engine().fetch(f"SELECT dataset, version FROM {quote_ident(SCHEMA)}.catalog")
        return {r[0]: r[1] for r in rows}

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    # ------------------------------------------------------------------ code
    def release_dir(self, release_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{6,64}", release_id):
            raise ReleaseError(f"invalid release id {release_id!r}")
        return self.releases / release_id

    def install_release(self, store: ArtifactStore, manifest: Manifest) -> Path:
        dest = self.release_dir(manifest.id)
        materialize(store, manifest, dest)
        return dest

    def activate_release(self, release_id: str) -> None:
        target = self.release_dir(release_id)
        if not target.is_dir():
            raise ReleaseError(f"release {release_id} is not installed in {self.env}")
        link = self.dir / "current"
        tmp = self.dir / f".current-{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(Path("releases") / release_id)
        os.replace(tmp, link)  # atomic on POSIX: readers see the old or the new release

    def current_release(self) -> str | None:
        link = self.dir / "current"
        return Path(os.readlink(link)).name if link.is_symlink() else None

    # ------------------------------------------------------------------ shared data helpers
    def _source_path(self, name: str, fmt: str, location: str) -> Path:
        """The resolved path (or glob) of a file source in objects/, checked to exist."""
        path = (self.objects / location).resolve()
        if not path.is_relative_to(self.objects.resolve()):
            raise DataSourceError(f"source {name}: {location!r} points outside objects/")
        found = any(self.objects.glob(location)) if "*" in location else path.exists()
        if not found:
            raise DataSourceError(
                f"source {name}: no {fmt} file matches {path} in {self.env}'s object store",
                tip=f"copy the files into it:  sluice load {self.env} DIR  (DIR holding "
                    f"{location})",
            )
        return path

    def load_objects(self, folder: Path) -> int:
        files = [p for p in folder.rglob("*") if p.is_file()]
        shutil.copytree(folder, self.objects, dirs_exist_ok=True)
        private_dir(self.objects, tighten=True)  # copytree gave it the mode of `folder`
        return len(files)

    def objects_url(self) -> str:
        return str(self.objects)

    def version_table(self, dataset: str, version: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_]+", version):
            raise SluiceError(f"invalid version id {version!r}")
        return f"{quote_ident(SCHEMA)}.{quote_ident(dataset.replace('.', '__') + '__' + version)}"


def as_registrable(data: Any) -> Any:
    """What a DuckDB connection can register: a relation of any connection becomes Arrow."""
    if isinstance(data, duckdb.DuckDBPyRelation):
        return data.to_arrow_table()
    return data


def create_version_through_view(target: Target, con: duckdb.DuckDBPyConnection, dataset: str,
                                version: str, fingerprint: str, data: Any) -> int:
    """``create_version_from`` for targets whose engine is DuckDB: register the data on the
    connection under a view and let ``create_version`` SELECT from it."""
    view = f"sluice_out_{abs(hash((dataset, version))) % 10**8}"
    con.register(view, as_registrable(data))
    try:
        return target.create_version(dataset, version, fingerprint, f"SELECT * FROM {view}")
    finally:
        con.unregister(view)


def make_local_target(env: str, home: Path, warehouse: str | None = None,
                      **options: Any) -> LocalTargetBase:
    """The local target of ``env``: DuckDB by default, PostgreSQL for a postgresql:// URL."""
    if warehouse is None or warehouse == "duckdb":
        return LocalTarget(env=env, home=home, **options)
    if warehouse.startswith(("postgresql://", "postgres://")):
        from sluice.targets.local.postgres_warehouse import LocalPostgresTarget

        return LocalPostgresTarget(env=env, home=home, warehouse=warehouse, **options)
    # never echo the value: a database URL may carry a password
    raise SluiceError(f"environment {env}: unsupported warehouse for the local target",
                      tip="use 'duckdb' or a postgresql:// URL")


class LocalTarget(LocalTargetBase):
    """The local target with a DuckDB warehouse (``envs/<env>/warehouse.duckdb``)."""

    def __init__(self, env: str, home: Path, warehouse: str | None = None, **_: Any) -> None:
        if warehouse not in (None, "duckdb"):
            raise SluiceError(f"environment {env}: the DuckDB local target got another warehouse",
                              tip="create it with make_local_target")
        super().__init__(env, home)
        self._engine: DuckDBEngine | None = None

    # ------------------------------------------------------------------ data
    def engine(self) -> DuckDBEngine:
        if self._engine is None:
            try:
                self._engine = DuckDBEngine(str(self.dir / "warehouse.duckdb"),
                                            wait=self.open_wait,
                                            what=f"warehouse of {self.env}")
            except WarehouseBusyError as exc:
                self.open_wait = 0.0  # spent: the undo that follows must not wait again
                exc.tip = (f"{exc.tip}. sluice needs {self.env}'s warehouse to itself while "
                           "it deploys, runs, rolls back or collects garbage: open it only "
                           "while no sluice command runs on it")
                raise
            # DuckDB refuses a file created empty beforehand: make it 0600 once it exists
            # (its folder is 0700, so nobody else could open it meanwhile)
            private_file(self.dir / "warehouse.duckdb")
            con = self._engine.con
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(SCHEMA)}")
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {quote_ident(SCHEMA)}.registry ("
                "dataset VARCHAR, version VARCHAR, fingerprint VARCHAR, nrows BIGINT, "
                "created_at VARCHAR, PRIMARY KEY (dataset, version))"
            )
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {quote_ident(SCHEMA)}.catalog ("
                "dataset VARCHAR PRIMARY KEY, version VARCHAR)"
            )
        return self._engine

    def reader(self) -> Any:
        from sluice.targets.local.readers import DuckDBReader

        return DuckDBReader(self.env, self.dir / "warehouse.duckdb", self.objects)

    def source_sql(self, name: str, fmt: str, location: str) -> str:
        if fmt == "table":
            return exp.to_table(location).sql("duckdb")
        path = self._source_path(name, fmt, location)
        return f"{_READERS[fmt]}({exp.Literal.string(str(path)).sql('duckdb')})"

    def create_version(self, dataset: str, version: str, fingerprint: str, select_sql: str) -> int:
        con = self.engine().con
        table = self.version_table(dataset, version)
        exists = con.execute(
            f"SELECT 1 FROM {quote_ident(SCHEMA)}.registry WHERE dataset = ? AND version = ?",
            [dataset, version],
        ).fetchone()
        if exists:
            raise SluiceError(f"version {version} of {dataset} exists; versions are immutable")
        try:
            con.execute("BEGIN")
            con.execute(f"CREATE TABLE {table} AS {select_sql}")
            row = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            rows = int(row[0]) if row else 0
            con.execute(
                f"INSERT INTO {quote_ident(SCHEMA)}.registry VALUES (?, ?, ?, ?, ?)",
                [dataset, version, fingerprint, rows, dt.datetime.now(dt.UTC).isoformat()],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        return rows

    def read_arrow(self, sql: str) -> Any:
        return self.engine().con.sql(sql).to_arrow_table()

    def create_version_from(self, dataset: str, version: str, fingerprint: str,
                            data: Any) -> int:
        return create_version_through_view(self, self.engine().con, dataset, version,
                                           fingerprint, data)

    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        con = self.engine().con
        sql = ("SELECT dataset, version, fingerprint, nrows, created_at "
               f"FROM {quote_ident(SCHEMA)}.registry")
        params: list[Any] = []
        if dataset is not None:
            sql += " WHERE dataset = ?"
            params.append(dataset)
        rows = con.execute(sql + " ORDER BY created_at DESC, version DESC", params).fetchall()
        return [VersionInfo(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]

    def drop_version(self, dataset: str, version: str) -> None:
        if self.catalog().get(dataset) == version:
            raise SluiceError(f"version {version} of {dataset} is published; not dropping it")
        con = self.engine().con
        con.execute("BEGIN")
        con.execute(f"DROP TABLE IF EXISTS {self.version_table(dataset, version)}")
        con.execute(f"DELETE FROM {quote_ident(SCHEMA)}.registry WHERE dataset = ? AND version = ?",
                    [dataset, version])
        con.execute("COMMIT")

    # ------------------------------------------------------------------ catalog
    def publish(self, versions: Mapping[str, str], *, exact: bool = False) -> None:
        con = self.engine().con
        # one round trip reads the catalog and the registry entries of the named datasets
        names = sorted(versions)
        marks = ", ".join("?" for _ in names) or "NULL"
        found = con.execute(
            f"SELECT 'c', dataset, version FROM {quote_ident(SCHEMA)}.catalog UNION ALL "
            f"SELECT 'r', dataset, version FROM {quote_ident(SCHEMA)}.registry "
            f"WHERE dataset IN ({marks})", names).fetchall()
        current = {d: v for k, d, v in found if k == "c"}
        registry = {(d, v) for k, d, v in found if k == "r"}
        dropped = sorted(set(current) - set(versions)) if exact else []
        # entries that already point at their version need no swap (a rollback usually
        # changes a few datasets of many)
        changes = {d: v for d, v in versions.items() if current.get(d) != v}
        unknown = [f"{d}@{v}" for d, v in sorted(changes.items()) if (d, v) not in registry]
        if unknown:
            raise SluiceError(f"cannot publish to {self.env}: no such version {', '.join(unknown)}",
                              tip="publish versions that create_version wrote")
        dataset = version = ""
        con.execute("BEGIN")
        try:
            for dataset, version in sorted(changes.items()):
                schema = dataset.rpartition(".")[0] or "main"
                if schema not in self._schemas:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
                con.execute(f"CREATE OR REPLACE VIEW {quote_qualified(dataset)} AS "
                            f"SELECT * FROM {self.version_table(dataset, version)}")
                con.execute(f"INSERT OR REPLACE INTO {quote_ident(SCHEMA)}.catalog VALUES (?, ?)",
                            [dataset, version])
            for dataset in dropped:
                version = "-"
                con.execute(f"DROP VIEW IF EXISTS {quote_qualified(dataset)}")
                con.execute(f"DELETE FROM {quote_ident(SCHEMA)}.catalog WHERE dataset = ?",
                            [dataset])
            con.execute("COMMIT")
            self._schemas.update(d.rpartition(".")[0] or "main" for d in changes)
        except Exception as exc:
            con.execute("ROLLBACK")
            raise SluiceError(
                f"publish to {self.env} failed at {dataset} (version {version}), nothing was "
                f"published: {str(exc).splitlines()[0]}",
                tip="the catalog still points at the previous versions",
            ) from exc
