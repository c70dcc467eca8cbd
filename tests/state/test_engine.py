"""Where the store lives and how SQLite is set up for several processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.state import StateError, StateStore, resolve_url
from sluice.state.engine import BUSY_TIMEOUT_SECONDS, create_state_engine


def test_url_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    monkeypatch.delenv("SLUICE_HOME", raising=False)
    assert resolve_url().database == ".sluice/state.db"
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path))
    assert resolve_url().database == str(tmp_path / "state.db")
    monkeypatch.setenv("SLUICE_STATE_URL", "sqlite:///elsewhere.db")
    assert resolve_url().database == "elsewhere.db"
    assert resolve_url("sqlite:///explicit.db").database == "explicit.db"


def test_libpq_urls_get_the_psycopg3_driver() -> None:
    assert resolve_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


def test_bad_urls_are_state_errors() -> None:
    with pytest.raises(StateError, match="invalid state store URL") as info:
        resolve_url("not a url")
    assert info.value.tip is not None and "SLUICE_STATE_URL" in info.value.tip
    with pytest.raises(StateError, match="cannot open the state store nosuchdb://h/x"):
        StateStore("nosuchdb://h/x")


def test_messages_hide_passwords(tmp_path: Path) -> None:
    with pytest.raises(StateError) as info:
        StateStore("postgresql+psycopg://bob:hunter2@127.0.0.1:1/db?connect_timeout=1")
    assert "hunter2" not in info.value.message
    assert "bob:***@127.0.0.1" in info.value.message


def test_default_store_lands_in_sluice_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    with StateStore() as store:
        store.event("ping")
    assert (tmp_path / "home" / "state.db").is_file()


def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_state_engine(resolve_url(f"sqlite:///{tmp_path / 's.db'}"))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert timeout == int(BUSY_TIMEOUT_SECONDS * 1000)
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_in_memory_sqlite_works() -> None:
    with StateStore("sqlite://") as store:
        store.event("ping")
        assert [e.kind for e in store.events()] == ["ping"]


def test_unwritable_location_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError, match="cannot create the folder") as info:
        StateStore(f"sqlite:///{blocker / 'state.db'}")
    assert info.value.tip is not None and "SLUICE_HOME" in info.value.tip


def test_errors_name_the_store_and_action(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = StateStore(url)
    engine = create_state_engine(resolve_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE events"))
    engine.dispose()
    with pytest.raises(StateError, match=r"cannot log an event in the state store sqlite:///"):
        store.event("ping")
    store.close()
