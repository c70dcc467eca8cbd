"""The AWS target: releases, dataset versions and the catalog of an environment in S3.

Layout in the environment's bucket (``<prefix>`` defaults to ``sluice``)::

    <prefix>/blobs/…, <prefix>/releases/<id>.json   release bundles (content-addressed)
    <prefix>/envs/<env>/current.json                the current release (one PutObject)
    <prefix>/envs/<env>/catalog.json                dataset → published version
    <prefix>/envs/<env>/versions/<dataset>/<v>/     data.parquet + _version.json
    <prefix>/envs/<env>/objects/…                   sources (`sluice load` uploads here)

SQL jobs and audits run in an in-process DuckDB on the deploying machine (a laptop or a
CodeBuild runner) over local copies of the Parquet versions; new versions are written as
Parquet and uploaded. The Glue Data Catalog follows the catalog object, so Athena, Redshift
Spectrum and Glue jobs read exactly what sluice published. Migrations go to Redshift through
the Data API when ``redshift`` is configured.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import posixpath
import re
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from sluice.engines.duckdb import DuckDBEngine
from sluice.errors import DataSourceError, LockError, ReleaseError, SluiceError
from sluice.release import ArtifactStore, Manifest, materialize
from sluice.state.locks import dead_local_owner
from sluice.targets.aws.artifacts import S3Artifacts
from sluice.targets.aws.catalog import CatalogObject, GlueTables
from sluice.targets.aws.datasets import (
    VERSION_ID,
    S3Versions,
    get_json,
    is_missing,
    parquet_glob,
)
from sluice.targets.aws.redshift import RedshiftDataSession, RedshiftTarget
from sluice.targets.aws.session import AwsSession, AwsSettings, aws_errors, sse_kms
from sluice.targets.base import Capabilities, Target, VersionInfo
from sluice.targets.local.target import (
    SCHEMA,
    create_version_through_view,
    quote_ident,
    quote_qualified,
)

if TYPE_CHECKING:
    from sluice.targets.aws.components import AwsComponents

_READERS = {"csv": "read_csv_auto", "json": "read_json_auto", "parquet": "read_parquet"}
_DOWNLOAD_WORKERS = 8


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` and ``?`` within one path segment, ``**`` across segments (like Path.glob)."""
    out = ""
    for part in re.split(r"(\*\*/?|\*|\?)", pattern):
        if part.startswith("**"):
            out += "(?:.*/)?" if part.endswith("/") else ".*"
        elif part == "*":
            out += "[^/]*"
        elif part == "?":
            out += "[^/]"
        else:
            out += re.escape(part)
    return re.compile(out + r"\Z")


class AwsTarget(Target):
    name = "aws"
    # the catalog object is swapped in one conditional PutObject; Glue follows or is put back
    capabilities = Capabilities(transactional_publish=True, sql_engine=True, remote=True)

    def __init__(self, env: str, home: Path, *, region: str, bucket: str,
                 prefix: str = "sluice", profile: str | None = None,
                 role_arn: str | None = None, external_id: str | None = None,
                 kms_key_id: str | None = None, endpoint_url: str | None = None,
                 glue_database_prefix: str | None = None,
                 redshift: Mapping[str, Any] | None = None, actor: str = "deployer",
                 execution_role: str | None = None, project: str = "sluice",
                 pyspark: str = "glue", **_: Any) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", env):
            raise SluiceError(f"invalid environment name {env!r}")
        self.env, self.bucket = env, bucket
        self.prefix = prefix.strip("/")
        self.root = f"{self.prefix}/envs/{env}"
        self.dir = Path(home) / "envs" / env
        self.releases = self.dir / "releases"
        self.cache = self.dir / "aws-cache"
        self.releases.mkdir(parents=True, exist_ok=True)
        self.aws = AwsSession(AwsSettings(region=region, profile=profile, role_arn=role_arn,
                                          external_id=external_id, endpoint_url=endpoint_url),
                              env=env, actor=actor)
        self.kms_key_id = kms_key_id
        self.artifacts = S3Artifacts(self.aws, bucket, self.prefix, kms_key_id)
        self.data = S3Versions(self.aws, bucket, f"{self.root}/versions",
                               self.cache / "versions", kms_key_id)
        self.catalog_object = CatalogObject(self.aws, bucket, f"{self.root}/catalog.json",
                                            self.encryption())
        self.glue = GlueTables(self.aws, f"{env}_" if glue_database_prefix is None
                               else glue_database_prefix)
        self.redshift = RedshiftTarget(**redshift) if redshift else None
        self.execution_role = execution_role
        self.project = project
        self.pyspark = pyspark
        self._topic: str | None = None
        self._bucket_ready = False
        self._engine: DuckDBEngine | None = None
        self._views: set[tuple[str, str]] = set()  # version views created in the engine
        self._known: dict[tuple[str, str], list[tuple[str, str]]] = {}  # version → columns

    def encryption(self) -> dict[str, Any]:
        """PutObject arguments for SSE-KMS when a key is configured."""
        return sse_kms(self.kms_key_id)

    def ensure_bucket(self) -> None:
        """Create the bucket (versioning on, SSE-KMS when configured) on first write."""
        if not self._bucket_ready:
            self.artifacts.ensure_bucket()
            self._bucket_ready = True

    def _get_json(self, key: str) -> dict[str, Any] | None:
        found = get_json(self.aws, self.bucket, key)
        return found[0] if found else None

    # ------------------------------------------------------------------ code
    def release_dir(self, release_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{6,64}", release_id):
            raise ReleaseError(f"invalid release id {release_id!r}")
        path = self.releases / release_id
        if not path.is_dir() and self._get_json(self.artifacts.manifest_key(release_id)):
            # installed in S3 by another machine: fetch and verify it, then materialise
            store = ArtifactStore(self.dir.parent.parent / "artifacts")
            materialize(store, self.artifacts.download_release(release_id, store), path)
        return path

    def stage_release(self, store: ArtifactStore, manifest: Manifest) -> Path:
        """The release under the local home only: nothing is uploaded (a plan)."""
        dest = self.releases / manifest.id
        materialize(store, manifest, dest)
        return dest

    def install_release(self, store: ArtifactStore, manifest: Manifest) -> Path:
        self.ensure_bucket()
        self.artifacts.upload_release(store, manifest)
        dest = self.releases / manifest.id
        materialize(store, manifest, dest)
        return dest

    def activate_release(self, release_id: str) -> None:
        self.release_dir(release_id)  # validates the id
        if self._get_json(self.artifacts.manifest_key(release_id)) is None:
            raise ReleaseError(f"release {release_id} is not installed in {self.env} "
                               f"(s3://{self.bucket}/{self.artifacts.manifest_key(release_id)})")
        if self.current_release() == release_id:
            return  # already current: no write call
        doc = {"release": release_id, "at": dt.datetime.now(dt.UTC).isoformat()}
        with aws_errors(f"make release {release_id} current in {self.env}"):
            self.aws.client("s3").put_object(Bucket=self.bucket, Key=f"{self.root}/current.json",
                                             Body=json.dumps(doc).encode(),
                                             ContentType="application/json", **self.encryption())

    def current_release(self) -> str | None:
        doc = self._get_json(f"{self.root}/current.json")
        return str(doc["release"]) if doc else None

    # ------------------------------------------------------------------ sources
    def _source_keys(self, name: str, fmt: str, location: str) -> tuple[str, list[dict[str, Any]]]:
        """The bucket and the listed objects a source location matches."""
        if location.startswith("s3://"):
            bucket, _, key = location[5:].partition("/")
        else:
            bucket, objects = self.bucket, f"{self.root}/objects/"
            key = posixpath.normpath(objects + location)
            if not key.startswith(objects) or location.startswith("/"):
                raise DataSourceError(f"source {name}: {location!r} points outside the "
                                      f"object store s3://{bucket}/{objects}")
        static = re.split(r"[*?\[]", key, maxsplit=1)[0]
        pattern = _glob_regex(key)
        listed: list[dict[str, Any]] = []
        try:
            with aws_errors(f"list source {name} in s3://{bucket}/{static}"):
                for page in self.aws.client("s3").get_paginator("list_objects_v2").paginate(
                        Bucket=bucket, Prefix=static):
                    listed.extend(o for o in page.get("Contents", []) if pattern.match(o["Key"]))
        except SluiceError as exc:
            if not is_missing(exc.__cause__):
                raise
        if not listed:
            raise DataSourceError(
                f"source {name}: no {fmt} object matches s3://{bucket}/{key}",
                tip=f"upload the files:  sluice load {self.env} DIR  (DIR holding {location})")
        return bucket, sorted(listed, key=lambda o: o["Key"])

    def _download_source(self, bucket: str, obj: dict[str, Any]) -> Path:
        """A local copy of one source object, fetched again only when its ETag changed."""
        root = (self.cache / "objects" / bucket).resolve()
        path: Path = (root / str(obj["Key"])).resolve()
        if not path.is_relative_to(root):  # a key with ../ must not write outside the cache
            raise DataSourceError(f"s3://{bucket}/{obj['Key']}: the key leaves its folder",
                                  tip="rename the object without '..' segments")
        tag = path.with_name(path.name + ".etag")
        if path.exists() and tag.exists() and tag.read_text() == obj["ETag"]:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        with aws_errors(f"download s3://{bucket}/{obj['Key']}"):
            self.aws.client("s3").download_file(bucket, obj["Key"], str(part))
        part.replace(path)
        tag.write_text(obj["ETag"])
        return path

    def source_sql(self, name: str, fmt: str, location: str) -> str:
        if fmt == "table":
            raise DataSourceError(f"source {name}: table sources are not supported on the aws "
                                  "target", tip="declare the table's S3 location as a parquet "
                                                "source instead")
        bucket, listed = self._source_keys(name, fmt, location)
        with ThreadPoolExecutor(max_workers=_DOWNLOAD_WORKERS) as pool:
            paths = list(pool.map(lambda o: self._download_source(bucket, o), listed))
        files = ", ".join(exp.Literal.string(str(p)).sql("duckdb") for p in paths)
        return f"{_READERS[fmt]}([{files}])"

    def load_objects(self, folder: Path) -> int:
        self.ensure_bucket()
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        s3 = self.aws.client("s3")

        def upload(path: Path) -> None:
            key = f"{self.root}/objects/{path.relative_to(folder).as_posix()}"
            with aws_errors(f"upload {path} to s3://{self.bucket}/{key}"):
                s3.upload_file(str(path), self.bucket, key, ExtraArgs=self.encryption())

        with ThreadPoolExecutor(max_workers=_DOWNLOAD_WORKERS) as pool:
            list(pool.map(upload, files))
        return len(files)

    def objects_url(self) -> str:
        return f"s3://{self.bucket}/{self.root}/objects/"

    # ------------------------------------------------------------------ data
    def engine(self) -> DuckDBEngine:
        if self._engine is None:
            self._engine = DuckDBEngine()
            self._engine.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(SCHEMA)}")
            self._known = {(s.info.dataset, s.info.version): s.columns for s in self.data.all()}
            self._show(self.catalog(), [])
        return self._engine

    def _view(self, dataset: str, version: str) -> None:
        if (dataset, version) in self._views or self._engine is None:
            return
        files = parquet_glob(self.data.download(dataset, version))
        self._engine.con.execute(
            f"CREATE OR REPLACE VIEW {self._version_name(dataset, version)} AS SELECT * FROM "
            f"read_parquet({exp.Literal.string(files).sql('duckdb')})")
        self._views.add((dataset, version))

    def _show(self, published: Mapping[str, str], dropped: list[str]) -> None:
        """Make the engine's dataset views match the catalog."""
        if self._engine is None:
            return
        con = self._engine.con
        for dataset, version in sorted(published.items()):
            self._view(dataset, version)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS "
                        f"{quote_ident(dataset.rpartition('.')[0] or 'main')}")
            con.execute(f"CREATE OR REPLACE VIEW {quote_qualified(dataset)} AS "
                        f"SELECT * FROM {self.version_table(dataset, version)}")
        for dataset in dropped:
            con.execute(f"DROP VIEW IF EXISTS {quote_qualified(dataset)}")

    @staticmethod
    def _version_name(dataset: str, version: str) -> str:
        if not VERSION_ID.fullmatch(version):
            raise SluiceError(f"invalid version id {version!r}")
        return f"{quote_ident(SCHEMA)}.{quote_ident(dataset.replace('.', '__') + '__' + version)}"

    def version_table(self, dataset: str, version: str) -> str:
        """The version's view in the engine (its data downloaded on first use)."""
        table = self._version_name(dataset, version)
        if (dataset, version) in self._known and (dataset, version) not in self._views:
            self._view(dataset, version)
        return table

    def _shape(self, files: str) -> tuple[list[tuple[str, str]], int]:
        """The columns (name, DuckDB type) and row count of Parquet ``files``."""
        rel = f"read_parquet({exp.Literal.string(files).sql('duckdb')})"
        con = self.engine().con
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        row = con.execute(f"SELECT COUNT(*) FROM {rel}").fetchone()
        return columns, int(row[0]) if row else 0

    def _registered(self, dataset: str, version: str, columns: list[tuple[str, str]]) -> None:
        self._known[(dataset, version)] = columns
        self._view(dataset, version)

    def create_version(self, dataset: str, version: str, fingerprint: str, select_sql: str) -> int:
        """Write the SELECT as Parquet locally, then upload it (``S3Versions.store`` refuses
        an existing version before anything is uploaded)."""
        self._version_name(dataset, version)  # validates the id
        self.ensure_bucket()
        con = self.engine().con
        self.cache.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".parquet", dir=self.cache)
        os.close(fd)
        tmp = Path(name)
        try:
            con.execute(f"COPY ({select_sql}) TO {exp.Literal.string(name).sql('duckdb')} "
                        "(FORMAT parquet)")
            columns, rows = self._shape(name)
            self.data.store(dataset, version, fingerprint, tmp, rows, columns)
        finally:
            tmp.unlink(missing_ok=True)
        self._registered(dataset, version, columns)
        return rows

    def register_version(self, dataset: str, version: str, fingerprint: str) -> int:
        """Make the Parquet files a Glue job wrote under the version's prefix a version:
        read them (rows, columns) and write the marker. Returns the row count."""
        self._version_name(dataset, version)  # validates the id
        if self.data.get(dataset, version) is not None:
            raise SluiceError(f"version {version} of {dataset} exists; versions are immutable")
        columns, rows = self._shape(parquet_glob(self.data.download(dataset, version)))
        self.data.register(dataset, version, fingerprint, rows, columns)
        self._registered(dataset, version, columns)
        return rows

    def create_version_from(self, dataset: str, version: str, fingerprint: str,
                            data: Any) -> int:
        return create_version_through_view(self, self.engine().con, dataset, version,
                                           fingerprint, data)

    def read_arrow(self, sql: str) -> Any:
        return self.engine().con.sql(sql).to_arrow_table()

    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        found = self.data.all()
        self._known.update({(s.info.dataset, s.info.version): s.columns for s in found})
        return [s.info for s in found if dataset is None or s.info.dataset == dataset]

    def drop_version(self, dataset: str, version: str) -> None:
        if self.catalog().get(dataset) == version:
            raise SluiceError(f"version {version} of {dataset} is published; not dropping it")
        self.data.delete(dataset, version)
        self._known.pop((dataset, version), None)
        if (dataset, version) in self._views and self._engine is not None:
            self._engine.con.execute(f"DROP VIEW IF EXISTS {self._version_name(dataset, version)}")
            self._views.discard((dataset, version))

    # ------------------------------------------------------------------ catalog
    def catalog(self) -> dict[str, str]:
        return self.catalog_object.read()[0]

    def publish(self, versions: Mapping[str, str], *, exact: bool = False) -> None:
        current, etag = self.catalog_object.read()
        changes = {d: v for d, v in versions.items() if current.get(d) != v}
        dropped = sorted(set(current) - set(versions)) if exact else []
        stored = {d: self.data.get(d, v) for d, v in changes.items()}
        unknown = [f"{d}@{changes[d]}" for d, s in sorted(stored.items()) if s is None]
        if unknown:
            raise SluiceError(f"cannot publish to {self.env}: no such version {', '.join(unknown)}",
                              tip="publish versions that create_version wrote")
        for dataset, version in sorted(changes.items()):
            if not self.data.has_data(dataset, version):
                raise SluiceError(
                    f"publish to {self.env} failed at {dataset} (version {version}), nothing was "
                    f"published: its data {self.data.url(dataset, version)} is missing",
                    tip="the catalog still points at the previous versions; deploy again to "
                        "rewrite the version")
        goal = {d: v for d, v in current.items() if d not in dropped} | dict(changes)
        if goal == current and etag is not None:
            return  # nothing to swap: no write call
        new_etag = self.catalog_object.write(goal, etag)
        dataset = ""
        try:
            for dataset in sorted(changes):
                record = stored[dataset]
                assert record is not None
                self._point(dataset, changes[dataset], record.columns)
            for dataset in dropped:
                self.glue.drop(dataset)
        except SluiceError as exc:
            # every table it may have touched (a switch can land with its answer lost)
            left = self._put_back(current, sorted(set(changes) | set(dropped)), new_etag)
            if left:
                raise SluiceError(
                    f"publish to {self.env} failed at {dataset} (Glue), nothing was published: "
                    f"{exc.message}; the Glue tables of {', '.join(left)} could not be pointed "
                    "back at their previous versions (sluice's catalog was)",
                    tip=f"check the deployer's Glue permissions (sluice doctor {self.env}), "
                        f"then  sluice rollback {self.env}  re-points them") from exc
            raise SluiceError(
                f"publish to {self.env} failed at {dataset} (Glue), nothing was published: "
                f"{exc.message}", tip="the catalog and the Glue tables point at the previous "
                                      "versions") from exc
        self._show(changes, dropped)

    def _point(self, dataset: str, version: str, columns: list[tuple[str, str]]) -> None:
        """The dataset's Glue table at a version, partitioned as its files are."""
        prefix = self.data.prefix(dataset, version)
        self.glue.point(dataset, version, self.data.url(dataset, version), columns,
                        [key[len(prefix):] for key in self.data.parts(dataset, version)])

    def _put_back(self, previous: Mapping[str, str], switched: list[str],
                  etag: str) -> list[str]:
        """Undo a publish whose Glue switch failed: tables first, then the catalog object,
        which is written back even when a table cannot be (sluice reads the catalog object).
        The datasets whose tables could not be pointed back."""
        failed: list[str] = []
        try:
            for dataset in switched:
                version = previous.get(dataset)
                record = self.data.get(dataset, version) if version else None
                try:
                    if version and record:
                        self._point(dataset, version, record.columns)
                    else:
                        self.glue.drop(dataset)
                except SluiceError:
                    failed.append(dataset)
        finally:
            self.catalog_object.write(previous, etag)
        return failed

    # ------------------------------------------------------------------ lock
    def acquire_lock(self, owner: str, ttl_seconds: float = 3600) -> None:
        """``envs/<env>/lock.json``, created with If-None-Match; an expired one (or our own)
        is replaced with If-Match, so of two machines racing for it one wins."""
        from sluice.targets.aws.datasets import is_precondition

        key = f"{self.root}/lock.json"
        body = json.dumps({"owner": owner, "expires": time.time() + ttl_seconds}).encode()
        self.ensure_bucket()
        s3 = self.aws.client("s3")
        try:
            with aws_errors(f"lock {self.env}"):
                s3.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
            return
        except SluiceError as exc:
            if not is_precondition(exc.__cause__):
                raise
        found = get_json(self.aws, self.bucket, key)
        held, etag = found if found else ({}, None)
        expires = float(held.get("expires", 0))
        # a holder that died on this host (a killed deploy) is taken over at once
        dead = dead_local_owner(str(held.get("owner", "")))
        if held.get("owner") != owner and expires > time.time() and dead is None:
            until = dt.datetime.fromtimestamp(expires, dt.UTC)
            raise LockError(f"{self.env} is locked by {held.get('owner')} (another machine) "
                            f"until {until:%H:%M:%S} UTC",
                            tip="wait for that deployment to finish, then run again")
        try:
            with aws_errors(f"lock {self.env}"):
                guard = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
                s3.put_object(Bucket=self.bucket, Key=key, Body=body, **guard)
        except SluiceError as exc:
            if is_precondition(exc.__cause__):
                raise LockError(f"{self.env} was locked by another machine just now",
                                tip="run again when it has finished") from exc
            raise

    def release_lock(self, owner: str) -> None:
        key = f"{self.root}/lock.json"
        held = self._get_json(key)
        if held is not None and held.get("owner") == owner:
            with aws_errors(f"unlock {self.env}"):
                self.aws.client("s3").delete_object(Bucket=self.bucket, Key=key)

    # ------------------------------------------------------------------ notifications
    def notify(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Publish to the environment's SNS topic (``sluice-<project>-<env>``, created on
        first use): JSON with ``kind``/``env`` message attributes to filter on."""
        from sluice.targets.aws.events import ensure_topic, notify, topic_name

        if self._topic is None:  # publish to the ARN it would have; create it only if missing
            self._topic = (f"arn:aws:sns:{self.aws.settings.region}:{self.aws.account()}:"
                           f"{topic_name(self.project, self.env)}")
        try:
            notify(self.aws, self._topic, kind, self.env, payload)
        except SluiceError as exc:
            if "NotFound" not in str(exc.message):
                raise
            self._topic = ensure_topic(self.aws, self.project, self.env)
            notify(self.aws, self._topic, kind, self.env, payload)

    # ------------------------------------------------------------------ components
    def runner_for(self, job_type: str) -> Any:
        """PySpark and glue jobs run as Glue job runs (with ``pyspark: local``, on the
        deploying machine like on the local target)."""
        if self.pyspark != "glue":
            return None
        if job_type == "pyspark":
            from sluice.targets.aws.glue_runs import run_glue_job

            return run_glue_job
        if job_type == "glue":
            from sluice.targets.aws.glue_runs import run_glue_script

            return run_glue_script
        return None

    def components(self) -> AwsComponents:
        """Stacks, Glue jobs, functions and workflows of a release, in this account."""
        from sluice.targets.aws.components import AwsComponents

        return AwsComponents(self, self.execution_role)

    # ------------------------------------------------------------------ warehouse
    def migration_session(self) -> RedshiftDataSession:
        if self.redshift is None:
            raise SluiceError(
                f"environment {self.env}: migrations/ needs a warehouse that keeps a schema, "
                "and this aws target has none",
                tip="add `redshift: {database: …, workgroup: …}` to the target")
        return RedshiftDataSession(self.aws, self.redshift)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
            self._views.clear()


def make_aws_target(env: str, home: Path, **options: Any) -> AwsTarget:
    try:
        import boto3  # noqa: F401
    except ImportError as exc:
        raise SluiceError("the aws target needs boto3",
                          tip="pip install 'sluice-cd[aws]'") from exc
    try:
        return AwsTarget(env, home, **options)
    except TypeError as exc:  # a missing required option; config validation names it first
        raise SluiceError(f"environment {env}: aws target: {exc}") from exc


