"""DuckDB: the embedded default engine."""

from __future__ import annotations

import re
import time
from typing import Any

import duckdb
from sqlglot import exp

from sluice.engines.base import Column, DataRef, Engine, family_of
from sluice.errors import DataSourceError, EngineError, WarehouseBusyError

_READERS = {"parquet": "read_parquet", "csv": "read_csv_auto", "json": "read_json_auto"}
# DuckDB 1.x/2.x: 'Could not set lock on file "<path>": Conflicting lock is held in
# <program> (PID <n>)[ by user <name>]. However, …'
_LOCKED = "Could not set lock on file"
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)"
                     r"(?: by user (?P<user>[^.\s]+))?")


def busy_error(path: str, exc: duckdb.Error, *, waited: float = 0.0,
               what: str = "DuckDB database") -> WarehouseBusyError:
    """The error for a DuckDB file another process holds, naming that process."""
    found = _HOLDER.search(str(exc))
    holder = pid = None
    if found:
        holder = f"{found['program']} (PID {found['pid']}"
        holder += f", user {found['user']})" if found["user"] else ")"
        pid = int(found["pid"])
    by = f"by {holder}" if holder else "by another process (DuckDB does not say which)"
    after = f" after waiting {round(waited, 1):g}s" if waited > 0 else ""
    return WarehouseBusyError(
        f"cannot open the {what} {path}: it is held open {by}{after}",
        path=path, holder=holder or "", pid=pid,
        tip=f"close the session holding it ({f'PID {pid}' if pid else 'lsof ' + path}: a "
            "DuckDB CLI, notebook or BI tool), or retry with --wait SECONDS to wait for it",
    )


def connect_file(path: str, *, wait: float = 0.0, what: str = "DuckDB database",
                 read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, retrying with backoff for up to ``wait`` seconds while another
    process holds it (DuckDB allows one writing process, or many read-only ones, per file).
    Raises :class:`WarehouseBusyError` naming the holder when the wait runs out."""
    start = time.monotonic()
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if _LOCKED not in str(exc):
                raise EngineError(f"cannot open the {what} {path}: "
                                  f"{str(exc).splitlines()[0]}") from exc
            left = wait - (time.monotonic() - start)
            if left <= 0:
                raise busy_error(path, exc, waited=wait, what=what) from exc
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)


class DuckDBEngine(Engine):
    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, database: str = ":memory:", threads: int | None = None, *,
                 wait: float = 0.0, what: str = "DuckDB database") -> None:
        """``wait``: seconds to keep retrying a file another process holds open."""
        self.con = (duckdb.connect(database) if database == ":memory:"
                    else connect_file(database, wait=wait, what=what))
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
