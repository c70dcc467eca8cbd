"""Redshift through the Data API, as a migration/audit session: each statement is submitted,
polled with backoff until it finishes (or a timeout), and a failure is reported with its SQL.
A transaction is one ``BatchExecuteStatement`` (the Data API runs a batch as a single
transaction), so a migration and its history row commit together or not at all."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sluice.targets.aws.session import AwsError, AwsSession, aws_errors

_FIELD = ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue")


@dataclass(frozen=True)
class RedshiftTarget:
    database: str
    workgroup: str | None = None  # Redshift Serverless
    cluster: str | None = None  # provisioned
    secret_arn: str | None = None
    db_user: str | None = None


class RedshiftDataSession:
    engine = "redshift"
    transactional_ddl = True
    objects = None  # COPY runs on Redshift as written: nothing is loaded locally

    def __init__(self, aws: AwsSession, target: RedshiftTarget, *, timeout: float = 900,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.aws, self.target, self.timeout, self.sleep = aws, target, timeout, sleep
        self._batch: list[str] | None = None

    def _where(self) -> dict[str, Any]:
        t = self.target
        out: dict[str, Any] = {"Database": t.database}
        if t.workgroup:
            out["WorkgroupName"] = t.workgroup
        if t.cluster:
            out["ClusterIdentifier"] = t.cluster
        if t.secret_arn:
            out["SecretArn"] = t.secret_arn
        if t.db_user:
            out["DbUser"] = t.db_user
        return out

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._batch = []
        try:
            yield
            batch, self._batch = self._batch, None
            if batch:
                with aws_errors("redshift batch"):
                    sid = self.aws.client("redshift-data").batch_execute_statement(
                        Sqls=batch, **self._where())["Id"]
                self._wait(sid, "\n".join(batch))
        finally:
            self._batch = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        text = _inline(sql, params)
        if self._batch is not None:
            self._batch.append(text)
            return
        self._wait(self._submit(text), text)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        text = _inline(sql, params)
        sid = self._submit(text)
        if not self._wait(sid, text):
            return []
        rows: list[tuple[Any, ...]] = []
        client = self.aws.client("redshift-data")
        token: str | None = None
        with aws_errors("redshift result"):
            while True:
                page = client.get_statement_result(Id=sid, **({"NextToken": token}
                                                              if token else {}))
                rows += [tuple(_value(f) for f in rec) for rec in page.get("Records", [])]
                token = page.get("NextToken")
                if not token:
                    return rows

    def _submit(self, sql: str) -> str:
        with aws_errors("redshift statement"):
            return str(self.aws.client("redshift-data").execute_statement(
                Sql=sql, **self._where())["Id"])

    def _wait(self, sid: str, sql: str) -> bool:
        """Poll until done, with backoff; True when it returned a result set."""
        client = self.aws.client("redshift-data")
        delay, waited = 0.25, 0.0
        while True:
            with aws_errors("redshift statement status"):
                d = client.describe_statement(Id=sid)
            status = d["Status"]
            if status == "FINISHED":
                return bool(d.get("HasResultSet"))
            if status in {"FAILED", "ABORTED"}:
                raise AwsError(f"redshift: statement {status.lower()}: {d.get('Error', '')}"
                               f"\n    {sql[:300]}",
                               tip="the statement ran on the environment's Redshift as shown")
            if waited >= self.timeout:
                client.cancel_statement(Id=sid)
                raise AwsError(f"redshift: statement still {status} after "
                               f"{self.timeout:.0f}s; cancelled\n    {sql[:300]}")
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


def _value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for key in _FIELD:
        if key in field:
            return field[key]
    return None


def _inline(sql: str, params: Sequence[Any]) -> str:
    """``?`` placeholders replaced by SQL literals (the Data API's named parameters cannot
    be batched); strings are quoted with quotes doubled, so values cannot break out."""
    if not params:
        return sql
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise AwsError(f"redshift: {len(params)} parameters for {len(parts) - 1} placeholders")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        out += [_literal(value), rest]
    return "".join(out)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
