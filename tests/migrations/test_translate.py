"""Redshift migrations translated with sqlglot and run for real on DuckDB and PostgreSQL."""

from __future__ import annotations

from sluice.migrations.session import Session
from sluice.migrations.translate import split_statements, translate

REDSHIFT = """\
-- the sales schema, as Redshift wants it
CREATE TABLE sales (
    id BIGINT IDENTITY(1, 1) ENCODE az64,
    region VARCHAR(20) NOT NULL ENCODE lzo,
    amount DECIMAL(12, 2),
    note VARCHAR(100) DEFAULT 'none',
    sold_at TIMESTAMP DEFAULT GETDATE()
) DISTSTYLE KEY DISTKEY (region) COMPOUND SORTKEY (sold_at, region);

INSERT INTO sales (region, amount) VALUES ('emea', 10.5), ('amer', NULL);
UPDATE sales SET amount = NVL(amount, 0) WHERE region = 'amer';
CREATE TABLE sales_daily AS
SELECT region, DATE_TRUNC('day', sold_at) AS day, SUM(amount) AS total
FROM sales GROUP BY 1, 2;
ALTER TABLE sales ADD COLUMN channel VARCHAR(10) DEFAULT 'web' ENCODE zstd;
"""


def test_statements_keep_their_first_line() -> None:
    assert [(s.line, s.text.split()[0]) for s in split_statements(REDSHIFT, "redshift")] == [
        (2, "CREATE"), (10, "INSERT"), (11, "UPDATE"), (12, "CREATE"), (15, "ALTER")]


def test_common_redshift_ddl_and_dml_run_on_the_engine(session: Session) -> None:
    t = translate(REDSHIFT, "redshift", session.engine)
    assert t.problems == []
    assert any("dropped DISTKEY" in n for n in t.notes)
    assert any("dropped COMPOUND SORTKEY" in n for n in t.notes)
    assert sum("column encoding" in n for n in t.notes) == 3
    with session.transaction():
        for stmt in t.statements:
            session.execute(stmt.text)
    got = session.query("SELECT id, region, amount, note, channel FROM sales ORDER BY id")
    assert [(r[0], r[1], float(r[2]), r[3], r[4]) for r in got] == [
        (1, "emea", 10.5, "none", "web"), (2, "amer", 0.0, "none", "web")]
    assert session.query("SELECT COUNT(*) FROM sales_daily")[0][0] == 2


def test_what_cannot_be_translated_is_reported_with_line_and_construct() -> None:
    script = ("CREATE TABLE t (id INT);\n"
              "CREATE OR REPLACE PROCEDURE refresh() AS $$\nBEGIN\n  NULL;\nEND;\n$$ "
              "LANGUAGE plpgsql;\n")
    t = translate(script, "redshift", "postgres")
    assert [s.text for s in t.statements] == ["CREATE TABLE t (id INT)"]
    assert t.problems == ["line 2: CREATE PROCEDURE (stored procedure) cannot run on "
                          "postgres; to run the script as written on redshift only (skipped "
                          "on postgres), start it with `-- sluice: engine=redshift verbatim`"]


def test_verbatim_scripts_are_not_translated() -> None:
    t = translate("SELECT GETDATE();", "redshift", "duckdb", verbatim=True)
    assert [s.text for s in t.statements] == ["SELECT GETDATE()"] and t.notes == []


def test_identity_from_zero_in_a_schema_runs_on_duckdb() -> None:
    import duckdb

    from sluice.migrations.session import DuckDBSession

    session = DuckDBSession(duckdb.connect())
    session.execute("CREATE SCHEMA s")
    session.execute("CREATE SCHEMA u")
    script = ("CREATE TABLE s.t (id INT IDENTITY(0, 1), v INT);\n"
              "CREATE TABLE u.t (id INT IDENTITY(0, 1), v INT);\n"
              "INSERT INTO s.t (v) VALUES (1);\nINSERT INTO u.t (v) VALUES (1);\n")
    for stmt in translate(script, "redshift", "duckdb").statements:
        session.execute(stmt.text)
    assert session.query("SELECT id FROM s.t") == [(0,)]
    assert session.query("SELECT id FROM u.t") == [(0,)]  # its own sequence
