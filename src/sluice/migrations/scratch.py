"""Scratch warehouses that ``sluice check`` replays the migrations on, with the migrator
itself (:func:`sluice.migrations.apply`), so a check that passes ran what apply will run.

- DuckDB: an in-memory database, gone when the check ends.
- PostgreSQL: a schema ``sluice_check_<random>`` on the project's server, first on the
  ``search_path``, inside one transaction that is rolled back at the end: the schema and
  everything the scripts created (in it or in schemas they name) disappear with it. Each
  statement runs in a savepoint, so a ``no-transaction`` script fails there as it would
  outside a transaction, and the history can still record it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sluice.errors import SluiceError
from sluice.migrations.copy import Load
from sluice.migrations.session import DuckDBSession, PostgresSession

CONNECT_TIMEOUT_S = 5


class ScratchUnavailable(SluiceError):
    """The scratch engine cannot be had (the message says why, without secrets)."""


@contextmanager
def duckdb_scratch(objects: Path | None = None) -> Iterator[DuckDBSession]:
    import duckdb

    con = duckdb.connect()
    try:
        yield DuckDBSession(con, objects)
    finally:
        con.close()


class _SavepointSession(PostgresSession):
    """Every statement in its own savepoint of the scratch's outer transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.con.transaction():
            super().execute(sql, params)

    def load(self, load: Load) -> None:
        with self.con.transaction():
            super().load(load)


@contextmanager
def postgres_scratch(url: str, objects: Path | None = None) -> Iterator[PostgresSession]:
    """A session whose search_path starts at a fresh schema; nothing it does persists."""
    import psycopg

    from sluice.targets.local.postgres_warehouse import _scrub

    try:
        con = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=False)
    except psycopg.Error as exc:
        raise ScratchUnavailable(_scrub(str(exc).strip().splitlines()[0], url)) from exc
    schema = f"sluice_check_{uuid.uuid4().hex[:12]}"
    try:
        with con.transaction(force_rollback=True):
            try:
                con.execute(f'CREATE SCHEMA "{schema}"')
                con.execute(f'SET LOCAL search_path TO "{schema}", public')
            except psycopg.Error as exc:
                raise ScratchUnavailable(f"cannot create a scratch schema there: "
                                         f"{str(exc).strip().splitlines()[0]}") from exc
            yield _SavepointSession(con, objects)
    finally:
        con.close()
