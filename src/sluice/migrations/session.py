"""A SQL session on an environment's warehouse for migrations: statements in transactions,
queries with parameters. One implementation per engine (DuckDB, PostgreSQL); the AWS target
will add the Redshift Data API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sluice.errors import SluiceError

if TYPE_CHECKING:
    from sluice.migrations.copy import Load


class Session(Protocol):
    engine: str  # sqlglot dialect the warehouse speaks: "duckdb", "postgres"
    transactional_ddl: bool
    objects: Path | None  # the local object store a translated COPY reads, if any

    def transaction(self) -> Any:
        """Context manager: everything inside commits together or not at all."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class DuckDBSession:
    engine = "duckdb"
    transactional_ddl = True

    def __init__(self, con: Any, objects: Path | None = None) -> None:
        self.con = con
        self.objects = objects

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

    def __init__(self, con: Any, objects: Path | None = None) -> None:
        self.con = con
        self.objects = objects

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql.replace("?", "%s") if params else sql, list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.con.execute(sql.replace("?", "%s") if params else sql, list(params) or None)
        return [tuple(r) for r in cur.fetchall()]

    def load(self, load: Load) -> None:
        """A translated COPY: DuckDB reads the files, PostgreSQL takes them as CSV."""
        import tempfile

        import duckdb

        with tempfile.TemporaryDirectory(prefix="sluice-copy-") as tmp:
            csv = Path(tmp) / "rows.csv"
            reader = duckdb.connect()
            try:
                reader.execute(f"COPY ({load.select}) TO '{csv}' (FORMAT csv, HEADER false)")
            finally:
                reader.close()
            cols = f" ({', '.join(load.columns)})" if load.columns else ""
            with self.con.cursor().copy(f"COPY {load.table}{cols} FROM STDIN (FORMAT csv)") \
                    as out, csv.open("rb") as rows:
                while chunk := rows.read(1 << 20):
                    out.write(chunk)


def session_for(target: Any) -> Session:
    """The migration session of a target's warehouse: the target's own when it has one (the
    aws target's Redshift), else one on its SQL engine."""
    if hasattr(target, "migration_session"):
        session: Session = target.migration_session()
        return session
    engine = target.engine()
    objects = getattr(target, "objects", None)  # the local targets' object store
    if engine.dialect == "duckdb":
        return DuckDBSession(engine.con, objects)
    if engine.dialect == "postgres":
        return PostgresSession(engine.con, objects)
    raise SluiceError(f"migrations are not supported on a {engine.dialect} warehouse yet")
