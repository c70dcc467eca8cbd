"""The catalog of an AWS environment: one S3 object that is the truth, Glue tables that follow.

``<prefix>/envs/<env>/catalog.json`` maps dataset → published version. Publish rewrites it in
one ``PutObject`` guarded by ``If-Match`` (its previous ETag), so every reader sees the old or
the new catalog and two publishers cannot overwrite each other. Glue Data Catalog tables
(database ``<glue_database_prefix><schema>``, table ``<name>``) then point at the published
versions' S3 prefixes, so Athena, Redshift Spectrum and Glue jobs read what sluice published.
A Glue failure puts the tables already switched and the catalog object back: nothing is
published.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

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

    def location(self, dataset: str) -> str | None:
        """Where a dataset's Glue table points now (None: no table)."""
        database, table = self.name(dataset)
        from botocore.exceptions import ClientError

        with aws_errors(f"look up Glue table {database}.{table}"):
            try:
                found = self.aws.client("glue").get_table(DatabaseName=database, Name=table)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                    return None
                raise
        return str(found["Table"]["StorageDescriptor"].get("Location", ""))

    def point(self, dataset: str, version: str, url: str,
              columns: list[tuple[str, str]]) -> None:
        """Create or update the dataset's table to read ``url`` (a version's prefix)."""
        database, table = self.name(dataset)
        self._ensure_database(database)
        table_input = {
            "Name": table, "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "sluice:dataset": dataset,
                           "sluice:version": version},
            "StorageDescriptor": {"Location": url, **PARQUET,
                                  "Columns": [{"Name": c.lower(), "Type": hive_type(t)}
                                              for c, t in columns]},
        }
        glue = self.aws.client("glue")
        with aws_errors(f"point Glue table {database}.{table} at {url}"):
            if self.location(dataset) is None:
                glue.create_table(DatabaseName=database, TableInput=table_input)
            else:
                glue.update_table(DatabaseName=database, TableInput=table_input)

    def drop(self, dataset: str) -> None:
        database, table = self.name(dataset)
        if self.location(dataset) is None:
            return
        with aws_errors(f"delete Glue table {database}.{table}"):
            self.aws.client("glue").delete_table(DatabaseName=database, Name=table)

