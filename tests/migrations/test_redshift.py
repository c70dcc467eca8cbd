"""Redshift statements in the styles of its documentation, translated and run for real on
DuckDB and PostgreSQL (via the scratch sessions the check uses): each either runs and the
result is queried, or is skipped/refused with a note or problem — never accepted by the check
and then failing at apply."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sluice.migrations import MigrationError, apply
from sluice.migrations.history import rows
from sluice.migrations.scripts import load_scripts
from sluice.migrations.session import Session
from sluice.migrations.translate import translate

from .conftest import write

STORE = "s3://acme-data/sluice/envs/prod/objects"
# (statement, query checking its result or None, expected rows) — run in this order
RUNS: list[tuple[str, str | None, list[tuple[object, ...]] | None]] = [
    ("CREATE TABLE sales (id INT IDENTITY(0, 1) ENCODE az64, region VARCHAR(MAX), "
     "doc SUPER, note NVARCHAR(MAX), tag CHARACTER VARYING(MAX), "
     "sold_at TIMESTAMP DEFAULT GETDATE()) DISTSTYLE KEY DISTKEY (region) "
     "COMPOUND SORTKEY (sold_at)", None, None),
    ("INSERT INTO sales (region, note) VALUES ('emea', 'a'), ('amer', 'b')",
     "SELECT id, region FROM sales ORDER BY id", [(0, "emea"), (1, "amer")]),
    ("CREATE TABLE down (id BIGINT IDENTITY(10, -2), v INT) DISTSTYLE EVEN", None, None),
    ("INSERT INTO down (v) VALUES (1), (2)", "SELECT id FROM down ORDER BY v", [(10,), (8,)]),
    ("CREATE TABLE up5 (id INT IDENTITY(5, 5), v INT) DISTSTYLE ALL", None, None),
    ("INSERT INTO up5 (v) VALUES (1), (2)", "SELECT id FROM up5 ORDER BY v", [(5,), (10,)]),
    ("CREATE TEMP TABLE stage (LIKE sales)", "SELECT COUNT(*) FROM stage", [(0,)]),
    ("CREATE TEMP TABLE stage2 (LIKE sales INCLUDING DEFAULTS)",
     "SELECT COUNT(*) FROM stage2", [(0,)]),
    ("ALTER TABLE sales ADD COLUMN channel VARCHAR(10) DEFAULT 'web' ENCODE zstd",
     "SELECT DISTINCT channel FROM sales", [("web",)]),
    ("ALTER TABLE sales ALTER DISTKEY region", None, None),
    ("ALTER TABLE sales ALTER DISTSTYLE ALL", None, None),
    ("ALTER TABLE sales ALTER COMPOUND SORTKEY (region, sold_at)", None, None),
    ("ALTER TABLE sales ALTER COLUMN region ENCODE zstd", None, None),
    ("ALTER TABLE sales ALTER ENCODE AUTO", None, None),
    ("ALTER TABLE sales RENAME COLUMN note TO remark", "SELECT remark FROM sales ORDER BY id",
     [("a",), ("b",)]),
    ("UPDATE sales SET remark = NVL(NULL, 'z') WHERE region = 'amer'",
     "SELECT remark FROM sales ORDER BY id", [("a",), ("z",)]),
    ("CREATE TABLE totals AS SELECT region, COUNT(*) AS n FROM sales GROUP BY region",
     "SELECT n FROM totals ORDER BY region", [(1,), (1,)]),
    ("CREATE TABLE names AS SELECT LISTAGG(region, ',') WITHIN GROUP (ORDER BY id DESC) AS l "
     "FROM sales", "SELECT l FROM names", [("amer,emea",)]),
    ("CREATE TABLE codes AS SELECT id, DECODE(region, 'emea', 'E', 'other') AS c FROM sales",
     "SELECT c FROM codes ORDER BY id", [("E",), ("other",)]),
    ("CREATE TABLE dates AS SELECT DATEADD(day, 1, '2024-01-31'::date) AS d",
     "SELECT CAST(d AS DATE) FROM dates", None),
    ("CREATE TABLE diffs AS SELECT DATEDIFF(day, '2024-01-01'::date, '2024-01-31'::date) AS n",
     "SELECT n FROM diffs", [(30,)]),
    ("CREATE VIEW sales_v AS SELECT region FROM sales WITH NO SCHEMA BINDING",
     "SELECT COUNT(*) FROM sales_v", [(2,)]),
    ("CREATE TABLE tz AS SELECT CONVERT_TIMEZONE('UTC', 'UTC', '2024-01-01 00:00:00'::timestamp)"
     " AS t", "SELECT COUNT(*) FROM tz", [(1,)]),
    ("DELETE FROM totals USING sales WHERE totals.region = sales.region AND sales.id = 0",
     "SELECT region FROM totals", [("amer",)]),
    ("TRUNCATE codes", "SELECT COUNT(*) FROM codes", [(0,)]),
    ("CREATE TABLE orders (id INT, item VARCHAR(20))", None, None),
    (f"COPY orders FROM '{STORE}/raw/orders/' IAM_ROLE 'arn:aws:iam::123456789012:role/load' "
     "CSV IGNOREHEADER 1", "SELECT id, item FROM orders ORDER BY id", [(1, "tea"), (2, None)]),
    (f"COPY orders FROM '{STORE}/raw/more.parquet' IAM_ROLE default FORMAT AS PARQUET",
     "SELECT COUNT(*) FROM orders", [(3,)]),
    ("MERGE INTO orders USING (SELECT 9 AS id, 'pie' AS item) s ON orders.id = s.id "
     "WHEN NOT MATCHED THEN INSERT (id, item) VALUES (s.id, s.item)",
     "SELECT COUNT(*) FROM orders", [(4,)]),
]
SKIPPED = [
    "GRANT SELECT ON sales TO GROUP analysts",
    "GRANT USAGE ON SCHEMA public TO reporter",
    "REVOKE ALL ON sales FROM PUBLIC",
    "CREATE GROUP analysts",
    "ALTER GROUP analysts ADD USER reporter",
    "CREATE USER reporter PASSWORD 'Abcdef1234'",
    "ALTER USER reporter CONNECTION LIMIT 5",
    "DROP USER IF EXISTS old_reporter",
    "DROP GROUP old_analysts",
    "CREATE EXTERNAL SCHEMA spectrum FROM DATA CATALOG DATABASE 'lake' "
    "IAM_ROLE 'arn:aws:iam::123456789012:role/spectrum' CREATE EXTERNAL DATABASE IF NOT EXISTS",
    "CREATE EXTERNAL TABLE spectrum.events (id INT) STORED AS PARQUET LOCATION 's3://lake/ev/'",
    "VACUUM DELETE ONLY sales TO 75 PERCENT",
    "ANALYZE sales",
]
REFUSED = [
    "UNLOAD ('SELECT * FROM sales') TO 's3://acme/unload/' IAM_ROLE default",
    "CREATE OR REPLACE PROCEDURE p() AS $$ BEGIN NULL; END; $$ LANGUAGE plpgsql",
    "ALTER TABLE sales APPEND FROM stage",
    "COPY orders FROM 's3://somewhere-else/x.csv' IAM_ROLE default CSV",
]


def _store(tmp_path: Path) -> Path:
    objects = tmp_path / "objects"
    (objects / "raw" / "orders").mkdir(parents=True)
    (objects / "raw" / "orders" / "a.csv").write_text("id,item\n1,tea\n2,\n")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 3 AS id, 'jam' AS item) TO '{objects}/raw/more.parquet'")
    con.close()
    return objects


def test_the_corpus_has_at_least_forty_statements() -> None:
    assert len(RUNS) + len(SKIPPED) + len(REFUSED) >= 40


def test_each_statement_runs_and_its_result_is_queried(session: Session, tmp_path: Path) -> None:
    session.objects = _store(tmp_path)
    for sql, query, expected in RUNS:
        t = translate(sql + ";", "redshift", session.engine, objects=session.objects)
        assert t.problems == [], (sql, t.problems)
        for stmt in t.statements:
            if stmt.load is not None:
                session.load(stmt.load)  # type: ignore[attr-defined]
            else:
                session.execute(stmt.text)
        if query is not None:
            got = [tuple(r) for r in session.query(query)]
            assert expected is None or got == expected, (sql, got)


def test_what_means_nothing_locally_is_skipped_with_a_note(session: Session) -> None:
    for sql in SKIPPED:
        t = translate(sql + ";", "redshift", session.engine)
        assert t.statements == [] and t.problems == [], sql
        assert len(t.notes) == 1 and "skipped" in t.notes[0], (sql, t.notes)
    t = translate("ALTER TABLE s ALTER DISTKEY id;", "redshift", session.engine)
    assert t.notes == ["line 1: skipped ALTER TABLE s ALTER DISTKEY id (a Redshift storage "
                       "change; it runs on Redshift only)"]
    assert translate("GRANT SELECT ON t TO u;", "redshift", "redshift").statements[0].text \
        == "GRANT SELECT ON t TO u"  # Redshift runs it as written


def test_what_cannot_run_locally_is_refused_with_the_redshift_tip(session: Session) -> None:
    for sql in REFUSED:
        t = translate(sql + ";", "redshift", session.engine)
        assert len(t.problems) == 1 and t.statements == [], sql
        assert ("engine=redshift" in t.problems[0]), t.problems


def test_identity_from_zero_on_postgres_has_its_minvalue() -> None:
    [stmt] = translate("CREATE TABLE t (id INT IDENTITY(0,1));", "redshift",
                       "postgres").statements
    assert "START WITH 0 INCREMENT BY 1 MINVALUE 0" in stmt.text


def test_a_no_transaction_script_that_fails_records_a_failed_row(session: Session,
                                                                 tmp_path: Path) -> None:
    m = tmp_path / "migrations"
    write(m, "V1__base.sql", "CREATE TABLE a (id INT);\n")
    write(m, "V2__outside.sql", "-- sluice: no-transaction\nCREATE TABLE b (id INT);\n"
                                "INSERT INTO nowhere VALUES (1);\n")
    with pytest.raises(MigrationError) as info:
        apply(load_scripts(m), session, session.engine, "alice")
    assert info.value.script == "V2__outside.sql" and info.value.line == 3
    assert "the statements at line 2 ran and cannot be rolled back" in info.value.message
    assert "sluice migrate repair ENV" in (info.value.tip or "")
    assert [(r.version, r.success) for r in rows(session)] == [("1", True), ("2", False)]
    assert session.query("SELECT COUNT(*) FROM b") == [(0,)]  # it stayed: no transaction
    with pytest.raises(MigrationError, match="failed on"):
        apply(load_scripts(m), session, session.engine, "alice")  # until repair


@pytest.mark.postgres
def test_the_postgres_scratch_runs_the_migrator_and_leaves_nothing(postgres_db: str,
                                                                   tmp_path: Path) -> None:
    import psycopg

    from sluice.migrations.scratch import ScratchUnavailable, postgres_scratch

    m = tmp_path / "migrations"
    write(m, "V1__a.sql", "CREATE SCHEMA app;\nCREATE TABLE app.a (id INT IDENTITY(0,1));\n")
    write(m, "V2__b.sql", "-- sluice: no-transaction\nINSERT INTO app.a DEFAULT VALUES;\n"
                          "INSERT INTO app.nowhere VALUES (1);\n")
    with pytest.raises(MigrationError) as info, postgres_scratch(postgres_db) as session:
        apply(load_scripts(m), session, "redshift", "sluice check")
    assert (info.value.script, info.value.line) == ("V2__b.sql", 3)
    assert 'relation "app.nowhere" does not exist' in info.value.cause
    with psycopg.connect(postgres_db) as con:  # a database of its own, dropped after
        assert con.execute("SELECT nspname FROM pg_namespace WHERE nspname = 'app'"
                           ).fetchall() == []
        assert con.execute("SELECT datname FROM pg_database WHERE datname LIKE "
                           "'sluice_check_%'").fetchall() == []
    with pytest.raises(ScratchUnavailable), postgres_scratch(
            "postgresql://nobody:secret@127.0.0.1:1/none"):
        pass


@pytest.mark.postgres
def test_a_commit_in_a_checked_script_never_reaches_the_environments_database(
        postgres_db: str, tmp_path: Path) -> None:
    import psycopg

    from sluice.migrations.scratch import postgres_scratch

    with psycopg.connect(postgres_db, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS public.keep_me")
        con.execute("CREATE TABLE public.keep_me (v TEXT)")
        con.execute("INSERT INTO public.keep_me VALUES ('secret-42')")
    m = tmp_path / "migrations"
    write(m, "V1__evil.sql", "-- sluice: engine=postgres verbatim no-transaction\n"
                             "DELETE FROM public.keep_me;\nCOMMIT;\n")
    with pytest.raises(MigrationError), postgres_scratch(postgres_db) as session:
        apply(load_scripts(m), session, "redshift", "sluice check")
    with psycopg.connect(postgres_db) as con:
        assert con.execute("SELECT v FROM public.keep_me").fetchall() == [("secret-42",)]


def test_the_duckdb_scratch_reaches_no_file_but_the_object_store(tmp_path: Path) -> None:
    import duckdb

    from sluice.migrations.scratch import duckdb_scratch

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    objects = tmp_path / "objects"
    (objects / "raw").mkdir(parents=True)
    (objects / "raw" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    with duckdb_scratch(objects) as session:
        for sql in (f"ATTACH '{other}' AS other", f"COPY (SELECT 1) TO '{tmp_path}/out.csv'",
                    "SELECT * FROM read_text('/etc/hostname')",
                    "SET enable_external_access = true"):
            with pytest.raises(duckdb.Error):
                session.execute(sql)
        assert session.query(f"SELECT x FROM read_csv('{objects}/raw/a.csv')") == [(1,)]
    assert not (tmp_path / "out.csv").exists()
