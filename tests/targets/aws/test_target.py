"""What the aws target adds to the conformance suite: the Glue Data Catalog follows publish and
rollback, the catalog object is written conditionally, versions are Parquet in S3, and a Glue
failure publishes nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber

from sluice.errors import SluiceError
from sluice.targets import create_target
from sluice.targets.aws.target import AwsTarget

pytestmark = pytest.mark.aws

BUCKET = "sluice-data"


def make(aws: str, home: Path, env: str = "dev", **options: object) -> AwsTarget:
    target = create_target("aws", env, home, region="eu-west-1", bucket=BUCKET,
                           endpoint_url=aws, **options)
    assert isinstance(target, AwsTarget)
    return target


def rows(tag: str, n: int) -> str:
    return " UNION ALL ".join(f"SELECT {i} AS id, '{tag}' AS tag, 1.5 AS amount"
                              for i in range(1, n + 1))


def glue_location(t: AwsTarget, database: str, table: str) -> str:
    found = t.aws.client("glue").get_table(DatabaseName=database, Name=table)["Table"]
    return str(found["StorageDescriptor"]["Location"])


def test_versions_are_parquet_prefixes_and_glue_follows_the_catalog(aws: str,
                                                                      tmp_path: Path) -> None:
    t = make(aws, tmp_path)
    t.create_version("marts.sales", "v1", "fp1", rows("one", 3))
    t.create_version("marts.sales", "v2", "fp2", rows("two", 2))
    s3 = t.aws.client("s3")
    body = s3.get_object(Bucket=BUCKET,
                         Key="sluice/envs/dev/versions/marts.sales/v1/data.parquet")["Body"]
    table = pq.read_table(io.BytesIO(body.read()))
    assert table.num_rows == 3 and table.column_names == ["id", "tag", "amount"]

    t.publish({"marts.sales": "v1"})
    assert glue_location(t, "dev_marts", "sales") == \
        f"s3://{BUCKET}/sluice/envs/dev/versions/marts.sales/v1/"
    glue_table = t.aws.client("glue").get_table(DatabaseName="dev_marts", Name="sales")["Table"]
    assert [(c["Name"], c["Type"]) for c in glue_table["StorageDescriptor"]["Columns"]] == [
        ("id", "int"), ("tag", "string"), ("amount", "decimal(2,1)")]
    assert glue_table["Parameters"]["sluice:version"] == "v1"

    t.publish({"marts.sales": "v2"})
    assert glue_location(t, "dev_marts", "sales").endswith("/marts.sales/v2/")
    t.publish({"marts.sales": "v1"})  # rollback: the table points back, nothing is copied
    assert glue_location(t, "dev_marts", "sales").endswith("/marts.sales/v1/")
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key="sluice/envs/dev/catalog.json")["Body"]
                     .read())
    assert doc["datasets"] == {"marts.sales": "v1"}

    t.publish({}, exact=True)
    glue = t.aws.client("glue")
    assert glue.get_tables(DatabaseName="dev_marts")["TableList"] == []
    t.close()


def test_environments_sharing_an_account_get_their_own_glue_databases(aws: str,
                                                                      tmp_path: Path) -> None:
    dev, prod = make(aws, tmp_path), make(aws, tmp_path, "prod")
    for t in (dev, prod):
        t.create_version("marts.sales", "v1", "fp", rows(t.env, 1))
        t.publish({"marts.sales": "v1"})
    assert glue_location(dev, "dev_marts", "sales") != glue_location(prod, "prod_marts", "sales")
    own = make(aws, tmp_path, "solo", glue_database_prefix="")
    own.create_version("marts.sales", "v1", "fp", rows("solo", 1))
    own.publish({"marts.sales": "v1"})
    assert "/envs/solo/" in glue_location(own, "marts", "sales")


def test_a_concurrent_publisher_is_detected_and_nothing_is_lost(aws: str,
                                                                tmp_path: Path) -> None:
    t = make(aws, tmp_path)
    t.create_version("marts.a", "v1", "fp", rows("a", 1))
    t.create_version("marts.b", "v1", "fp", rows("b", 1))
    t.publish({"marts.a": "v1"})
    _, etag = t.catalog_object.read()
    other = make(aws, tmp_path)  # another deployment publishes in between
    other.publish({"marts.b": "v1"})
    with pytest.raises(SluiceError, match="changed while publishing"):
        t.catalog_object.write({"marts.a": "v1"}, etag)
    assert t.catalog() == {"marts.a": "v1", "marts.b": "v1"}


def test_a_glue_failure_publishes_nothing(aws: str, tmp_path: Path) -> None:
    t = make(aws, tmp_path)
    for ds in ("marts.a", "marts.b"):
        t.create_version(ds, "v1", "fp", rows(f"{ds}1", 1))
        t.create_version(ds, "v2", "fp", rows(f"{ds}2", 1))
    t.publish({"marts.a": "v1", "marts.b": "v1"})
    glue = t.aws.client("glue")
    with Stubber(glue) as stub:
        # marts.a switches, then Glue refuses marts.b; sluice points both back
        stub.add_response("get_table", {"Table": {"Name": "a", "StorageDescriptor": {}}},
                          {"DatabaseName": "dev_marts", "Name": "a"})
        stub.add_response("update_table", {}, {"DatabaseName": "dev_marts",
                                               "TableInput": _table_input(t, "marts.a", "v2")})
        stub.add_response("get_table", {"Table": {"Name": "b", "StorageDescriptor": {}}},
                          {"DatabaseName": "dev_marts", "Name": "b"})
        stub.add_client_error("update_table", "ConcurrentModificationException", "busy")
        stub.add_response("get_table", {"Table": {"Name": "a", "StorageDescriptor": {}}},
                          {"DatabaseName": "dev_marts", "Name": "a"})
        stub.add_response("update_table", {}, {"DatabaseName": "dev_marts",
                                               "TableInput": _table_input(t, "marts.a", "v1")})
        # marts.b too: its switch may have landed with the answer lost
        stub.add_response("get_table", {"Table": {"Name": "b", "StorageDescriptor": {}}},
                          {"DatabaseName": "dev_marts", "Name": "b"})
        stub.add_response("update_table", {}, {"DatabaseName": "dev_marts",
                                               "TableInput": _table_input(t, "marts.b", "v1")})
        with pytest.raises(SluiceError, match=r"failed at marts\.b.*nothing was published"):
            t.publish({"marts.a": "v2", "marts.b": "v2"})
        stub.assert_no_pending_responses()
    assert t.catalog() == {"marts.a": "v1", "marts.b": "v1"}
    _, found = t.engine().fetch("SELECT tag FROM marts.a")
    assert found == [("marts.a1",)]


def _table_input(t: AwsTarget, dataset: str, version: str) -> dict[str, object]:
    from sluice.targets.aws.catalog import PARQUET

    stored = t.data.get(dataset, version)
    assert stored is not None
    return {"Name": dataset.split(".")[1], "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "sluice:dataset": dataset,
                           "sluice:version": version},
            "StorageDescriptor": {"Location": t.data.url(dataset, version), **PARQUET,
                                  "Columns": [{"Name": "id", "Type": "int"},
                                              {"Name": "tag", "Type": "string"},
                                              {"Name": "amount", "Type": "decimal(2,1)"}]}}


def test_a_fresh_machine_reads_published_data_and_releases_from_s3(aws: str,
                                                                   tmp_path: Path) -> None:
    from sluice.release import ArtifactStore, Manifest

    first = make(aws, tmp_path / "laptop")
    first.create_version("marts.sales", "v1", "fp", rows("x", 2))
    first.publish({"marts.sales": "v1"})
    store = ArtifactStore(tmp_path / "laptop" / "artifacts")
    manifest = Manifest.create(project="p", commit="c0ffee", author="a",
                               committed_at="2024-05-01T12:00:00Z",
                               created_at="2024-05-01T12:00:00.000000Z", message="",
                               dirty=False, files={"jobs/a.sql": store.put_bytes(b"select 1\n")})
    store.write_release(manifest.id, manifest.to_json())
    first.install_release(store, manifest)
    first.activate_release(manifest.id)

    runner = make(aws, tmp_path / "runner")  # another home: nothing cached
    assert runner.current_release() == manifest.id
    assert (runner.release_dir(manifest.id) / "jobs" / "a.sql").read_text() == "select 1\n"
    _, found = runner.engine().fetch("SELECT id, tag FROM marts.sales ORDER BY id")
    assert found == [(1, "x"), (2, "x")]


def test_versions_and_releases_are_encrypted_with_the_configured_key(aws: str,
                                                                    tmp_path: Path) -> None:
    kms = make(aws, tmp_path).aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    t = make(aws, tmp_path, kms_key_id=key)
    t.create_version("marts.sales", "v1", "fp", rows("x", 1))
    s3 = t.aws.client("s3")
    head = s3.head_object(Bucket=BUCKET, Key="sluice/envs/dev/versions/marts.sales/v1/data.parquet")
    assert head["ServerSideEncryption"] == "aws:kms" and key in head["SSEKMSKeyId"]
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"


def test_load_uploads_a_folder_to_the_object_store(aws: str, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "raw"
    folder.mkdir(parents=True)
    (folder / "orders.csv").write_text("id,tag\n1,a\n")
    t = make(aws, tmp_path)
    assert t.load_objects(tmp_path / "data") == 1
    assert t.objects_url() == f"s3://{BUCKET}/sluice/envs/dev/objects/"
    relation = t.source_sql("raw.orders", "csv", "raw/*.csv")
    assert t.engine().fetch(f"SELECT id, tag FROM {relation}")[1] == [(1, "a")]
    # a changed object is fetched again (by ETag), an unchanged one is not
    (folder / "orders.csv").write_text("id,tag\n1,b\n")
    t.load_objects(tmp_path / "data")
    relation = t.source_sql("raw.orders", "csv", "raw/*.csv")
    assert t.engine().fetch(f"SELECT id, tag FROM {relation}")[1] == [(1, "b")]


def test_the_environment_lock_is_seen_by_every_machine(aws: str, tmp_path: Path) -> None:
    import time as clock

    from sluice.errors import LockError

    laptop, runner = make(aws, tmp_path / "laptop"), make(aws, tmp_path / "runner")
    laptop.acquire_lock("ada@laptop:1")
    with pytest.raises(LockError, match="locked by ada@laptop:1"):
        runner.acquire_lock("ci@runner:7")
    runner.release_lock("ci@runner:7")  # not its lock: nothing happens
    with pytest.raises(LockError):
        runner.acquire_lock("ci@runner:7")
    laptop.release_lock("ada@laptop:1")
    runner.acquire_lock("ci@runner:7", ttl_seconds=0.5)
    clock.sleep(0.6)  # an expired lock (its holder crashed) is taken over
    laptop.acquire_lock("ada@laptop:1")
    with pytest.raises(LockError):
        runner.acquire_lock("ci@runner:7")


def test_nothing_changed_makes_no_write(aws: str, tmp_path: Path) -> None:
    t = make(aws, tmp_path)
    t.create_version("marts.sales", "v1", "fp", rows("x", 1))
    t.publish({"marts.sales": "v1"})
    writes: list[str] = []
    for service in ("s3", "glue"):
        t.aws.client(service).meta.events.register(
            f"before-call.{service}", lambda event_name, **_: writes.append(event_name)
            if not event_name.rsplit(".", 1)[-1].startswith(("Get", "List", "Head"))
            else None)
    t.publish({"marts.sales": "v1"})
    t.publish({"marts.sales": "v1"}, exact=True)
    assert writes == []


def test_a_marker_that_does_not_match_its_key_is_refused(aws: str, tmp_path: Path) -> None:
    t = make(aws, tmp_path)
    t.create_version("marts.sales", "v1", "fp", rows("x", 1))
    planted = {"dataset": "../../../../home", "version": "v1", "fingerprint": "f", "rows": 1,
               "created_at": "2026-01-01", "columns": []}
    t.aws.client("s3").put_object(Bucket=BUCKET,
                                  Key="sluice/envs/dev/versions/marts.x/v1/_version.json",
                                  Body=json.dumps(planted).encode())
    with pytest.raises(SluiceError, match="does not describe the version at its key"):
        t.versions()


def test_assumed_role_credentials_refresh_themselves(aws: str, tmp_path: Path) -> None:
    t = make(aws, tmp_path, role_arn="arn:aws:iam::222222222222:role/deployer",
             external_id="x-1")
    assert t.aws.identity()["account"] == "222222222222"
    creds = t.aws._boto().get_credentials()
    assert creds.method == "assume-role" and hasattr(creds, "refresh_needed")


def test_no_credentials_is_a_clear_error(aws: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    t = make(aws, tmp_path)
    with pytest.raises(SluiceError, match="no AWS credentials found") as info:
        t.ensure_bucket()
    assert info.value.tip is not None and "AWS_PROFILE" in info.value.tip


def test_hive_partitions_are_read_from_the_files_paths() -> None:
    from sluice.targets.aws.catalog import hive_partitions

    assert hive_partitions(["data.parquet"]) == ([], {})
    assert hive_partitions(["y=2024/m=1/a.parquet", "y=2024/m=2/b.parquet",
                            "y=2024/m=1/c.parquet"]) == (
        ["y", "m"], {"y=2024/m=1/": ("2024", "1"), "y=2024/m=2/": ("2024", "2")})
    # values are kept unescaped, as Glue keeps them; folders as written
    assert hive_partitions(["city=S%C3%A3o Paulo/a.parquet"]) == (
        ["city"], {"city=S%C3%A3o Paulo/": ("São Paulo",)})
    # files outside partition folders, or two layouts: not a partitioned version
    assert hive_partitions(["k=1/a.parquet", "b.parquet"]) == ([], {})
    assert hive_partitions(["k=1/a.parquet", "j=1/b.parquet"]) == ([], {})
    assert hive_partitions(["tmp/a.parquet"]) == ([], {})


def test_a_partitioned_version_gets_a_partitioned_glue_table_and_back(aws: str,
                                                                     tmp_path: Path) -> None:
    """Partition columns are not in Hive-partitioned Parquet files: the table takes them as
    partition keys with one partition per folder, replaced when the table moves on."""
    import pyarrow as pa

    t = make(aws, tmp_path)
    t.create_version("marts.sales", "flat", "fp", rows("x", 1))
    s3, glue = t.aws.client("s3"), t.aws.client("glue")
    for version, countries in (("p1", ("de", "se")), ("p2", ("fr",))):
        for country in countries:
            buf = io.BytesIO()
            pq.write_table(pa.table({"id": [1, 2], "tag": ["a", "b"]}), buf)
            s3.put_object(Bucket=BUCKET, Key=f"{t.data.prefix('marts.sales', version)}"
                          f"country={country}/part-0.parquet", Body=buf.getvalue())
        t.data.register("marts.sales", version, "fp", 2 * len(countries),
                        [("id", "BIGINT"), ("tag", "VARCHAR"), ("country", "VARCHAR")])

    def partitions() -> dict[tuple[str, ...], str]:
        found = glue.get_partitions(DatabaseName="dev_marts", TableName="sales")["Partitions"]
        return {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in found}

    url = f"s3://{BUCKET}/sluice/envs/dev/versions/marts.sales"
    t.publish({"marts.sales": "p1"})
    table = glue.get_table(DatabaseName="dev_marts", Name="sales")["Table"]
    assert table["PartitionKeys"] == [{"Name": "country", "Type": "string"}]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "tag"]
    assert partitions() == {("de",): f"{url}/p1/country=de/", ("se",): f"{url}/p1/country=se/"}
    t.publish({"marts.sales": "p2"})
    assert partitions() == {("fr",): f"{url}/p2/country=fr/"}
    t.publish({"marts.sales": "flat"})  # unpartitioned again: a plain table, no partitions
    table = glue.get_table(DatabaseName="dev_marts", Name="sales")["Table"]
    assert not table.get("PartitionKeys")
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "tag", "amount"]
    assert partitions() == {}
    t.publish({"marts.sales": "p1"})
    assert partitions() == {("de",): f"{url}/p1/country=de/", ("se",): f"{url}/p1/country=se/"}


def test_a_publish_whose_tables_cannot_be_put_back_still_restores_the_catalog(
        aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployer that lost glue:UpdateTable mid-publish: the switch fails, so does pointing
    the tables back; sluice's catalog object is restored all the same, and the error says
    which tables are left where."""
    t = make(aws, tmp_path)
    t.create_version("marts.sales", "v1", "fp", rows("x", 1))
    t.publish({"marts.sales": "v1"})
    t.create_version("marts.sales", "v2", "fp", rows("y", 2))

    def refused(*_: object, **__: object) -> None:
        raise SluiceError("AccessDeniedException: glue:UpdateTable")

    monkeypatch.setattr(t.glue, "point", refused)
    with pytest.raises(SluiceError) as info:
        t.publish({"marts.sales": "v2"})
    assert "nothing was published: AccessDeniedException: glue:UpdateTable" in \
        info.value.message
    assert "the Glue tables of marts.sales could not be pointed back" in info.value.message
    assert info.value.tip is not None and "sluice rollback dev" in info.value.tip
    assert t.catalog() == {"marts.sales": "v1"}
