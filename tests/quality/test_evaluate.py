"""Evaluation on DuckDB: semantics, samples, severities, history-based rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest

from sluice.quality import EvaluationOptions, MetricHistory, Outcome, evaluate, parse_ruleset
from sluice.quality.results import RulesetResult

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


@pytest.fixture()
def orders(tmp_path: Path) -> str:
    path = tmp_path / "orders.parquet"
    duckdb.execute(f"""
        COPY (SELECT i AS id,
                     CASE WHEN i % 10 = 0 THEN NULL ELSE 'n' || i END AS name,
                     i * 1.5 AS amount,
                     CASE WHEN i % 3 = 0 THEN 'A' ELSE 'B' END AS status,
                     TIMESTAMPTZ '2026-11-25 00:00:00+00' - i * INTERVAL 1 HOUR AS ts
              FROM range(100) t(i)) TO '{path}' (FORMAT parquet)""")
    return str(path)


def run(text: str, data: str, history: MetricHistory | None = None, **kw: object) -> RulesetResult:
    opts = EvaluationOptions(now=NOW, **kw)  # type: ignore[arg-type]
    return evaluate(parse_ruleset(text), data, history=history, options=opts)


def outcomes(result: RulesetResult) -> list[str]:
    return [r.outcome.value for r in result.results]


def test_row_level_failures_carry_counts_and_samples(orders: str) -> None:
    result = run('Rules = [ IsComplete "name", ColumnValues "amount" < 100 ]', orders,
                 sample_limit=3)
    complete, values = result.results
    assert complete.outcome is Outcome.FAIL
    assert complete.failing_rows == 10 and complete.evaluated_rows == 100
    assert len(complete.sample) == 3
    assert all(row["name"] is None for row in complete.sample)
    assert values.failing_rows == 33  # amounts 100.5 .. 148.5
    assert all(row["amount"] >= 100 for row in values.sample)
    assert result.outcome is Outcome.FAIL and not result.passed


def test_samples_off(orders: str) -> None:
    result = run('Rules = [ IsComplete "name" ]', orders, sample_limit=0)
    assert result.results[0].failing_rows == 10
    assert result.results[0].sample == []


def test_threshold_is_the_fraction_of_rows_that_pass(orders: str) -> None:
    result = run(
        'Rules = [ ColumnValues "status" = "A" with threshold between 0.33 and 0.35, '
        'ColumnValues "status" = "A" with threshold > 0.5 ]',
        orders,
    )
    assert outcomes(result) == ["pass", "fail"]
    assert result.results[0].metrics["Column.status.ColumnValues.Compliance"] == pytest.approx(0.34)


def test_where_filters_rows_and_separates_metrics(orders: str) -> None:
    result = run(
        'Rules = [ RowCount = 34 where "status = \'A\'", IsComplete "name" where "id % 10 <> 0" ]',
        orders,
    )
    assert outcomes(result) == ["pass", "pass"]
    assert "Dataset.*.RowCount where status = 'A'" in result.results[0].metrics


def test_severity_warn_does_not_fail_the_ruleset(orders: str) -> None:
    result = run('Rules = [ IsComplete "name" labels=["severity"="warn"], RowCount > 0 ]', orders)
    assert outcomes(result) == ["warn", "pass"]
    assert result.outcome is Outcome.WARN and result.passed


def test_unknown_column_is_an_error_result_with_a_suggestion(orders: str) -> None:
    result = run('Rules = [ IsComplete "nme", RowCount > 0 ]', orders)
    err = result.results[0]
    assert err.outcome is Outcome.ERROR
    assert "'nme' does not exist" in err.message and "did you mean 'name'" in err.message
    assert result.results[1].outcome is Outcome.PASS
    assert not result.passed


def test_composites(orders: str) -> None:
    result = run(
        'Rules = [ (IsComplete "id") and (IsComplete "name"), '
        '(IsComplete "id") or (IsComplete "name"), '
        '((RowCount > 1000) or (RowCount < 10)) or (ColumnCount = 5) ]',
        orders,
    )
    assert outcomes(result) == ["fail", "pass", "pass"]
    assert [c.outcome.value for c in result.results[0].children] == ["pass", "fail"]


def test_null_semantics_of_column_values(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    duckdb.execute(f"""COPY (SELECT * FROM (VALUES ('a'), (NULL), (''), ('  '), ('b')) t(s))
                      TO '{path}' (FORMAT parquet)""")
    result = run(
        'Rules = ['
        ' ColumnValues "s" in ["a", "b"],'  # NULL, '', '  ' fail
        ' ColumnValues "s" not in ["a"],'  # only 'a' fails; NULL passes
        ' ColumnValues "s" not in ["a", NULL],'  # NULL named: fails too
        ' ColumnValues "s" != "b",'  # NULL passes
        ' ColumnValues "s" in ["a", "b", NULL, EMPTY, WHITESPACES_ONLY],'
        ' ColumnValues "s" = NULL,'
        ' ColumnValues "s" matches "[a-z]",'
        ' ColumnLength "s" < 2'  # NULL has length 0 and passes; '  ' has 2 and fails
        ']',
        str(path),
    )
    assert [r.failing_rows for r in result.results] == [3, 1, 2, 1, 0, 4, 3, 1]


def test_between_is_exclusive_and_not_between_inclusive(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    duckdb.execute(f"COPY (SELECT * FROM range(1, 6) t(x)) TO '{path}' (FORMAT parquet)")
    result = run('Rules = [ ColumnValues "x" between 1 and 5, '
                 'ColumnValues "x" not between 1 and 5 ]', str(path))
    assert [r.failing_rows for r in result.results] == [2, 3]


def test_uniqueness_family(tmp_path: Path) -> None:
    path = tmp_path / "u.parquet"
    duckdb.execute(f"""COPY (SELECT * FROM (VALUES (1, 'a'), (2, 'a'), (3, 'b'), (4, NULL))
                      t(k, v)) TO '{path}' (FORMAT parquet)""")
    result = run(
        'Rules = [ Uniqueness "v" = 0.25, DistinctValuesCount "v" = 2, '
        'UniqueValueRatio "v" = 0.5, IsUnique "k", IsPrimaryKey "v", '
        'IsPrimaryKey "k" "v", Entropy "v" between 0.63 and 0.64 ]',
        str(path),
    )
    assert outcomes(result) == ["pass", "pass", "pass", "pass", "fail", "fail", "pass"]
    assert result.results[4].failing_rows == 3  # two 'a' rows and the NULL


def test_freshness_and_dates(orders: str) -> None:
    result = run('Rules = [ DataFreshness "ts" <= 24 hours, '
                 'ColumnValues "ts" > now() - 2 days with threshold > 0.4, '
                 'ColumnValues "ts" >= "2026-11-21" ]', orders)
    fresh, recent, literal = result.results
    assert fresh.failing_rows == 75  # ages 0..24 hours pass
    assert recent.outcome is Outcome.PASS
    assert literal.failing_rows == 100 - 97


def test_cross_dataset_rules(tmp_path: Path, orders: str) -> None:
    ref = tmp_path / "ref.parquet"
    duckdb.execute(f"""COPY (SELECT i AS id, i * 1.5 AS amount FROM range(0, 100, 2) t(i))
                      TO '{ref}' (FORMAT parquet)""")
    result = run(
        'Rules = [ ReferentialIntegrity "id" "ref.id" = 0.5, RowCountMatch "ref" = 2.0, '
        'AggregateMatch "count(id)" "count(ref.id)" = 2.0, DatasetMatch "ref" "id" "amount" = 0.5,'
        ' SchemaMatch "ref" = 0.4 ]',
        orders, references={"ref": str(ref)},
    )
    assert outcomes(result) == ["pass"] * 5, [r.message for r in result.results]
    assert result.results[0].failing_rows == 50


def test_custom_sql_both_forms(orders: str) -> None:
    result = run(
        'Rules = [ CustomSql "select count(*) from primary where status = \'A\'" = 34, '
        'CustomSql "select id from primary where amount < 75" with threshold = 0.5 ]',
        orders,
    )
    assert outcomes(result) == ["pass", "pass"]


def test_dynamic_rules_read_the_metric_history(tmp_path: Path, orders: str) -> None:
    history = MetricHistory(tmp_path / "state.db")
    rules = 'Rules = [ RowCount >= avg(last(3)) * 0.9, Completeness "name" >= max(last(2)) ]'
    first = run(rules, orders, history=history, dataset_name="orders")
    assert first.passed and "baseline" in first.results[0].message
    history.record("orders", "old", {"Dataset.*.RowCount": 1000.0,
                                     "Column.name.Completeness": 0.95}, NOW)
    second = run(rules, orders, history=history, dataset_name="orders")
    # avg(100, 1000) * 0.9 = 495 > 100; max(0.9, 0.95) = 0.95 > 0.9
    assert outcomes(second) == ["fail", "fail"]


def test_detect_anomalies(tmp_path: Path, orders: str) -> None:
    history = MetricHistory(tmp_path / "state.db")
    for i, n in enumerate([100.0, 101.0, 99.0, 100.0]):
        history.record("orders", f"r{i}", {"Dataset.*.RowCount": n},
                       NOW - dt.timedelta(days=10 - i))
    ok = run('Rules = [ DetectAnomalies "RowCount" ]', orders, history=history,
             dataset_name="orders")
    assert ok.passed
    history = MetricHistory(tmp_path / "other.db")
    for i, n in enumerate([5000.0, 5100.0, 4900.0, 5050.0]):
        history.record("orders", f"s{i}", {"Dataset.*.RowCount": n},
                       NOW - dt.timedelta(days=5 - i))
    bad = run('Rules = [ DetectAnomalies "RowCount" ]', orders, history=history,
              dataset_name="orders")
    assert bad.results[0].outcome is Outcome.FAIL
    assert "expected" in bad.results[0].message


def test_analyzers_record_metrics(tmp_path: Path, orders: str) -> None:
    history = MetricHistory(tmp_path / "state.db")
    result = run('Rules = [ RowCount > 0 ]\nAnalyzers = [ DistinctValuesCount "status", '
                 'Mean "amount" ]', orders, history=history, dataset_name="orders")
    assert result.analyzer_metrics["Column.status.DistinctValuesCount"] == 2
    assert history.last("orders", "Column.amount.Mean", 5) == [pytest.approx(74.25)]


def test_one_query_serves_all_scan_and_group_rules(orders: str) -> None:
    from sluice.engines.duckdb import DuckDBEngine

    class Counting(DuckDBEngine):
        statements: ClassVar[list[str]] = []

        def fetch(self, sql: str):  # type: ignore[no-untyped-def]
            self.statements.append(sql)
            return super().fetch(sql)

    eng = Counting()
    evaluate(parse_ruleset(
        'Rules = [ RowCount > 0, IsComplete "id", Mean "amount" > 0, IsUnique "id", '
        'IsUnique "status", Completeness "name" > 0.5 where "id > 3", Entropy "status" > 0 ]'
    ), orders, engine=eng, options=EvaluationOptions(now=NOW, sample_limit=0))
    assert len(eng.statements) == 1
    assert eng.statements[0].count("GROUP BY") == 2  # one per distinct column set


def test_detect_anomalies_on_a_group_metric(tmp_path: Path, orders: str) -> None:
    history = MetricHistory(tmp_path / "state.db")
    for i, v in enumerate([0.64, 0.64, 0.64]):
        history.record("orders", f"r{i}", {"Column.status.Entropy": v},
                       NOW - dt.timedelta(days=3 - i))
    result = run('Rules = [ DetectAnomalies "Entropy" "status" ]', orders, history=history,
                 dataset_name="orders")
    assert result.passed, result.results[0].message
    assert result.results[0].metrics["Column.status.Entropy"] == pytest.approx(0.6410, abs=1e-3)
