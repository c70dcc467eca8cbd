"""A SQL session on an environment's warehouse for migrations: statements in transactions,
queries with parameters. One implementation per engine (DuckDB, PostgreSQL); the AWS target
will add the Redshift Data API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sluice.errors import SluiceError


class Session(Protocol):
    engine: str  # sqlglot dialect the warehouse speaks: "duckdb", "postgres"
    transactional_ddl: bool

    def transaction(self) -> Any:
        """Context manager: everything inside commits together or not at all."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class DuckDBSession:
    engine = "duckdb"
    transactional_ddl = True

    def __init__(self, con: Any) -> None:
        self.con = con

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(sql, list(params)).fetchall()]


class PostgresSession:
    engine = "postgres"
    transactional_ddl = True

    def __init__(self, con: Any) -> None:
        self.con = con

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql.replace("?", "%s") if params else sql, list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.con.execute(sql.replace("?", "%s") if params else sql, list(params) or None)
        return [tuple(r) for r in cur.fetchall()]


def session_for(target: Any) -> Session:
    """The migration session of a target's warehouse: the target's own when it has one (the
    aws target's Redshift), else one on its SQL engine."""
    if hasattr(target, "migration_session"):
        session: Session = target.migration_session()
        return session
    engine = target.engine()
    if engine.dialect == "duckdb":
        return DuckDBSession(engine.con)
    if engine.dialect == "postgres":
        return PostgresSession(engine.con)
    raise SluiceError(f"migrations are not supported on a {engine.dialect} warehouse yet")
