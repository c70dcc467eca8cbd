"""Migrations on Redshift through the Data API, with botocore's Stubber (moto does not run
SQL): statements submitted, polled with backoff, a migration and its history row in one
batch (one transaction), failures reported with the SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from sluice.migrations import apply
from sluice.migrations.history import TABLE
from sluice.migrations.scripts import load_scripts
from sluice.targets.aws.redshift import RedshiftDataSession, RedshiftTarget
from sluice.targets.aws.session import AwsError, AwsSession, AwsSettings

WHERE = {"Database": "analytics", "WorkgroupName": "retail",
         "SecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:rs"}


def session() -> tuple[RedshiftDataSession, Stubber, list[float]]:
    aws = AwsSession(AwsSettings("eu-west-1"), env="prod", actor="ci")
    client = boto3.client("redshift-data", region_name="eu-west-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    aws._clients["redshift-data"] = client
    slept: list[float] = []
    target = RedshiftTarget("analytics", workgroup="retail", secret_arn=WHERE["SecretArn"])
    return RedshiftDataSession(aws, target, sleep=slept.append), Stubber(client), slept


def statement(stub: Stubber, sid: str, sql: Any, *, result: list[list[dict[str, Any]]]
              | None = None, polls: int = 0) -> None:
    stub.add_response("execute_statement", {"Id": sid}, {"Sql": sql, **WHERE})
    for _ in range(polls):
        stub.add_response("describe_statement", {"Id": sid, "Status": "STARTED"}, {"Id": sid})
    stub.add_response("describe_statement", {"Id": sid, "Status": "FINISHED",
                                             "HasResultSet": result is not None}, {"Id": sid})
    if result is not None:
        stub.add_response("get_statement_result", {"Records": result, "TotalNumRows":
                                                   len(result), "ColumnMetadata": []},
                          {"Id": sid})


def test_a_migration_and_its_history_row_go_in_one_batch(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "V1__sales.sql").write_text(
        "CREATE TABLE sales (id BIGINT IDENTITY(1,1), region VARCHAR(20)) DISTKEY(region);\n")
    s, stub, slept = session()
    batches: list[list[str]] = []
    s.aws.client("redshift-data").meta.events.register(
        "provide-client-params.redshift-data.BatchExecuteStatement",
        lambda params, **_: batches.append(list(params["Sqls"])))
    with stub:
        statement(stub, "ensure", ANY)  # CREATE TABLE IF NOT EXISTS flyway_schema_history
        statement(stub, "rows", f"SELECT installed_rank, version, description, type, "
                  f"script, checksum, installed_by, installed_on, execution_time, success "
                  f"FROM {TABLE} ORDER BY installed_rank", result=[])
        statement(stub, "rank", f"SELECT COALESCE(MAX(installed_rank), 0) + 1 FROM {TABLE}",
                  result=[[{"longValue": 1}]], polls=2)
        stub.add_response("batch_execute_statement", {"Id": "batch"}, {"Sqls": ANY, **WHERE})
        stub.add_response("describe_statement", {"Id": "batch", "Status": "FINISHED"},
                          {"Id": "batch"})
        done = apply(load_scripts(folder), s, "redshift", "ci")
        stub.assert_no_pending_responses()
    assert [m.name for m in done] == ["V1__sales.sql"]
    [batch] = batches  # the script (Redshift as written: no translation) and its history row
    assert batch[0] == ("CREATE TABLE sales (id BIGINT IDENTITY(1,1), region VARCHAR(20)) "
                        "DISTKEY(region)")
    assert batch[1].startswith(f"INSERT INTO {TABLE} (installed_rank, version, description, "
                               "type, script, checksum, installed_by, execution_time, success) "
                               "VALUES (1, '1', 'sales', 'SQL', 'V1__sales.sql', ")
    assert batch[1].endswith(", TRUE)")
    assert slept == [0.25, 0.5]  # backoff while the rank query ran


def test_a_failed_statement_is_reported_with_its_sql() -> None:
    s, stub, _ = session()
    with stub:
        stub.add_response("execute_statement", {"Id": "x"}, {"Sql": "DROP TABLE nope", **WHERE})
        stub.add_response("describe_statement", {
            "Id": "x", "Status": "FAILED", "Error": 'ERROR: table "nope" does not exist'},
            {"Id": "x"})
        with pytest.raises(AwsError) as info:
            s.execute("DROP TABLE nope")
    assert info.value.message == ('redshift: statement failed: ERROR: table "nope" does not '
                                  "exist\n    DROP TABLE nope")


def test_parameters_are_quoted_so_values_cannot_break_out() -> None:
    s, stub, _ = session()
    with stub:
        statement(stub, "q", "INSERT INTO t VALUES ('it''s; DROP TABLE t', 3, NULL, TRUE)")
        s.execute("INSERT INTO t VALUES (?, ?, ?, ?)", ["it's; DROP TABLE t", 3, None, True])
        stub.assert_no_pending_responses()
