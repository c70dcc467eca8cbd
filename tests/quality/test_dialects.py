"""The compiled SQL renders in every supported dialect and reads back in that dialect."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from sluice.quality import EvaluationOptions, parse_ruleset
from sluice.quality.evaluate import SQL_DIALECTS, explain

RULES = """Rules = [
  RowCount > 0, IsComplete "a", IsUnique "a", Uniqueness "a" "b" > 0.5,
  ColumnValues "b" matches "[a-z]+" with threshold > 0.9, Mean "a" between 1 and 9,
  ColumnLength "b" <= 3 where "a > 1", Entropy "b" > 0, DataFreshness "t" <= 2 days,
  CustomSql "select count(*) from primary where a > 2" > 0,
  ReferentialIntegrity "a" "ref.a" = 1.0, AggregateMatch "sum(a)" "sum(ref.a)" = 1.0
]"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("dialects")
    data, ref = d / "d.parquet", d / "r.parquet"
    duckdb.execute(f"""COPY (SELECT i AS a, 'x' || i AS b, TIMESTAMP '2026-01-01' AS t
                      FROM range(5) t(i)) TO '{data}' (FORMAT parquet)""")
    duckdb.execute(f"COPY (SELECT i AS a FROM range(5) t(i)) TO '{ref}' (FORMAT parquet)")
    return str(data), str(ref)


@pytest.mark.parametrize("dialect", SQL_DIALECTS)
def test_sql_renders_and_reparses(dialect: str, files: tuple[str, str]) -> None:
    data, ref = files
    statements = explain(parse_ruleset(RULES), data, dialect=dialect,
                         options=EvaluationOptions(references={"ref": ref}))
    assert statements[0][0] == "shared scan"
    assert len(statements) == 4  # shared scan + CustomSql + two cross-dataset queries
    assert statements[0][1].count("GROUP BY") == 3  # a; a,b; b
    for _label, sql in statements:
        assert not sql.startswith("-- error"), sql
        reparsed = sqlglot.parse_one(sql, read=dialect)
        assert reparsed.find(sqlglot.exp.Select) is not None


def test_dialects_differ_where_they_must(files: tuple[str, str]) -> None:
    data, _ = files
    rules = parse_ruleset('Rules = [ ColumnValues "b" matches "x[0-9]" ]')
    spark = explain(rules, data, dialect="spark")[0][1]
    postgres = explain(rules, data, dialect="postgres")[0][1]
    assert "RLIKE" in spark.upper() or "REGEXP" in spark.upper()
    assert "~" in postgres
