"""Dataset versions as Parquet prefixes in S3, with a local read cache.

A version lives under ``<prefix>/envs/<env>/versions/<dataset>/<version>/``: its Parquet files
(``data.parquet`` when sluice writes it, Spark's part files when a Glue job does, in Hive
partition folders when it wrote with partition keys) and then
``_version.json`` (fingerprint, rows, columns, created_at). The marker is written last with
``If-None-Match: *``, so a version exists exactly when its marker does and two writers can
never both create it. Athena, Spectrum and Spark skip ``_``-prefixed files, so the prefix is
a readable table location. Versions are immutable, so a downloaded copy never goes
stale: the cache under the environment's home is kept for good (``sluice gc`` drops both).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluice.errors import SluiceError
from sluice.targets.aws.session import AwsSession, aws_errors, sse_kms
from sluice.targets.base import VersionInfo

MARKER = "_version.json"
DATA = "data.parquet"
_READ_WORKERS = 8
_HIVE = {"BIGINT": "bigint", "INTEGER": "int", "SMALLINT": "smallint", "TINYINT": "tinyint",
         "HUGEINT": "decimal(38,0)", "UBIGINT": "decimal(20,0)", "UINTEGER": "bigint",
         "DOUBLE": "double", "FLOAT": "float", "REAL": "float", "BOOLEAN": "boolean",
         "DATE": "date", "VARCHAR": "string", "BLOB": "binary",
         "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamp"}


def hive_type(duckdb_type: str) -> str:
    """The Glue (Hive) column type of a DuckDB type, as Athena and Spectrum read Parquet."""
    upper = duckdb_type.upper()
    if upper.startswith("DECIMAL"):
        return upper.lower().replace(" ", "")
    return _HIVE.get(upper, "string")


def is_missing(exc: BaseException | None) -> bool:
    """A key (or the whole bucket: nothing was ever deployed there) that does not exist."""
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in {
        "404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def is_precondition(exc: BaseException | None) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in {
        "PreconditionFailed", "412", "ConditionalRequestConflict"}


def get_json(aws: AwsSession, bucket: str, key: str) -> tuple[dict[str, Any], str] | None:
    """A JSON object and its ETag, or None when the key (or the bucket) does not exist."""
    try:
        with aws_errors(f"read s3://{bucket}/{key}"):
            found = aws.client("s3").get_object(Bucket=bucket, Key=key)
            doc: dict[str, Any] = json.loads(found["Body"].read())
    except SluiceError as exc:
        if is_missing(exc.__cause__):
            return None
        raise
    return doc, str(found["ETag"])


@dataclass(frozen=True)
class StoredVersion:
    info: VersionInfo
    columns: list[tuple[str, str]]  # (name, duckdb type)


class S3Versions:
    """The versions of one environment: S3 is the truth, the cache only saves downloads."""

    def __init__(self, aws: AwsSession, bucket: str, root: str, cache: Path,
                 kms_key_id: str | None = None) -> None:
        self.aws, self.bucket, self.root, self.cache = aws, bucket, root.strip("/"), cache
        self.kms_key_id = kms_key_id
        self._markers: dict[str, StoredVersion] = {}  # marker key → parsed (immutable)

    # ------------------------------------------------------------------ keys
    def prefix(self, dataset: str, version: str) -> str:
        return f"{self.root}/{dataset}/{version}/"

    def url(self, dataset: str, version: str) -> str:
        return f"s3://{self.bucket}/{self.prefix(dataset, version)}"

    def local(self, dataset: str, version: str) -> Path:
        """The folder holding a local copy of the version's Parquet files."""
        if not DATASET_NAME.fullmatch(dataset) or not VERSION_ID.fullmatch(version):
            raise SluiceError(f"invalid dataset version {dataset}@{version}")
        return self.cache / dataset / version

    def _extra(self) -> dict[str, Any]:
        return sse_kms(self.kms_key_id)

    # ------------------------------------------------------------------ reads
    def _keys(self) -> list[str]:
        s3 = self.aws.client("s3")
        keys: list[str] = []
        try:
            with aws_errors(f"list dataset versions in s3://{self.bucket}/{self.root}/"):
                for page in s3.get_paginator("list_objects_v2").paginate(
                        Bucket=self.bucket, Prefix=self.root + "/"):
                    keys.extend(o["Key"] for o in page.get("Contents", []))
        except SluiceError as exc:
            if not is_missing(exc.__cause__):
                raise
        return keys

    def _read_marker(self, key: str) -> StoredVersion | None:
        if key not in self._markers:
            found = get_json(self.aws, self.bucket, key)
            if found is None:
                return None
            doc = found[0]
            dataset, version = key[len(self.root) + 1:-len("/" + MARKER)].rsplit("/", 1)
            if (doc.get("dataset"), doc.get("version")) != (dataset, version) \
                    or not VERSION_ID.fullmatch(version) or not DATASET_NAME.fullmatch(dataset):
                raise SluiceError(f"s3://{self.bucket}/{key} does not describe the version at "
                                  "its key; refusing it",
                                  tip="someone wrote into sluice's versions/ prefix; remove "
                                      "the object")
            info = VersionInfo(dataset, version, doc["fingerprint"], int(doc["rows"]),
                               doc["created_at"])
            self._markers[key] = StoredVersion(info, [tuple(c) for c in doc["columns"]])
        return self._markers[key]

    def all(self) -> list[StoredVersion]:
        """Every version (one LIST, then the markers not read before, in parallel)."""
        markers = [k for k in self._keys() if k.endswith("/" + MARKER)]
        with ThreadPoolExecutor(max_workers=_READ_WORKERS) as pool:
            found = [s for s in pool.map(self._read_marker, markers) if s is not None]
        return sorted(found, key=lambda s: (s.info.created_at, s.info.version), reverse=True)

    def data_keys(self) -> set[str]:
        """``dataset/version`` of every version with data (the physical storage)."""
        rel = [k[len(self.root) + 1:] for k in self._keys() if k.endswith(".parquet")]
        return {k.rsplit("/", 1)[0] for k in rel}

    def parts(self, dataset: str, version: str) -> list[str]:
        """The keys of a version's Parquet files."""
        s3, prefix = self.aws.client("s3"), self.prefix(dataset, version)
        keys: list[str] = []
        with aws_errors(f"list {self.url(dataset, version)}"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                     Prefix=prefix):
                keys += [o["Key"] for o in page.get("Contents", [])
                         if o["Key"].endswith(".parquet")
                         and not o["Key"][len(prefix):].startswith(("_", "."))]
        return sorted(keys)

    def get(self, dataset: str, version: str) -> StoredVersion | None:
        return self._read_marker(self.prefix(dataset, version) + MARKER)

    def has_data(self, dataset: str, version: str) -> bool:
        return bool(self.parts(dataset, version))

    def download(self, dataset: str, version: str) -> Path:
        """A local copy of a version's Parquet files (fetched once: versions never change);
        read it with :func:`parquet_glob`."""
        folder = self.local(dataset, version)
        if folder.is_dir():
            return folder
        keys = self.parts(dataset, version)
        if not keys:
            raise SluiceError(f"{self.url(dataset, version)} holds no Parquet files",
                              tip="the version's data was deleted behind sluice's back; "
                                  "deploy again to rewrite it")
        tmp = folder.with_name(f".{folder.name}.part")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        s3 = self.aws.client("s3")
        prefix, root = self.prefix(dataset, version), tmp.resolve()

        def fetch(key: str) -> None:
            # at its path under the prefix: Hive partition folders (country=de/) keep the
            # values of a Glue job's partitionKeys, which DuckDB reads back as columns
            path = (root / key[len(prefix):]).resolve()
            if not path.is_relative_to(root):
                raise SluiceError(f"s3://{self.bucket}/{key}: the key leaves its version's "
                                  "folder", tip="remove the object from the version's prefix")
            path.parent.mkdir(parents=True, exist_ok=True)
            with aws_errors(f"download s3://{self.bucket}/{key}"):
                s3.download_file(self.bucket, key, str(path))

        with ThreadPoolExecutor(max_workers=_READ_WORKERS) as pool:
            list(pool.map(fetch, keys))
        tmp.replace(folder)
        return folder

    # ------------------------------------------------------------------ writes
    def store(self, dataset: str, version: str, fingerprint: str, parquet: Path, rows: int,
              columns: list[tuple[str, str]]) -> VersionInfo:
        """Upload a written Parquet file as a new version; refuse to overwrite one."""
        if self.get(dataset, version) is not None:
            raise SluiceError(f"version {version} of {dataset} exists; versions are immutable")
        with aws_errors(f"upload {self.url(dataset, version)}{DATA}"):
            self.aws.client("s3").upload_file(str(parquet), self.bucket,
                                              self.prefix(dataset, version) + DATA,
                                              ExtraArgs=self._extra())
        info = self.register(dataset, version, fingerprint, rows, columns)
        dest = self.local(dataset, version)
        dest.mkdir(parents=True, exist_ok=True)
        parquet.replace(dest / DATA)
        return info

    def register(self, dataset: str, version: str, fingerprint: str, rows: int,
                 columns: list[tuple[str, str]]) -> VersionInfo:
        """Write the marker of a version whose data is in place (sluice's or a Glue job's)."""
        prefix = self.prefix(dataset, version)
        info = VersionInfo(dataset, version, fingerprint, rows,
                           dt.datetime.now(dt.UTC).isoformat())
        marker = {"dataset": dataset, "version": version, "fingerprint": fingerprint,
                  "rows": rows, "created_at": info.created_at, "columns": columns}
        s3 = self.aws.client("s3")
        try:
            with aws_errors(f"register {self.url(dataset, version)}"):
                s3.put_object(Bucket=self.bucket, Key=prefix + MARKER, IfNoneMatch="*",
                              Body=json.dumps(marker).encode(),
                              ContentType="application/json", **self._extra())
        except SluiceError as exc:
            if is_precondition(exc.__cause__):
                raise SluiceError(f"version {version} of {dataset} exists; versions are "
                                  "immutable (another deployment wrote it just now)") from exc
            raise
        return info

    def delete(self, dataset: str, version: str) -> None:
        """The marker first (the version stops existing), then the data."""
        prefix = self.prefix(dataset, version)
        s3 = self.aws.client("s3")
        with aws_errors(f"delete {self.url(dataset, version)}"):
            s3.delete_object(Bucket=self.bucket, Key=prefix + MARKER)
            keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix) for o in page.get("Contents", [])]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
        self._markers.pop(prefix + MARKER, None)
        shutil.rmtree(self.local(dataset, version), ignore_errors=True)


def parquet_glob(folder: Path) -> str:
    """Every Parquet file of a downloaded version, partition folders included (DuckDB detects
    Hive partitioning from the paths)."""
    return str(folder / "**" / "*.parquet")


VERSION_ID = re.compile(r"[A-Za-z0-9_]+")
DATASET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
