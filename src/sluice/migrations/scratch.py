"""Scratch warehouses that ``sluice check`` replays the migrations on, with the migrator
itself (:func:`sluice.migrations.apply`), so a check that passes ran what apply will run.

- DuckDB: an in-memory database, gone when the check ends, without file or network access
  (only the object store a translated COPY reads).
- PostgreSQL: a throw-away database ``sluice_check_<random>`` created on the project's server
  (the check's role needs CREATEDB) and dropped at the end: a pull request's scripts never
  run in, read or commit to the environment's own database, and run as apply runs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sluice.errors import SluiceError
from sluice.migrations.session import DuckDBSession, PostgresSession

CONNECT_TIMEOUT_S = 5


class ScratchUnavailable(SluiceError):
    """The scratch engine cannot be had (the message says why, without secrets)."""


@contextmanager
def duckdb_scratch(objects: Path | None = None) -> Iterator[DuckDBSession]:
    import duckdb

    con = duckdb.connect()
    try:
        _sandbox(con, objects)
        yield DuckDBSession(con, objects)
    finally:
        con.close()


def _sandbox(con: Any, objects: Path | None) -> None:
    """A pull request's scripts run here: no file or network access (no ATTACH of another
    warehouse, no COPY TO, no read_text), except reading the object store sluice's own COPY
    translation reads; locked so that no script can turn it back on."""
    if objects is not None:
        allowed = str(objects.resolve()).replace("'", "''").rstrip("/") + "/"
        con.execute(f"SET allowed_directories = ['{allowed}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


@contextmanager
def postgres_scratch(url: str, objects: Path | None = None) -> Iterator[PostgresSession]:
    """A session on a throw-away database ``sluice_check_<random>`` of the server: the
    scripts never see (or commit to) the environment's own database, and run exactly as
    apply runs them (a transaction per script, none for ``no-transaction`` ones)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    from sluice.targets.local.postgres_warehouse import _scrub

    def connect(conninfo: str, autocommit: bool) -> Any:
        try:
            return psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S,
                                   autocommit=autocommit)
        except psycopg.Error as exc:
            raise ScratchUnavailable(_scrub(str(exc).strip().splitlines()[0], url)) from exc

    name = f"sluice_check_{uuid.uuid4().hex[:12]}"
    admin = connect(url, True)
    try:
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as exc:
            raise ScratchUnavailable(
                f"cannot create a scratch database there ({str(exc).strip().splitlines()[0]}); "
                "grant the check's role CREATEDB to run the scripts on PostgreSQL") from exc
        try:
            con = connect(make_conninfo(url, dbname=name), True)
            try:
                yield PostgresSession(con, objects)
            finally:
                con.close()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
