"""One ruleset with every rule type, evaluated on DuckDB, PostgreSQL and Spark: same answers.

The data is small and deterministic but awkward on purpose: NULLs in every column kind,
duplicate keys, unicode and empty/blank strings, numbers stored as strings, a boolean, a
date and a timezone-aware timestamp. DuckDB is the reference; its results are pinned to
known values (so the comparison cannot pass vacuously) and the other engines must agree
rule by rule on outcome, failing row count, sample size and metrics.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.quality.dqdl import parse_ruleset
from sluice.quality.evaluate import EvaluationOptions, evaluate
from sluice.quality.results import Outcome, RuleResult, RulesetResult

NOW = dt.datetime(2024, 6, 10, 12, 0, tzinfo=dt.UTC)
UTC = dt.UTC


def _ts(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2024, 6, day, hour, 0, tzinfo=UTC)


# id, order_id, line, name, amount, qty, code, active, updated_at, day, customer
ROWS: list[tuple[Any, ...]] = [
    (1, 100, 1, "Ann", 10.0, 1, "12", True, _ts(10, 6), dt.date(2024, 6, 1), "c1"),
    (2, 100, 2, "Bob", 20.0, 2, "7", False, _ts(9, 18), dt.date(2024, 6, 2), "c1"),
    (3, 101, 1, "Zoë", 30.5, 3, "abc", True, _ts(8, 0), dt.date(2024, 6, 3), "c2"),
    (4, 102, 1, "", None, 4, " 42 ", None, _ts(5, 12), dt.date(2024, 5, 20), "c3"),
    (5, 103, 1, "   ", 50.0, 5, None, True, None, dt.date(2024, 6, 5), "c9"),
    (6, 103, 1, None, 60.0, 6, "-3", False, _ts(10, 11), None, None),
    (7, 104, 1, "Émile", 70.25, 7, "1e3", True, _ts(1, 0), dt.date(2024, 6, 7), "c2"),
    (8, 105, 1, "李雷", 80.0, 8, "8", True, _ts(10, 0), dt.date(2024, 6, 8), "c1"),
    (9, 105, 2, "Ann", None, 2, "\u00a0", False, _ts(9, 23), dt.date(2024, 6, 9), "c3"),
    (10, 106, 1, "Bob", 100.0, 4, "10", None, _ts(10, 12), dt.date(2024, 6, 10), "c4"),
]
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("order_id", pa.int64()),
        ("line", pa.int32()),
        ("name", pa.string()),
        ("amount", pa.float64()),
        ("qty", pa.int64()),
        ("code", pa.string()),
        ("active", pa.bool_()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("customer", pa.string()),
    ]
)

# reference: customers c1..c3 (no c4, no c9); id/amount for DatasetMatch
REF_ROWS: list[tuple[Any, ...]] = [
    (1, "c1", 10.0),
    (2, "c2", 20.0),
    (3, "c3", 99.0),
    (4, "c1", None),
    (5, "c2", 50.0),
]
REF_SCHEMA = pa.schema([("id", pa.int64()), ("customer", pa.string()), ("amount", pa.float64())])

RULESET = r"""
Rules = [
    RowCount = 10,
    RowCount between 3 and 5 where "qty > 4",
    ColumnCount = 11,
    ColumnNamesMatchPattern "[a-z_]+",
    ColumnNamesMatchPattern "[a-z]+",
    ColumnExists "amount",
    ColumnExists "missing",
    ColumnDataType "code" = "INTEGER",
    ColumnDataType "code" = "INTEGER" with threshold > 0.6,
    ColumnDataType "id" = "INTEGER",
    ColumnDataType "updated_at" = "TIMESTAMP",
    Completeness "amount" > 0.85,
    Completeness "amount" >= 0.8,
    IsComplete "name",
    IsComplete "id",
    Uniqueness "order_id" > 0.5,
    IsUnique "order_id",
    IsUnique "id",
    IsPrimaryKey "id",
    IsPrimaryKey "order_id" "line",
    DistinctValuesCount "order_id" = 7,
    DistinctValuesCount "customer" = 5,
    UniqueValueRatio "order_id" > 0.5,
    Entropy "customer" > 1.0,
    Entropy "order_id" "line" > 2,
    Mean "amount" between 50 and 60,
    Mean "active" > 0.5,
    Sum "qty" = 42,
    StandardDeviation "amount" < 30,
    Variance "amount" > 900,
    ColumnCorrelation "qty" "amount" > 0.5,
    ColumnLength "name" between 0 and 5,
    ColumnLength "name" <= 3 with threshold >= 0.5,
    ColumnValues "qty" > 0,
    ColumnValues "qty" between 1 and 7,
    ColumnValues "amount" <= 80.0,
    ColumnValues "amount" != 20,
    ColumnValues "amount" in [10, 20, 30.5, 100],
    ColumnValues "qty" not between 2 and 6,
    ColumnValues "qty" = "4",
    ColumnLength "qty" = 1,
    ColumnDataType "code" in ["INTEGER", "DOUBLE"],
    ColumnDataType "code" = "BOOLEAN" with threshold < 0.1,
    ColumnValues "name" in ["Ann", "Bob", "Zoë"] with threshold > 0.4,
    ColumnValues "name" in ["Ann", "Bob", NULL, EMPTY],
    ColumnValues "customer" not in ["c9", "c4"],
    ColumnValues "customer" not in ["c9", NULL],
    ColumnValues "code" matches "-?[0-9]+",
    ColumnValues "code" not matches "[a-z].*",
    ColumnValues "name" matches "[A-Za-zÀ-ÿ李雷]+",
    ColumnValues "name" = NULL,
    ColumnValues "name" != NULL,
    ColumnValues "name" != EMPTY,
    ColumnValues "name" != WHITESPACES_ONLY,
    ColumnValues "code" = WHITESPACES_ONLY,
    ColumnValues "code" > 5,
    ColumnValues "updated_at" > (now() - 3 days),
    ColumnValues "updated_at" <= now(),
    ColumnValues "updated_at" between (now() - 2 days) and (now() - 1 hours),
    ColumnValues "updated_at" > "2024-06-09",
    ColumnValues "day" >= "2024-06-01",
    ColumnValues "day" between "2024-06-01" and "2024-06-09",
    ColumnValues "active" = "true",
    DataFreshness "updated_at" <= 24 hours,
    DataFreshness "updated_at" between 1 hours and 3 days,
    DataFreshness "day" < 10 days,
    CustomSql "select count(*) from primary where qty > 3" between 2 and 8,
    CustomSql "select avg(amount) from primary where customer = 'c1'" > 40,
    CustomSql "select id from primary where amount > 20",
    CustomSql "select id from primary where amount > 20" with threshold > 0.5,
    CustomSql "select p.id from primary p join ref r on p.customer = r.customer where r.id < 3",
    ReferentialIntegrity "customer" "ref.customer" >= 0.8,
    ReferentialIntegrity "customer" "ref.customer" >= 0.5 where "qty < 8",
    ReferentialIntegrity "id,customer" "ref.{id,customer}" > 0.1,
    DatasetMatch "ref" "id" >= 0.2,
    DatasetMatch "ref" "id->id" "amount->amount" = 1.0,
    SchemaMatch "ref" < 0.5,
    SchemaMatch "same" = 1.0,
    RowCountMatch "ref" = 2.0,
    RowCountMatch "ref" = 1.0 where "qty <= 4",
    AggregateMatch "sum(amount)" "sum(ref.amount)" > 1.5,
    AggregateMatch "avg(qty)" "avg(ref.id)" = 1.4,
    AggregateMatch "count(name)" "count(ref.customer)" >= 1.8,
    (IsComplete "id") and (ColumnValues "qty" > 0),
    (IsComplete "amount") and (RowCount = 10),
    (IsComplete "amount") or (RowCount > 100),
    ((IsComplete "amount") or (IsUnique "id")) and (Sum "qty" > 40),
    ColumnValues "amount" > 1000 labels=["severity"="warn"],
    Completeness "amount" = 1.0 where "customer = 'c1'",
    Completeness "amount" = 1.0 where "customer in ('c1', 'c3')",
    IsComplete "day" where "updated_at is not null and active",
    IsUnique "customer" where "name like 'A%' or name like 'B%'",
    ColumnValues "missing" > 0,
    Mean "name" > 0
]
"""

FLOAT_TOL = dict(rel=1e-9, abs=1e-9)


def _write(path: Path, schema: pa.Schema, rows: list[tuple[Any, ...]]) -> str:
    table = pa.Table.from_pylist(
        [dict(zip(schema.names, r, strict=True)) for r in rows], schema=schema
    )
    pq.write_table(table, path)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("cross_engine")
    return {
        "data": _write(base / "orders.parquet", SCHEMA, ROWS),
        "ref": _write(base / "ref.parquet", REF_SCHEMA, REF_ROWS),
    }


def _run(engine: Any, files: dict[str, str], sample_limit: int = 20) -> RulesetResult:
    options = EvaluationOptions(
        now=NOW,
        references={"ref": files["ref"], "same": files["data"]},
        record_metrics=False,
        sample_limit=sample_limit,
    )
    return evaluate(parse_ruleset(RULESET), files["data"], engine=engine, options=options)


def _flatten(results: list[RuleResult]) -> list[RuleResult]:
    out: list[RuleResult] = []
    for r in results:
        out.append(r)
        out.extend(_flatten(r.children))
    return out


@pytest.fixture(scope="module")
def duckdb_result(files: dict[str, str]) -> RulesetResult:
    from sluice.engines.duckdb import DuckDBEngine

    with DuckDBEngine() as engine:
        return _run(engine, files)


def _by_rule(result: RulesetResult) -> dict[str, RuleResult]:
    return {r.rule: r for r in result.results}


# ------------------------------------------------------------------ DuckDB, pinned


def test_ruleset_covers_every_rule_type() -> None:
    from sluice.quality.rules import SPECS

    used = {leaf.type for leaf in parse_ruleset(RULESET).leaves()}
    assert set(SPECS) - used == {"FileFreshness", "DetectAnomalies"}


def test_no_rule_errors_except_the_deliberate_ones(duckdb_result: RulesetResult) -> None:
    errors = [r.rule for r in duckdb_result.results if r.outcome is Outcome.ERROR]
    assert errors == ['ColumnValues "missing" > 0', 'Mean "name" > 0']


EXPECTED_DUCKDB: dict[str, tuple[Outcome, int | None, dict[str, float | None]]] = {
    # rule text: (outcome, failing_rows, some metrics)
    "RowCount = 10": (Outcome.PASS, None, {"Dataset.*.RowCount": 10.0}),
    'RowCount between 3 and 5 where "qty > 4"': (Outcome.PASS, None, {}),
    "ColumnCount = 11": (Outcome.PASS, None, {"Dataset.*.ColumnCount": 11.0}),
    'ColumnNamesMatchPattern "[a-z]+"': (
        Outcome.FAIL,
        None,
        {"Dataset.*.ColumnNamesPatternMatchRatio": 9 / 11},
    ),
    'ColumnExists "missing"': (Outcome.FAIL, None, {}),
    # "12","7","-3","8","10"," 42 " conform; "abc","1e3", NBSP do not; NULL passes
    'ColumnDataType "code" = "INTEGER"': (
        Outcome.FAIL,
        3,
        {"Column.code.ColumnDataType.Compliance": 0.7},
    ),
    'ColumnDataType "code" = "INTEGER" with threshold > 0.6': (Outcome.PASS, 3, {}),
    # WHITESPACES_ONLY means spaces (U+0020) only, as Spark's TRIM: NBSP is not
    'ColumnValues "code" = WHITESPACES_ONLY': (Outcome.FAIL, 10, {}),
    'Completeness "amount" > 0.85': (Outcome.FAIL, 2, {"Column.amount.Completeness": 0.8}),
    'IsComplete "name"': (Outcome.FAIL, 1, {"Column.name.Completeness": 0.9}),
    # order_id 100, 103, 105 are duplicated: 4 single rows of 10
    'IsUnique "order_id"': (Outcome.FAIL, 6, {"Column.order_id.Uniqueness": 0.4}),
    'IsPrimaryKey "order_id" "line"': (Outcome.FAIL, 2, {}),
    'DistinctValuesCount "order_id" = 7': (Outcome.PASS, None, {}),
    'UniqueValueRatio "order_id" > 0.5': (
        Outcome.PASS,
        None,
        {"Column.order_id.UniqueValueRatio": 4 / 7},
    ),
    'Sum "qty" = 42': (Outcome.PASS, None, {"Column.qty.Sum": 42.0}),
    'Mean "active" > 0.5': (Outcome.PASS, None, {"Column.active.Mean": 5 / 8}),
    # "abc", NBSP and NULL do not convert, -3 is too small; " 42 " and "1e3" convert
    'ColumnValues "code" > 5': (Outcome.FAIL, 4, {}),
    # 2024-06-05 12:00, 2024-06-01 and NULL are older than 2024-06-07 12:00
    'ColumnValues "updated_at" > (now() - 3 days)': (Outcome.FAIL, 3, {}),
    'DataFreshness "updated_at" <= 24 hours': (
        Outcome.FAIL,
        4,
        {"Column.updated_at.DataFreshness.Compliance": 0.6},
    ),
    'ColumnValues "name" matches "[A-Za-zÀ-ÿ李雷]+"': (Outcome.FAIL, 3, {}),
    'CustomSql "select id from primary where amount > 20"': (
        Outcome.FAIL,
        4,
        {"Dataset.*.CustomSQL": 0.6},
    ),
    'ReferentialIntegrity "customer" "ref.customer" >= 0.8': (
        Outcome.FAIL,
        3,
        {"Column.customer.ReferentialIntegrity": 0.7},
    ),
    'RowCountMatch "ref" = 2.0': (Outcome.PASS, None, {"Dataset.ref.RowCountMatch": 2.0}),
    'ColumnValues "amount" > 1000 labels=["severity"="warn"]': (Outcome.WARN, 10, {}),
}


def test_duckdb_known_values(duckdb_result: RulesetResult) -> None:
    by_rule = _by_rule(duckdb_result)
    for rule, (outcome, failing, metrics) in EXPECTED_DUCKDB.items():
        got = by_rule[rule]
        assert got.outcome is outcome, (rule, got.outcome, got.message)
        assert got.failing_rows == failing, (rule, got.failing_rows)
        for k, v in metrics.items():
            assert got.metrics[k] == pytest.approx(v, **FLOAT_TOL), (rule, k, got.metrics)
        if outcome in {Outcome.FAIL, Outcome.WARN} and failing and got.rule_type != "CustomSql":
            # row-level CustomSql selects passing rows: it has no failing rows to show
            assert len(got.sample) == failing, rule
    assert _ids(by_rule['IsUnique "order_id"'].sample) == [1, 2, 5, 6, 8, 9]
    assert _ids(by_rule['IsPrimaryKey "order_id" "line"'].sample) == [5, 6]
    assert _ids(by_rule['ColumnValues "code" > 5'].sample) == [3, 5, 6, 9]
    assert _ids(by_rule['ReferentialIntegrity "customer" "ref.customer" >= 0.8'].sample) == [
        5,
        6,
        10,
    ]


# ------------------------------------------------------------------ cross-engine


def _ids(sample: list[dict[str, Any]]) -> list[Any]:
    return sorted(row.get("id") for row in sample)


def _compare(reference: RulesetResult, other: RulesetResult, samples: bool = True) -> list[str]:
    problems: list[str] = []
    ref_all, got_all = _flatten(reference.results), _flatten(other.results)
    assert [r.rule for r in ref_all] == [r.rule for r in got_all]
    for a, b in zip(ref_all, got_all, strict=True):
        where = f"{b.rule} [{other.engine}]"
        if a.outcome is not b.outcome:
            problems.append(f"{where}: outcome {b.outcome} != {a.outcome} ({b.message})")
            continue
        if a.failing_rows != b.failing_rows or a.evaluated_rows != b.evaluated_rows:
            problems.append(
                f"{where}: rows {b.failing_rows}/{b.evaluated_rows} != "
                f"{a.failing_rows}/{a.evaluated_rows}"
            )
        if samples and _ids(a.sample) != _ids(b.sample):
            problems.append(f"{where}: sample ids {_ids(b.sample)} != {_ids(a.sample)}")
        if set(a.metrics) != set(b.metrics):
            problems.append(f"{where}: metric keys {sorted(b.metrics)} != {sorted(a.metrics)}")
            continue
        for k, va in a.metrics.items():
            vb = b.metrics[k]
            same = (va is None and vb is None) or (
                va is not None
                and vb is not None
                and math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-9)
            )
            if not same:
                problems.append(f"{where}: {k} = {vb} != {va}")
    return problems


@pytest.mark.postgres
def test_postgres_matches_duckdb(
    duckdb_result: RulesetResult, files: dict[str, str], postgres_db: str
) -> None:
    from sluice.engines.postgres import PostgresEngine

    with PostgresEngine(url=postgres_db) as engine:
        result = _run(engine, files)
    problems = _compare(duckdb_result, result)
    assert not problems, "\n".join(problems)


@pytest.mark.spark
def test_spark_matches_duckdb(
    duckdb_result: RulesetResult, files: dict[str, str], spark: Any
) -> None:
    from sluice.engines.spark import SparkEngine

    # no samples: they cost one Spark job per failing rule (~40) and render the same
    # predicates as the shared scan, which is compared here
    result = _run(SparkEngine(session=spark), files, sample_limit=0)
    problems = _compare(duckdb_result, result, samples=False)
    assert not problems, "\n".join(problems)
