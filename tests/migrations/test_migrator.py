"""apply / status / validate / repair / undo on DuckDB and a real PostgreSQL server."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from sluice.migrations import MigrationError, apply, plan, repair, status, undo_migrations
from sluice.migrations.history import rows
from sluice.migrations.scripts import load_scripts
from sluice.migrations.session import DuckDBSession, Session

from .conftest import write

ME = "alice"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    m = tmp_path / "migrations"
    write(m, "V1__create_regions.sql",
          "CREATE TABLE regions (id INT NOT NULL, name VARCHAR(40));\n"
          "INSERT INTO regions VALUES (1, 'emea'), (2, 'amer');\n")
    write(m, "U1__create_regions.sql", "DROP TABLE regions;\n")
    write(m, "V1.1__add_code.sql", "ALTER TABLE regions ADD COLUMN code VARCHAR(3);\n")
    write(m, "U1.1__add_code.sql", "ALTER TABLE regions DROP COLUMN code;\n")
    write(m, "V2__sales.sql", "CREATE TABLE sales (region_id INT, amount DECIMAL(12, 2));\n")
    write(m, "R__region_names.sql",
          "CREATE OR REPLACE VIEW region_names AS SELECT name FROM regions;\n")
    return m


def states(session: Session, folder: Path) -> dict[str, str]:
    return {e.script: e.state for e in status(load_scripts(folder), session)}


def columns(session: Session, table: str) -> list[str]:
    return [r[0] for r in session.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table])]


def test_apply_runs_versions_in_order_then_repeatables_once(session: Session,
                                                           folder: Path) -> None:
    done = apply(load_scripts(folder), session, session.engine, ME)
    assert [s.name for s in done] == ["V1__create_regions.sql", "V1.1__add_code.sql",
                                      "V2__sales.sql", "R__region_names.sql"]
    history = rows(session)
    assert [(r.installed_rank, r.version, r.description, r.type, r.success) for r in history] \
        == [(1, "1", "create regions", "SQL", True), (2, "1.1", "add code", "SQL", True),
            (3, "2", "sales", "SQL", True), (4, None, "region names", "SQL", True)]
    assert all(r.installed_by == ME and r.execution_time >= 0 for r in history)
    assert history[0].checksum == load_scripts(folder).versioned[0].checksum
    assert columns(session, "regions") == ["id", "name", "code"]
    assert apply(load_scripts(folder), session, session.engine, ME) == []  # exactly once
    assert set(states(session, folder).values()) == {"applied"}


def test_a_changed_repeatable_is_applied_again(session: Session, folder: Path) -> None:
    apply(load_scripts(folder), session, session.engine, ME)
    write(folder, "R__region_names.sql",
          "CREATE OR REPLACE VIEW region_names AS SELECT name, id FROM regions;\n")
    assert states(session, folder)["R__region_names.sql"] == "outdated"
    assert [s.name for s in apply(load_scripts(folder), session, session.engine, ME)] == [
        "R__region_names.sql"]
    assert len(rows(session)) == 5


def test_a_failure_in_the_middle_stops_and_leaves_the_history_exact(
        session: Session, folder: Path) -> None:
    write(folder, "V1.1__add_code.sql", "ALTER TABLE regions ADD COLUMN code VARCHAR(3);\n"
                                        "\n"
                                        "INSERT INTO nowhere VALUES (1);\n")
    with pytest.raises(MigrationError) as info:
        apply(load_scripts(folder), session, session.engine, ME)
    assert info.value.message.startswith(
        "migrations/V1.1__add_code.sql:3: migration 1.1 add code failed and was rolled back")
    assert "INSERT INTO nowhere VALUES (1)" in info.value.message
    assert [r.version for r in rows(session)] == ["1"]  # 1 applied, 1.1 rolled back whole
    assert columns(session, "regions") == ["id", "name"]  # its ALTER went with it
    assert states(session, folder)["V2__sales.sql"] == "pending"


def test_an_edited_applied_script_fails_validation_until_repair(session: Session,
                                                               folder: Path) -> None:
    apply(load_scripts(folder), session, session.engine, ME)
    write(folder, "V1__create_regions.sql", "CREATE TABLE regions (id BIGINT);\n")
    write(folder, "V3__more.sql", "CREATE TABLE more_things (id INT);\n")
    p = plan(load_scripts(folder), session, session.engine)
    assert [x for x in p.problems if x.startswith("checksum mismatch for version 1 ")]
    with pytest.raises(MigrationError, match="checksum mismatch for version 1"):
        apply(load_scripts(folder), session, session.engine, ME)
    assert states(session, folder)["V1__create_regions.sql"] == "mismatch"
    assert repair(load_scripts(folder), session) == {"removed_failed": 0, "realigned": 1}
    assert [s.name for s in apply(load_scripts(folder), session, session.engine, ME)] == [
        "V3__more.sql"]


def test_undo_reverts_the_newest_versions_and_they_can_be_applied_again(
        session: Session, folder: Path) -> None:
    (folder / "R__region_names.sql").unlink()
    apply(load_scripts(folder), session, session.engine, ME)
    with pytest.raises(MigrationError, match="version 2 cannot be undone: no U script"):
        undo_migrations(load_scripts(folder), session, session.engine, ME)
    assert [r.type for r in rows(session)] == ["SQL"] * 3  # refused before undoing anything
    write(folder, "U2__sales.sql", "DROP TABLE sales;\n")
    assert undo_migrations(load_scripts(folder), session, session.engine, ME,
                           count=2) == ["2", "1.1"]
    assert columns(session, "regions") == ["id", "name"]
    assert [(r.type, r.version) for r in rows(session)[-2:]] == [("UNDO_SQL", "2"),
                                                                 ("UNDO_SQL", "1.1")]
    assert states(session, folder)["V1.1__add_code.sql"] == "undone"
    assert [s.name for s in apply(load_scripts(folder), session, session.engine, ME)] == [
        "V1.1__add_code.sql", "V2__sales.sql"]


def test_a_new_version_below_the_applied_one_is_refused(session: Session,
                                                        folder: Path) -> None:
    apply(load_scripts(folder), session, session.engine, ME)
    write(folder, "V1.5__late.sql", "SELECT 1;\n")
    with pytest.raises(MigrationError, match=r"version 1.5 \(V1.5__late.sql\) is older than "):
        apply(load_scripts(folder), session, session.engine, ME)


def test_engine_specific_scripts_run_only_there(session: Session, folder: Path) -> None:
    other = "postgres" if session.engine == "duckdb" else "duckdb"
    write(folder, "V3__only_elsewhere.sql", f"-- sluice: engine={other}\nNOT SQL AT ALL;\n")
    done = apply(load_scripts(folder), session, session.engine, ME)
    assert "V3__only_elsewhere.sql" not in [s.name for s in done]
    assert states(session, folder)["V3__only_elsewhere.sql"] == "other-engine"


def test_two_racing_appliers_apply_each_migration_once(tmp_path: Path, folder: Path) -> None:
    """Without the environment lock a race would apply twice: the lock is what deploys and
    `sluice migrate apply` hold (tests/flow covers that); here the history proves that a
    second run after the first finds nothing to do."""
    db = tmp_path / "w.duckdb"
    lock = threading.Lock()
    applied: list[list[str]] = []

    def run() -> None:
        with lock:  # stands for the environment lock
            con = duckdb.connect(str(db))
            try:
                done = apply(load_scripts(folder), DuckDBSession(con), "duckdb", ME)
                applied.append([s.name for s in done])
            finally:
                con.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(a) for a in applied) == [0, 4]
    con = duckdb.connect(str(db))
    assert [r.version for r in rows(DuckDBSession(con))] == ["1", "1.1", "2", None]
    con.close()


def test_a_flyway_baseline_marks_older_versions_applied(session: Session,
                                                        folder: Path) -> None:
    from sluice.migrations import history

    history.ensure(session)
    session.execute("CREATE TABLE regions (id INT NOT NULL, name VARCHAR(40), code VARCHAR(3))")
    session.execute(  # what `flyway baseline -baselineVersion=1.1` writes
        "INSERT INTO flyway_schema_history (installed_rank, version, description, type, "
        "script, checksum, installed_by, execution_time, success) VALUES "
        "(1, '1.1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, "
        "'flyway', 0, TRUE)")
    done = apply(load_scripts(folder), session, session.engine, ME)
    assert [s.name for s in done] == ["V2__sales.sql", "R__region_names.sql"]
    assert states(session, folder)["V1__create_regions.sql"] == "below-baseline"


def test_a_failing_statement_is_shown_with_its_secrets_masked(session: Session,
                                                             folder: Path) -> None:
    write(folder, "V3__user.sql", "ALTER TABLE nowhere SET password = 'hunter2';\n")
    with pytest.raises(MigrationError) as info:
        apply(load_scripts(folder), session, session.engine, ME)
    assert "hunter2" not in info.value.message and "'***'" in info.value.message
