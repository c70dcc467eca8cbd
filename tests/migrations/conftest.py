"""Migration sessions on both engines: DuckDB (in memory) and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sluice.migrations.session import DuckDBSession, PostgresSession, Session


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    if request.param == "duckdb":
        con = duckdb.connect()
        yield DuckDBSession(con)
        con.close()
        return
    import psycopg

    url = request.getfixturevalue("postgres_db")
    with psycopg.connect(url, autocommit=True) as con:
        yield PostgresSession(con)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
