"""The catalog of an AWS environment: one S3 object that is the truth, Glue tables that follow.

``<prefix>/envs/<env>/catalog.json`` maps dataset → published version. Publish rewrites it in
one ``PutObject`` guarded by ``If-Match`` (its previous ETag), so every reader sees the old or
the new catalog and two publishers cannot overwrite each other. Glue Data Catalog tables
(database ``<glue_database_prefix><schema>``, table ``<name>``) then point at the published
versions' S3 prefixes, so Athena, Redshift Spectrum and Glue jobs read what sluice published.
A version written in Hive partition folders (a Glue job's ``partitionKeys``) gets a table
partitioned the same way, one Glue partition per folder, as a crawler would register it:
the partition columns are not in the Parquet files, so an unpartitioned table would read them
as NULL. A Glue failure puts the tables already switched and the catalog object back: nothing
is published. The partitions of a table are replaced after the table itself (Glue has no
transaction across them): a query in between may see the old partitions or none.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from sluice.errors import SluiceError
from sluice.targets.aws.datasets import get_json, hive_type, is_precondition
from sluice.targets.aws.session import AwsSession, aws_errors

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary":
                  "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


class CatalogObject:
    """The catalog as one S3 object, read with its ETag and written conditionally."""

    def __init__(self, aws: AwsSession, bucket: str, key: str,
                 extra: Mapping[str, Any]) -> None:
        self.aws, self.bucket, self.key, self.extra = aws, bucket, key, dict(extra)

    def read(self) -> tuple[dict[str, str], str | None]:
        found = get_json(self.aws, self.bucket, self.key)
        if found is None:
            return {}, None
        return dict(found[0]["datasets"]), found[1]

    def write(self, datasets: Mapping[str, str], etag: str | None) -> str:
        """Replace the catalog if it is still at ``etag`` (None: if there is none yet)."""
        body = json.dumps({"datasets": dict(sorted(datasets.items())),
                           "updated_at": dt.datetime.now(dt.UTC).isoformat()}, indent=1)
        guard = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            with aws_errors(f"write the catalog s3://{self.bucket}/{self.key}"):
                put = self.aws.client("s3").put_object(
                    Bucket=self.bucket, Key=self.key, Body=body.encode(),
                    ContentType="application/json", **guard, **self.extra)
        except SluiceError as exc:
            if is_precondition(exc.__cause__):
                raise SluiceError(
                    f"the catalog s3://{self.bucket}/{self.key} changed while publishing "
                    "(another deployment published); nothing was published",
                    tip="deployments hold the environment lock; run again") from exc
            raise
        return str(put["ETag"])


_CREATE_BATCH, _DELETE_BATCH = 100, 25  # BatchCreatePartition's and BatchDeletePartition's limits


def hive_partitions(files: Sequence[str]) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The partition keys of a version's files (paths under its prefix,
    ``country=de/part-0.parquet``) and each partition's folder (``country=de/``) with its
    values (unescaped, as Glue keeps them); no keys unless every file lies in the same
    ``k=v/`` folders, in the same order."""
    layouts: set[tuple[str, ...]] = set()
    folders: dict[str, tuple[str, ...]] = {}
    for path in files:
        parts = path.split("/")[:-1]
        pairs = [f.partition("=") for f in parts]
        if not parts or any(not sep or not key for key, sep, _ in pairs):
            return [], {}
        layouts.add(tuple(key for key, _, _ in pairs))
        folders["".join(f"{f}/" for f in parts)] = tuple(unquote(v) for _, _, v in pairs)
    if len(layouts) != 1:
        return [], {}
    return list(layouts.pop()), dict(sorted(folders.items()))


class GlueTables:
    """Glue tables that follow the catalog: one table per dataset, pointed at a version."""

    def __init__(self, aws: AwsSession, database_prefix: str) -> None:
        self.aws, self.database_prefix = aws, database_prefix
        self._databases: set[str] = set()

    def name(self, dataset: str) -> tuple[str, str]:
        schema, _, table = dataset.rpartition(".")
        return (self.database_prefix + (schema or "main")).lower(), table.lower()

    def _ensure_database(self, database: str) -> None:
        if database in self._databases:
            return
        glue = self.aws.client("glue")
        from botocore.exceptions import ClientError

        with aws_errors(f"look up or create Glue database {database}"):
            try:
                glue.get_database(Name=database)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                    raise
                glue.create_database(DatabaseInput={
                    "Name": database, "Description": "datasets published by sluice"})
        self._databases.add(database)

    def _table(self, dataset: str) -> dict[str, Any] | None:
        database, table = self.name(dataset)
        from botocore.exceptions import ClientError

        with aws_errors(f"look up Glue table {database}.{table}"):
            try:
                found = self.aws.client("glue").get_table(DatabaseName=database, Name=table)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                    return None
                raise
        return dict(found["Table"])

    def location(self, dataset: str) -> str | None:
        """Where a dataset's Glue table points now (None: no table)."""
        found = self._table(dataset)
        return None if found is None else str(found["StorageDescriptor"].get("Location", ""))

    def point(self, dataset: str, version: str, url: str, columns: list[tuple[str, str]],
              files: Sequence[str] = ()) -> None:
        """Create or update the dataset's table to read ``url`` (a version's prefix), whose
        Parquet ``files`` (paths under it) give its Hive partitions, if any."""
        database, table = self.name(dataset)
        self._ensure_database(database)
        keys, folders = hive_partitions(files)
        types = {c.lower(): hive_type(t) for c, t in columns}
        table_input: dict[str, Any] = {
            "Name": table, "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "sluice:dataset": dataset,
                           "sluice:version": version},
            "StorageDescriptor": {"Location": url, **PARQUET,
                                  "Columns": [{"Name": c, "Type": t} for c, t in types.items()
                                              if c not in {k.lower() for k in keys}]},
        }
        if keys:
            table_input["PartitionKeys"] = [{"Name": k.lower(), "Type": types.get(k.lower(),
                                                                                  "string")}
                                            for k in keys]
        glue = self.aws.client("glue")
        existing = self._table(dataset)
        old_keys = [k["Name"] for k in (existing or {}).get("PartitionKeys", [])]
        with aws_errors(f"point Glue table {database}.{table} at {url}"):
            if existing is not None and old_keys != [k.lower() for k in keys]:
                # Glue does not reliably change a table's PartitionKeys in place (adding keys
                # to an unpartitioned table included): a change of keys is a new table
                glue.delete_table(DatabaseName=database, Name=table)
                existing = None
            if existing is None:
                glue.create_table(DatabaseName=database, TableInput=table_input)
            else:
                glue.update_table(DatabaseName=database, TableInput=table_input)
                if old_keys:
                    self._drop_partitions(database, table)
            if keys:
                self._add_partitions(database, table, url, folders, table_input)

    def _drop_partitions(self, database: str, table: str) -> None:
        glue = self.aws.client("glue")
        old = [p["Values"] for page in glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=table) for p in page["Partitions"]]
        for start in range(0, len(old), _DELETE_BATCH):
            answer = glue.batch_delete_partition(
                DatabaseName=database, TableName=table,
                PartitionsToDelete=[{"Values": v} for v in old[start:start + _DELETE_BATCH]])
            _refuse_errors(answer, f"delete the partitions of {database}.{table}")

    def _add_partitions(self, database: str, table: str, url: str,
                        folders: Mapping[str, tuple[str, ...]],
                        table_input: Mapping[str, Any]) -> None:
        sd = table_input["StorageDescriptor"]
        inputs = [{"Values": list(values), "StorageDescriptor": {**sd, "Location": url + folder}}
                  for folder, values in folders.items()]
        glue = self.aws.client("glue")
        for start in range(0, len(inputs), _CREATE_BATCH):
            answer = glue.batch_create_partition(
                DatabaseName=database, TableName=table,
                PartitionInputList=inputs[start:start + _CREATE_BATCH])
            _refuse_errors(answer, f"register the partitions of {database}.{table}")

    def drop(self, dataset: str) -> None:
        database, table = self.name(dataset)
        if self.location(dataset) is None:
            return
        with aws_errors(f"delete Glue table {database}.{table}"):
            self.aws.client("glue").delete_table(DatabaseName=database, Name=table)


def _refuse_errors(answer: Mapping[str, Any], doing: str) -> None:
    """Batch partition calls answer 200 with per-partition errors: make them a failure."""
    errors = answer.get("Errors") or []
    if errors:
        first = errors[0].get("ErrorDetail", {})
        raise SluiceError(f"could not {doing}: {first.get('ErrorCode', 'error')}: "
                          f"{first.get('ErrorMessage', '')} ({len(errors)} partitions)")
