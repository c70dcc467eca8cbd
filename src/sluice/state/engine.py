"""Where the state store lives and how to connect to it.

Resolution order: an explicit URL, then ``$SLUICE_STATE_URL``, then ``$SLUICE_HOME/state.db``,
then ``.sluice/state.db`` under the current directory. A plain libpq URL (``postgresql://``,
``postgres://``) is given the psycopg 3 driver that sluice ships with.

SQLite is tuned for several processes sharing one file: WAL journal (readers never block the
writer), a busy timeout (writers queue instead of failing), foreign keys on, and sluice's own
``BEGIN`` so DDL is transactional and write transactions take the write lock up front
(``BEGIN IMMEDIATE``): a deferred transaction that upgrades from read to write can fail with
"database is locked" without waiting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from sluice.errors import StateError
from sluice.secrecy import private_file

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "WRITE",
    "create_state_engine",
    "default_state_path",
    "display_url",
    "resolve_url",
]

BUSY_TIMEOUT_SECONDS = 30.0
# Execution option marking a connection whose transactions write (``BEGIN IMMEDIATE``).
WRITE = "sluice_write"
_URL_TIP = (
    "pass an SQLAlchemy URL such as sqlite:///path/state.db or "
    "postgresql+psycopg://user@host/db (or set SLUICE_STATE_URL)"
)


def default_state_path() -> Path:
    """``$SLUICE_HOME/state.db``, else ``.sluice/state.db`` (shared with the metric history)."""
    home = os.environ.get("SLUICE_HOME")
    return Path(home) / "state.db" if home else Path(".sluice") / "state.db"


def resolve_url(url: str | None = None) -> URL:
    """The SQLAlchemy URL of the state store (see the module docstring for the order)."""
    raw = url or os.environ.get("SLUICE_STATE_URL") or f"sqlite:///{default_state_path()}"
    try:
        parsed = make_url(raw)
    except sa.exc.ArgumentError as exc:
        raise StateError(f"invalid state store URL {raw!r}: {exc}", tip=_URL_TIP) from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: URL) -> str:
    """The URL with its password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or str(url.database).startswith("file::memory:")


def create_state_engine(url: URL) -> Engine:
    """An engine for ``url``, with SQLite configured for concurrent processes."""
    if url.get_backend_name() == "sqlite" and not _is_memory(url):
        path = Path(str(url.database)).expanduser()
        try:
            # created 0600 before SQLite opens it: its -wal and -shm files copy that mode
            private_file(path)
        except OSError as exc:
            raise StateError(
                f"cannot create the folder {path.parent} of the state store, or {path.name} "
                f"in it: {exc}",
                tip="set SLUICE_HOME or SLUICE_STATE_URL to a writable location",
            ) from exc
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StateError(
            f"cannot open the state store {display_url(url)}: {exc}",
            tip="install the driver for this URL (PostgreSQL: pip install 'sluice-cd[postgres]'); "
            + _URL_TIP,
        ) from exc
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine, wal=not _is_memory(url))
    return engine


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode = WAL``, waiting as the busy timeout would: SQLite answers a
    journal-mode change that meets another connection's lock (two processes opening a new
    store at once) with "database is locked" at once, without its busy handler."""
    import sqlite3
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand BEGIN over to us (see the module docstring): sqlite3's legacy mode skips it
        # for DDL and SELECT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            _switch_to_wal(cursor)
            # WAL + NORMAL: a commit survives a crash of sluice (what the journal needs); only
            # a power loss may drop the last commits. FULL would fsync every state write.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
