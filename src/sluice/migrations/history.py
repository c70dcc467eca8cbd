"""The schema history table, in the shape of Flyway's ``flyway_schema_history`` so that teams
can switch between Flyway and sluice in either direction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sluice.migrations.session import Session

TABLE = "flyway_schema_history"

_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    installed_rank INTEGER NOT NULL PRIMARY KEY,
    version VARCHAR(50),
    description VARCHAR(200) NOT NULL,
    type VARCHAR(20) NOT NULL,
    script VARCHAR(1000) NOT NULL,
    checksum INTEGER,
    installed_by VARCHAR(100) NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    execution_time INTEGER NOT NULL,
    success BOOLEAN NOT NULL
)"""
_COLUMNS = ("installed_rank, version, description, type, script, checksum, installed_by, "
            "installed_on, execution_time, success")


@dataclass(frozen=True)
class HistoryRow:
    installed_rank: int
    version: str | None
    description: str
    type: str  # "SQL" (versioned or repeatable), "UNDO_SQL"
    script: str
    checksum: int | None
    installed_by: str
    installed_on: dt.datetime
    execution_time: int  # milliseconds
    success: bool


def ensure(session: Session) -> None:
    session.execute(_DDL)


def rows(session: Session) -> list[HistoryRow]:
    ensure(session)
    found = session.query(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY installed_rank")
    return [HistoryRow(int(r[0]), r[1], r[2], r[3], r[4], None if r[5] is None else int(r[5]),
                       r[6], r[7], int(r[8]), bool(r[9])) for r in found]


def append(session: Session, *, version: str | None, description: str, type_: str,
           script: str, checksum: int | None, installed_by: str, execution_ms: int,
           success: bool = True) -> None:
    """Add a row with the next rank (call inside the migration's transaction)."""
    rank = session.query(f"SELECT COALESCE(MAX(installed_rank), 0) + 1 FROM {TABLE}")[0][0]
    session.execute(
        f"INSERT INTO {TABLE} (installed_rank, version, description, type, script, checksum, "
        "installed_by, execution_time, success) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [int(rank), version, description[:200], type_, script, checksum, installed_by[:100],
         execution_ms, success])


def delete_failed(session: Session) -> int:
    n = session.query(f"SELECT COUNT(*) FROM {TABLE} WHERE NOT success")[0][0]
    session.execute(f"DELETE FROM {TABLE} WHERE NOT success")
    return int(n)


def set_checksum(session: Session, rank: int, checksum: int, description: str) -> None:
    session.execute(f"UPDATE {TABLE} SET checksum = ?, description = ? WHERE installed_rank = ?",
                    [checksum, description, rank])
