"""GlueContext reads and writes real files on local Spark, through the run's catalog."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from awsglue._errors import EntityNotFoundException, GlueLocationError
from awsglue._support import GlueUnsupportedError
from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame

pytestmark = pytest.mark.spark

RunFactory = Callable[..., Path]


def rows(frame: Any, *columns: str) -> list[tuple[Any, ...]]:
    df = frame.toDF() if isinstance(frame, DynamicFrame) else frame
    picked = df.select(*columns) if columns else df
    return sorted(tuple(r) for r in picked.collect())


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_writes(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


# -- reads: formats and their options ---------------------------------------------------


def test_csv_with_header_infers_types(glue_context: GlueContext, tmp_path: Path) -> None:
    write_text(tmp_path / "in" / "a.csv", "id,name,score\n1,ann,2.5\n2,bob,3.0\n")
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3", connection_options={"paths": [str(tmp_path / "in")]},
        format="csv", format_options={"withHeader": True})
    assert isinstance(frame, DynamicFrame)
    assert frame.count() == 2
    assert rows(frame) == [(1, "ann", 2.5), (2, "bob", 3.0)]
    assert dict(frame.toDF().dtypes) == {"id": "int", "name": "string", "score": "double"}


def test_csv_options_separator_quote_and_glue_column_names(glue_context: GlueContext,
                                                           tmp_path: Path) -> None:
    write_text(tmp_path / "p.csv", "1|'a|b'|x\n2|'say ''hi'''|y\n")
    frame = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "p.csv")]}, format="csv",
        format_options={"separator": "|", "quoteChar": "'"})
    assert frame.toDF().columns == ["col0", "col1", "col2"]
    assert rows(frame) == [(1, "a|b", "x"), (2, "say 'hi'", "y")]


def test_csv_skip_first_and_multiline(glue_context: GlueContext, tmp_path: Path) -> None:
    write_text(tmp_path / "m.csv", 'junk line\n1,"two\nlines"\n2,plain\n')
    frame = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "m.csv")]}, "csv",
        {"skipFirst": True, "multiLine": True})
    assert rows(frame) == [(1, "two\nlines"), (2, "plain")]
    assert frame.toDF().columns == ["col0", "col1"]


def test_json_lines_multiline_and_json_path(glue_context: GlueContext, tmp_path: Path) -> None:
    write_text(tmp_path / "l" / "a.json", '{"id": 1, "tags": ["x"]}\n{"id": 2, "tags": []}\n')
    lines = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "l")]}, format="json")
    assert rows(lines, "id") == [(1,), (2,)]

    write_text(tmp_path / "d" / "doc.json",
               json.dumps({"meta": {"n": 2}, "records": [{"id": 7}, {"id": 8}]}, indent=2))
    nested = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "d")]}, format="json",
        format_options={"jsonPath": "$.records[*]", "multiline": True})
    assert rows(nested) == [(7,), (8,)]

    write_text(tmp_path / "arr" / "a.json", json.dumps([{"id": 3}, {"id": 4}], indent=2))
    array = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "arr")]}, format="json",
        format_options={"jsonPath": "$[*]"})
    assert rows(array) == [(3,), (4,)]

    with pytest.raises(GlueUnsupportedError, match="jsonPath"):
        glue_context.create_dynamic_frame.from_options(
            "s3", {"paths": [str(tmp_path / "d")]}, format="json",
            format_options={"jsonPath": "$..id"})


def test_recurse_exclusions_and_hidden_files(glue_context: GlueContext, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    write_text(root / "a.json", '{"n": 1}\n')
    write_text(root / "skip.txt", '{"n": 100}\n')
    write_text(root / "_SUCCESS", "")
    write_text(root / ".a.json.crc", "")
    write_text(root / "sub" / "b.json", '{"n": 2}\n')
    write_text(root / "sub" / "deeper" / "c.json", '{"n": 3}\n')

    def read(**options: Any) -> list[tuple[Any, ...]]:
        frame = glue_context.create_dynamic_frame.from_options(
            "s3", {"paths": [str(root)], "exclusions": '["**.txt", "sub/deeper/**"]',
                   **options}, "json")
        return rows(frame, "n")

    assert read() == [(1,)]  # subfolders only with recurse
    assert read(recurse=True) == [(1,), (2,)]
    assert read(recurse="true", exclusions="[]") == [(1,), (2,), (3,), (100,)]


def test_partition_columns_and_push_down_predicate(glue_context: GlueContext,
                                                   tmp_path: Path) -> None:
    root = tmp_path / "sales"
    write_text(root / "year=2023" / "a.csv", "id,amount\n1,10\n")
    write_text(root / "year=2024" / "b.csv", "id,amount\n2,20\n3,30\n")
    frame = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(root)]}, "csv", {"withHeader": True},
        push_down_predicate="year = 2024")
    assert rows(frame, "id", "year") == [(2, 2024), (3, 2024)]


def test_loose_files_beside_partition_folders_are_read(glue_context: GlueContext,
                                                      tmp_path: Path) -> None:
    write_text(tmp_path / "mix" / "a.json", '{"n": 1}\n')
    write_text(tmp_path / "mix" / "day=2" / "c.json", '{"n": 3}\n')
    frame = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "mix")]}, "json")
    assert rows(frame, "n", "day") == [(1, None), (3, 2)]


def test_parquet_and_orc_round_trip_with_partition_keys(glue_context: GlueContext,
                                                        tmp_path: Path) -> None:
    df = glue_context.spark_session.createDataFrame(
        [(1, "PT", 1.5), (2, "ES", 2.5), (3, "PT", 3.5)], "id int, country string, v double")
    frame = DynamicFrame.fromDF(df, glue_context, "people")
    for fmt, read_as in (("glueparquet", "parquet"), ("orc", "orc")):
        out = tmp_path / fmt
        returned = glue_context.write_dynamic_frame.from_options(
            frame=frame, connection_type="s3",
            connection_options={"path": str(out), "partitionKeys": ["country"]}, format=fmt)
        assert isinstance(returned, DynamicFrame)
        assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["country=ES",
                                                                        "country=PT"]
        back = glue_context.create_dynamic_frame.from_options(
            "s3", {"paths": [str(out)]}, format=read_as)
        assert rows(back, "id", "country", "v") == [(1, "PT", 1.5), (2, "ES", 2.5),
                                                    (3, "PT", 3.5)]


def test_writes_append_and_csv_keeps_its_header(glue_context: GlueContext,
                                                tmp_path: Path) -> None:
    df = glue_context.spark_session.createDataFrame([(1, "a")], "id int, name string")
    frame = DynamicFrame.fromDF(df, glue_context, "f")
    out = tmp_path / "csv"
    for _ in range(2):
        glue_context.write_dynamic_frame_from_options(
            frame, "s3", {"path": str(out)}, "csv", {"separator": ";"})
    parts = [p.read_text().splitlines() for p in sorted(out.glob("part-*"))]
    # Glue writes in append mode: two writes, two rows, each file with its header
    assert [lines for lines in parts if len(lines) > 1] == [["id;name", "1;a"]] * 2


def test_create_data_frame_returns_a_spark_dataframe(glue_context: GlueContext,
                                                     tmp_path: Path) -> None:
    from pyspark.sql import DataFrame

    write_text(tmp_path / "x.json", '{"a": 1}\n')
    df = glue_context.create_data_frame.from_options(
        connection_type="s3", connection_options={"paths": [str(tmp_path / "x.json")]},
        format="json")
    assert isinstance(df, DataFrame)
    assert df.collect()[0]["a"] == 1


def test_get_source_and_a_missing_path(glue_context: GlueContext, tmp_path: Path) -> None:
    write_text(tmp_path / "s" / "a.json", '{"a": 1}\n{"a": 2}\n')
    source = glue_context.getSource("s3", paths=[str(tmp_path / "s")])
    source.setFormat("json")
    assert source.getFrame().count() == 2
    # like Glue, a path with no files reads as an empty frame
    empty = glue_context.create_dynamic_frame.from_options(
        "s3", {"paths": [str(tmp_path / "nothing")]}, "json")
    assert empty.count() == 0


@pytest.mark.parametrize(("call", "match"), [
    (lambda gc, p: gc.create_dynamic_frame.from_options(
        "jdbc", {"url": "jdbc:postgresql://h/db"}), "connection_type 'jdbc'"),
    (lambda gc, p: gc.create_dynamic_frame.from_options(
        "s3", {"paths": [p]}, format="avro"), "format 'avro'"),
    (lambda gc, p: gc.create_dynamic_frame.from_options(
        "s3", {"paths": [p]}, format="csv", format_options={"rowTag": "x"}), "'rowTag'"),
    (lambda gc, p: gc.write_dynamic_frame.from_jdbc_conf(None, "conn"), "from_jdbc_conf"),
    (lambda gc, p: gc.extract_jdbc_conf("conn"), "GlueContext.extract_jdbc_conf"),
])
def test_unsupported_apis_name_themselves_and_the_docs(glue_context: GlueContext,
                                                       tmp_path: Path, call: Any,
                                                       match: str) -> None:
    with pytest.raises(GlueUnsupportedError, match=match) as err:
        call(glue_context, str(tmp_path))
    assert "docs/glue.md" in str(err.value)


def test_writes_take_dynamic_frames_only(glue_context: GlueContext, tmp_path: Path) -> None:
    df = glue_context.spark_session.createDataFrame([(1,)], "id int")
    with pytest.raises(TypeError, match="must be DynamicFrame"):
        glue_context.write_dynamic_frame.from_options(df, "s3", {"path": str(tmp_path)},
                                                      "parquet")
    with pytest.raises(GlueLocationError, match="needs 'path'"):
        glue_context.write_dynamic_frame.from_options(
            DynamicFrame.fromDF(df, glue_context, "f"), "s3", {}, "parquet")


def test_get_logger_logs_to_stderr(glue_context: GlueContext,
                                   capfd: pytest.CaptureFixture[str]) -> None:
    glue_context.get_logger().info("hello from the job")
    out, err = capfd.readouterr()
    assert "hello from the job" in err and "hello from the job" not in out


# -- in a sluice run: the catalog, the outputs, the writes log ---------------------------


@pytest.fixture
def run(tmp_path: Path, glue_run: RunFactory) -> dict[str, Path]:
    """A run of job ``persons``: reads raw.persons (json, dev_raw database), writes
    curated.persons; returns its folders."""
    raw = tmp_path / "objects" / "raw" / "persons"
    write_text(raw / "country=PT" / "1.json", '{"id": 1, "name": "ana"}\n')
    write_text(raw / "country=ES" / "2.json", '{"id": 2, "name": "bea"}\n')
    out = tmp_path / "tmp" / "out" / "curated.persons"
    temp = tmp_path / "tmp" / "glue-temp"
    writes = tmp_path / "tmp" / "writes.jsonl"
    glue_run(job="persons", env="dev",
             tables={"raw.persons": {"path": f"{raw}/", "format": "json", "options": {},
                                     "columns": {"id": "bigint", "name": "string",
                                                 "country": "string"}}},
             databases={"dev_raw": "raw", "raw": "raw", "dev_curated": "curated"},
             outputs={"curated.persons": f"{out}/"},
             bookmarks={"state": None, "pending": str(tmp_path / "tmp" / "bm.json")},
             temp_dir=f"{temp}/", writes=str(writes))
    return {"raw": raw, "out": out, "temp": temp, "writes": writes}


def test_catalog_read_resolves_database_aliases(spark: Any, run: dict[str, Path]) -> None:
    gc = GlueContext(spark.sparkContext)
    for database in ("dev_raw", "raw"):
        frame = gc.create_dynamic_frame.from_catalog(database=database, table_name="persons")
        assert frame.name == "persons"
        assert rows(frame, "id", "name", "country") == [(1, "ana", "PT"), (2, "bea", "ES")]
    pt = gc.create_dynamic_frame.from_catalog(database="dev_raw", table_name="persons",
                                              push_down_predicate="country = 'PT'")
    assert rows(pt, "id") == [(1,)]
    same = gc.create_data_frame.from_catalog(
        name_space="raw", table_name="persons",
        additional_options={"catalogPartitionPredicate": "country = 'ES'"})
    assert [r["id"] for r in same.collect()] == [2]


def test_catalog_errors_say_what_the_job_may_read(spark: Any, run: dict[str, Path]) -> None:
    gc = GlueContext(spark.sparkContext)
    with pytest.raises(EntityNotFoundException, match=r"inputs: raw\.persons") as err:
        gc.create_dynamic_frame.from_catalog(database="dev_raw", table_name="orgs")
    assert "add the dataset to the job's inputs" in str(err.value)
    with pytest.raises(EntityNotFoundException, match="output of job 'persons'"):
        gc.create_dynamic_frame.from_catalog(database="dev_curated", table_name="persons")
    with pytest.raises(Exception, match="Parameter table_name is missing"):
        gc.create_dynamic_frame.from_catalog(database="raw")


def test_no_catalog_outside_a_run(glue_context: GlueContext) -> None:
    with pytest.raises(EntityNotFoundException, match="no Data Catalog outside a sluice run"):
        glue_context.create_dynamic_frame.from_catalog(database="raw", table_name="persons")


def test_catalog_columns(spark: Any, run: dict[str, Path]) -> None:
    gc = GlueContext(spark.sparkContext)
    assert gc.catalog_columns("dev_raw", "persons") == {"id": "bigint", "name": "string",
                                                        "country": "string"}
    assert gc.get_catalog_schema_as_spark_schema("raw", "persons").fieldNames() == [
        "id", "name", "country"]
    with pytest.raises(EntityNotFoundException, match="no table 'nope'"):
        gc.catalog_columns("raw", "nope")


def test_write_to_an_output_logs_format_and_partition_keys(spark: Any,
                                                           run: dict[str, Path]) -> None:
    gc = GlueContext(spark.sparkContext)
    persons = gc.create_dynamic_frame.from_catalog(database="dev_raw", table_name="persons")
    gc.write_dynamic_frame.from_options(
        frame=persons, connection_type="s3",
        connection_options={"path": f"{run['out']}/", "partitionKeys": ["country"]},
        format="json")
    back = spark.read.json(str(run["out"]))
    assert sorted((r["id"], r["country"]) for r in back.collect()) == [(1, "PT"), (2, "ES")]
    assert read_writes(run["writes"]) == [{
        "path": str(run["out"]), "format": "json", "partition_keys": ["country"],
        "table": "curated.persons", "schema": None, "columns": len(persons.toDF().columns)}]


def test_catalog_write_and_sink_land_in_the_output(spark: Any, run: dict[str, Path]) -> None:
    gc = GlueContext(spark.sparkContext)
    persons = gc.create_dynamic_frame.from_catalog(database="raw", table_name="persons")
    gc.write_dynamic_frame.from_catalog(frame=persons, database="dev_curated",
                                        table_name="persons",
                                        additional_options={"partitionKeys": ["country"]})
    sink = gc.getSink(connection_type="s3", path=f"{run['out']}/", enableUpdateCatalog=True,
                      updateBehavior="UPDATE_IN_DATABASE", partitionKeys=["country"])
    sink.setFormat("glueparquet")
    sink.setCatalogInfo(catalogDatabase="dev_curated", catalogTableName="persons")
    sink.writeFrame(persons)
    gc.write_data_frame.from_catalog(frame=persons.toDF(), database="dev_curated",
                                     table_name="persons",
                                     additional_options={"partitionKeys": ["country"]})
    assert spark.read.parquet(str(run["out"])).count() == 6
    logged = read_writes(run["writes"])
    assert [(w["format"], w["partition_keys"], w["table"]) for w in logged] == [
        ("parquet", ["country"], "curated.persons")] * 3
    with pytest.raises(GlueLocationError, match="is an input of job 'persons'"):
        gc.write_dynamic_frame.from_catalog(frame=persons, database="raw",
                                            table_name="persons")


def test_writes_outside_the_outputs_are_refused(spark: Any, run: dict[str, Path],
                                                tmp_path: Path) -> None:
    gc = GlueContext(spark.sparkContext)
    persons = gc.create_dynamic_frame.from_catalog(database="raw", table_name="persons")
    with pytest.raises(GlueLocationError, match=r"outside this run's outputs") as err:
        gc.write_dynamic_frame.from_options(persons, "s3", {"path": str(run["raw"])},
                                            "parquet")
    assert "${output:NAME}" in str(err.value)
    assert not list(run["raw"].glob("part-*"))
    # the temp dir is the job's to use
    gc.write_dynamic_frame.from_options(persons, "s3", {"path": str(run["temp"] / "x")},
                                        "parquet")
    assert read_writes(run["writes"])[0]["table"] is None


def test_s3_paths_need_a_job_argument_locally(spark: Any, run: dict[str, Path]) -> None:
    gc = GlueContext(spark.sparkContext)
    with pytest.raises(GlueLocationError, match="no S3 behind it") as err:
        gc.create_dynamic_frame.from_options(
            "s3", {"paths": ["s3://my-bucket/raw/persons/"]}, "json")
    assert "${input:raw.persons}" in str(err.value)


def test_purge_only_inside_the_run(spark: Any, run: dict[str, Path]) -> None:
    gc = GlueContext(spark.sparkContext)
    old = write_text(run["out"] / "old" / "a.parquet", "x")
    new = write_text(run["out"] / "new.parquet", "y")
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(old, (week_ago, week_ago))
    gc.purge_s3_path(f"{run['out']}/")  # Glue keeps files newer than 168 hours by default
    assert not old.exists() and not old.parent.exists() and new.exists()
    gc.purge_s3_path(str(run["out"]), {"retentionPeriod": 0})
    assert not new.exists()
    with pytest.raises(GlueLocationError, match="outside this run's outputs"):
        gc.purge_s3_path(str(run["raw"]), {"retentionPeriod": 0})
    assert list(run["raw"].rglob("*.json"))


def test_an_empty_frame_writes_an_empty_output(spark: Any, run: dict[str, Path]) -> None:
    """A daily job with no new files writes nothing: the output exists, without rows."""
    gc = GlueContext(spark.sparkContext)
    nothing = gc.create_dynamic_frame.from_options(
        "s3", {"paths": [str(run["temp"] / "none")]}, "json")
    sink = gc.getSink("s3", partitionKeys=[])
    sink.setFormat("glueparquet")
    sink.setCatalogInfo("dev_curated", "persons")  # no path: the output's own folder
    sink.writeFrame(nothing)
    assert run["out"].is_dir() and not list(run["out"].iterdir())
    assert read_writes(run["writes"]) == [{"path": str(run["out"]), "format": "parquet",
                                           "partition_keys": [], "table": "curated.persons",
                                           "schema": None, "columns": 0}]


def test_rows_none_written_partitioned_keep_their_columns(spark: Any,
                                                          run: dict[str, Path]) -> None:
    """Spark writes no file for an empty frame partitioned by a key: the log keeps its
    columns, and the output reads back as an empty table of them."""
    from sluice.deploy.glue_outputs import read_output

    gc = GlueContext(spark.sparkContext)
    persons = gc.create_dynamic_frame.from_catalog(database="dev_raw", table_name="persons")
    none = persons.filter(lambda r: r["id"] < 0)
    gc.write_dynamic_frame.from_options(
        frame=none, connection_type="s3",
        connection_options={"path": f"{run['out']}/", "partitionKeys": ["country"]},
        format="parquet")
    (logged,) = read_writes(run["writes"])
    assert logged["schema"] and logged["columns"] == len(none.toDF().columns)
    table = read_output(run["out"], read_writes(run["writes"]), "curated.persons")
    assert table is not None and table.num_rows == 0
    assert table.column_names == none.toDF().columns
    # rows written: the files hold the columns, the log keeps no schema
    gc.write_dynamic_frame.from_options(
        frame=persons, connection_type="s3",
        connection_options={"path": f"{run['out']}/", "partitionKeys": ["country"]},
        format="parquet")
    assert read_writes(run["writes"])[1]["schema"] is None
    table = read_output(run["out"], read_writes(run["writes"]), "curated.persons")
    assert table is not None and table.num_rows == 2


def test_an_empty_partitioned_frame_with_timestamps_keeps_their_type(
        spark: Any, run: dict[str, Path]) -> None:
    """Arrow needs a time zone for Spark's timestamps: the empty version's column is the
    microsecond timestamp the frame's own files read back as."""
    from pyspark.sql import functions as F

    from sluice.deploy.glue_outputs import read_output

    gc = GlueContext(spark.sparkContext)
    persons = gc.create_dynamic_frame.from_catalog(database="dev_raw", table_name="persons")
    stamped = DynamicFrame.fromDF(
        persons.toDF().withColumn("seen_at", F.to_timestamp(F.lit("2026-01-05 09:00:00"))),
        gc, "stamped")
    for frame, folder in ((stamped.filter(lambda r: r["id"] < 0), run["out"] / "empty"),
                          (stamped, run["out"] / "full")):
        gc.write_dynamic_frame.from_options(
            frame=frame, connection_type="s3",
            connection_options={"path": f"{folder}/", "partitionKeys": ["country"]},
            format="parquet")
    log = read_writes(run["writes"])  # both went to one table: read them by folder
    empty = read_output(run["out"] / "empty", log, "by.folder")
    full = read_output(run["out"] / "full", log, "by.folder")
    assert empty is not None and empty.num_rows == 0
    assert full is not None and full.num_rows == 2
    assert str(empty.schema.field("seen_at").type) == "timestamp[us]"
    assert empty.schema.field("seen_at").type == full.schema.field("seen_at").type
