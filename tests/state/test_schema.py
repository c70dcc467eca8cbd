"""Schema versioning: fresh, idempotent, pending, transactional, refusing newer stores."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.quality.history import MetricHistory
from sluice.state import StateError, StateStore, current_version, latest_version, migrate
from sluice.state.engine import create_state_engine, resolve_url
from sluice.state.schema import MIGRATIONS, Migration, metadata

#: schema_version rows of a store migrated by this code
ALL_STEPS = [(i + 1, m.description) for i, m in enumerate(MIGRATIONS)]


def _version_rows(url: str) -> list[tuple[int, str]]:
    engine = create_state_engine(resolve_url(url))
    try:
        with engine.connect() as conn:
            return [
                (r.version, r.description)
                for r in conn.execute(
                    sa.text("SELECT version, description FROM schema_version ORDER BY version")
                )
            ]
    finally:
        engine.dispose()


def test_fresh_store_is_migrated_to_latest(state_url: str) -> None:
    with StateStore(state_url) as store:
        assert store.schema_version == latest_version() == len(MIGRATIONS)
    engine = create_state_engine(resolve_url(state_url))
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {t.name for t in metadata.sorted_tables} <= tables
    assert _version_rows(state_url) == ALL_STEPS


def test_reopening_applies_nothing(state_url: str) -> None:
    StateStore(state_url).close()
    with StateStore(state_url) as store:
        store.event("ping")
    StateStore(state_url).close()
    assert _version_rows(state_url) == ALL_STEPS


def test_refuses_a_store_written_by_newer_code(state_url: str) -> None:
    StateStore(state_url).close()
    engine = create_state_engine(resolve_url(state_url))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO schema_version (version, description, applied_at) "
                "VALUES (99, 'from the future', '2099-01-01T00:00:00+00:00')"
            )
        )
    engine.dispose()
    with pytest.raises(StateError, match=rf"schema version 99.*up to {len(MIGRATIONS)}") as info:
        StateStore(state_url)
    assert info.value.tip is not None and "upgrade sluice" in info.value.tip


def test_pending_migrations_are_applied_in_order(state_url: str) -> None:
    StateStore(state_url).close()
    applied: list[str] = []

    def add_notes(conn: sa.Connection) -> None:
        applied.append("notes")
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))

    def add_tags(conn: sa.Connection) -> None:
        applied.append("tags")
        conn.execute(sa.text("CREATE TABLE tags (id INTEGER PRIMARY KEY)"))

    steps = [*MIGRATIONS, Migration("notes", add_notes), Migration("tags", add_tags)]
    engine = create_state_engine(resolve_url(state_url))
    try:
        assert migrate(engine, steps) == len(MIGRATIONS) + 2
        assert migrate(engine, steps) == len(MIGRATIONS) + 2  # idempotent
        with engine.connect() as conn:
            assert current_version(conn) == len(MIGRATIONS) + 2
            assert {"notes", "tags"} <= set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert applied == ["notes", "tags"]


def test_a_failing_migration_leaves_the_store_untouched(state_url: str) -> None:
    StateStore(state_url).close()

    def half_done(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE half (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("boom")

    engine = create_state_engine(resolve_url(state_url))
    try:
        with pytest.raises(RuntimeError, match="boom"):
            migrate(engine, [*MIGRATIONS, Migration("half", half_done)])
        with engine.connect() as conn:
            assert current_version(conn) == len(MIGRATIONS)
            assert not sa.inspect(conn).has_table("half")  # DDL rolled back too
    finally:
        engine.dispose()


def test_shares_the_sqlite_file_with_the_metric_history(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    history = MetricHistory(path)
    history.record("sales.orders", "run1", {"rows": 10.0})
    with StateStore(f"sqlite:///{path}") as store:
        store.event("ping")
    history.record("sales.orders", "run2", {"rows": 12.0})
    assert history.last("sales.orders", "rows", 5) == [10.0, 12.0]
    history.close()
    # And the other way round: the history opens a file the store created.
    other = tmp_path / "other.db"
    StateStore(f"sqlite:///{other}").close()
    again = MetricHistory(other)
    again.record("d", "r", {"m": 1.0})
    assert again.last("d", "m", 1) == [1.0]
    again.close()
    with StateStore(f"sqlite:///{other}") as store:
        assert store.events(kind="ping") == []


def _open(url: str) -> None:
    StateStore(url).close()


def test_processes_opening_a_fresh_store_at_once_migrate_it_once(state_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open, args=(state_url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert _version_rows(state_url) == ALL_STEPS
