"""The parts of a local glue job run that need no Spark: where inputs are, the Glue database
names, outputs read back in the format they were written, a failure's location, bookmarks
staged and committed, the argv file of the launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.config import ProjectConfig
from sluice.config.datasets import Contract
from sluice.deploy import glue_bookmarks
from sluice.deploy.glue_jobs import (
    failure_message,
    glue_databases,
    source_location,
    spark_columns,
)
from sluice.deploy.glue_outputs import read_output, written
from sluice.deploy.pyspark_launcher import ARGV_ENV, PARAMS_ENV
from sluice.deploy.spark_jobs import write_private_json
from sluice.targets.local.target import LocalTarget


def test_a_file_source_is_its_path_up_to_the_first_wildcard() -> None:
    assert source_location("/o", "raw/orders/*.csv") == "/o/raw/orders/"
    assert source_location("/o/", "raw/*/day=*/x.json") == "/o/raw/"
    assert source_location("s3://b/objects", "rates.csv") == "s3://b/objects/rates.csv"
    assert source_location("/o", "*.csv") == "/o/"


def test_glue_databases_are_the_schema_and_the_aws_targets_names() -> None:
    cfg = ProjectConfig.model_validate({
        "project": "p",
        "environments": {
            "dev": {"target": {"type": "local"}},
            "prod": {"target": {"type": "aws", "region": "eu-west-1", "bucket": "bkt",
                                "glue_database_prefix": "lake_"}}}})
    assert glue_databases(cfg, "dev", {"raw", "curated"}) == {
        "curated": "curated", "raw": "raw", "dev_curated": "curated", "dev_raw": "raw"}
    assert glue_databases(cfg, "prod", {"raw"}) == {"raw": "raw", "lake_raw": "raw"}


def test_contract_types_become_spark_types() -> None:
    contract = Contract.model_validate({"columns": {"id": "BIGINT", "name": "VARCHAR",
                                                    "at": "TIMESTAMP", "odd": "NOT A TYPE("}})
    assert spark_columns(contract, "duckdb") == {"id": "bigint", "name": "string",
                                                 "at": "timestamp"}
    assert spark_columns(None, "duckdb") == {}


def _spark_like(folder: Path) -> None:
    """Parquet as Spark writes it with partitionBy("day"): hive folders, _SUCCESS, .crc."""
    for day, amount in (("2024-01-01", 1.5), ("2024-01-02", 2.5)):
        part = folder / f"day={day}"
        part.mkdir(parents=True)
        pq.write_table(pa.table({"amount": [amount]}), part / "part-00000.snappy.parquet")
        (part / ".part-00000.snappy.parquet.crc").write_bytes(b"crc")
    (folder / "_SUCCESS").write_text("")


def test_a_partitioned_parquet_output_gets_its_partition_column(tmp_path: Path) -> None:
    out = tmp_path / "out" / "curated.sales"
    _spark_like(out)
    table = read_output(out, [], "curated.sales")
    assert table.column_names == ["amount", "day"]
    assert sorted(zip(table["day"].to_pylist(), table["amount"].to_pylist(),
                      strict=True)) == [("2024-01-01", 1.5), ("2024-01-02", 2.5)]


def test_csv_and_json_outputs_are_read_in_the_format_their_write_logged(
        tmp_path: Path) -> None:
    csv_out, json_out = tmp_path / "a", tmp_path / "b"
    (csv_out / "region=eu").mkdir(parents=True)
    (csv_out / "region=eu" / "part-00000.csv").write_text("id,n\n1,10\n2,20\n")
    json_out.mkdir()
    (json_out / "part-00000.json").write_text('{"id": 1}\n{"id": 2}\n')
    log_file = tmp_path / "writes.jsonl"
    log_file.write_text(
        json.dumps({"path": f"file://{csv_out}/", "format": "csv",
                    "partition_keys": ["region"], "table": None}) + "\n"
        + json.dumps({"path": None, "format": "json", "partition_keys": [],
                      "table": "curated.b"}) + "\n")
    log = written(log_file)
    a = read_output(csv_out, log, "curated.a")
    assert sorted(a.to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "n": 10, "region": "eu"}, {"id": 2, "n": 20, "region": "eu"}]
    assert read_output(json_out, log, "curated.b").to_pylist() == [{"id": 1}, {"id": 2}]
    with pytest.raises(Exception, match=r"(?i)parquet"):  # not Parquet: the log decides
        read_output(json_out, [], "curated.b")


def test_an_output_with_no_data_files_is_none(tmp_path: Path) -> None:
    assert read_output(tmp_path / "missing", [], "d") is None
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    assert read_output(tmp_path / "empty", [], "d") is None
    assert written(tmp_path / "no-log.jsonl") == []


STDERR = """\
26/01/01 10:00:00 WARN NativeCodeLoader: Unable to load native-hadoop library
Traceback (most recent call last):
  File "{release}/glue/job.py", line 3, in <module>
    load()
ValueError: first
During handling of the above exception, another exception occurred:
Traceback (most recent call last):
  File "{launcher}", line 90, in main
    runpy.run_path(script, run_name="__main__")
  File "{release}/glue/job.py", line 9, in <module>
    transform(frame)
  File "{release}/glue/lib.py", line 4, in transform
    raise KeyError("amount")
  File "/usr/lib/python3/site-packages/pyspark/sql/dataframe.py", line 100, in select
    raise
KeyError: 'amount'
26/01/01 10:00:01 INFO ShutdownHookManager: Shutdown hook called
"""


def test_a_failure_names_the_innermost_frame_of_the_release(tmp_path: Path) -> None:
    release = tmp_path / "rel"
    text = STDERR.format(release=release, launcher=tmp_path / "launcher.py")
    message, where = failure_message("sales", "glue/job.py", text, release, 1)
    assert where == "glue/lib.py:4"
    assert message == "job sales failed at glue/lib.py:4: KeyError: 'amount'"
    # no traceback (the JVM died): the script and the last line
    message, where = failure_message("sales", "glue/job.py", "boom\nJava gateway exited\n",
                                     release, 1)
    assert (message, where) == ("job sales failed at glue/job.py: Java gateway exited",
                                "glue/job.py")


def test_a_staged_bookmark_becomes_the_state_only_when_its_version_publishes(
        tmp_path: Path) -> None:
    target = LocalTarget("dev", tmp_path / "home")
    try:
        marks = glue_bookmarks.Bookmarks.of(target, "sales")
        assert marks.state_path() is None
        pending = tmp_path / "pending.json"
        pending.write_text('{"files": ["a"]}')
        marks.stage(pending, "v1")
        assert glue_bookmarks.commit(target, {"curated.other": "v0"}) == []  # not published
        assert marks.state_path() is None
        assert list((tmp_path / "home" / "envs" / "dev" / "glue-bookmarks").iterdir()) == []
        marks.stage(pending, "v2")
        staged = next((tmp_path / "home" / "envs" / "dev" / "glue-bookmarks").iterdir())
        assert staged.stat().st_mode & 0o077 == 0
        assert glue_bookmarks.commit(target, {"curated.sales": "v2"}) == ["sales"]
        assert json.loads(Path(str(marks.state_path())).read_text()) == {"files": ["a"]}
        marks.stage(tmp_path / "never-written.json", "v3")  # no Job.commit(): nothing staged
        assert glue_bookmarks.commit(target, {"curated.sales": "v3"}) == []
        assert json.loads(Path(str(marks.state_path())).read_text()) == {"files": ["a"]}
    finally:
        target.close()


def test_a_target_without_a_local_folder_keeps_no_bookmarks(tmp_path: Path) -> None:
    class Remote:
        env = "prod"

    remote: Any = Remote()
    marks = glue_bookmarks.Bookmarks.of(remote, "sales")
    assert marks.state_path() is None
    (tmp_path / "p.json").write_text("{}")
    marks.stage(tmp_path / "p.json", "v1")
    assert glue_bookmarks.commit(remote, {"d": "v1"}) == []


def test_the_launcher_takes_the_whole_argv_from_its_file(tmp_path: Path) -> None:
    script = tmp_path / "show.py"
    script.write_text("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    argv = ["--JOB_NAME", "sales", "--TOKEN", "s3cr3t value"]
    argv_file = write_private_json(tmp_path / "argv.json", argv)
    assert argv_file.stat().st_mode & 0o777 == 0o600
    launcher = Path(__file__).parents[2] / "src" / "sluice" / "deploy" / "pyspark_launcher.py"
    env = {k: v for k, v in os.environ.items() if k != PARAMS_ENV}
    proc = subprocess.run([sys.executable, str(launcher), str(script)], capture_output=True,
                          text=True, check=True, env={**env, ARGV_ENV: str(argv_file)})
    assert json.loads(proc.stdout) == argv
    assert not argv_file.exists()  # read once


def test_written_ignores_blank_lines(tmp_path: Path) -> None:
    log = tmp_path / "w.jsonl"
    log.write_text('{"path": "/x", "format": "orc"}\n\n')
    assert written(log) == [{"path": "/x", "format": "orc"}]


def test_a_json_source_of_arrays_is_read_multiline(tmp_path: Path) -> None:
    from sluice.config import load_project
    from sluice.deploy.glue_jobs import _catalog_tables
    from sluice.deploy.jobs import Resolver
    from sluice.project.graph import build_graph

    (tmp_path / "sluice.yaml").write_text("""\
project: p
sources:
  raw.lines: {format: json, path: lines/*.json}
  raw.arrays: {format: json, path: arrays/*.json}
  raw.rates: {format: csv, path: rates.csv}
datasets:
  out.x: {}
jobs:
  x:
    type: glue
    script: x.py
    inputs: [raw.lines, raw.arrays, raw.rates]
    outputs: [out.x]
environments:
  dev: {target: {type: local}}
""")
    (tmp_path / "x.py").write_text("")
    target = LocalTarget("dev", tmp_path / "home")
    for rel, text in (("lines/a.json", '{"a": 1}\n{"a": 2}\n'),
                      ("arrays/a.json", '\n [{"a": 1}, {"a": 2}]'), ("rates.csv", "a\n1\n")):
        (target.objects / rel).parent.mkdir(parents=True, exist_ok=True)
        (target.objects / rel).write_text(text)
    try:
        cfg = load_project(tmp_path, environment="dev")
        node = build_graph(tmp_path, cfg, "dev").jobs["x"]
        (tmp_path / "tmp").mkdir()
        tables = _catalog_tables(node, cfg, target, Resolver(cfg, target, {}, {}),
                                 tmp_path / "tmp")
    finally:
        target.close()
    objects = str(target.objects)
    assert tables == {
        "raw.lines": {"path": f"{objects}/lines/", "format": "json", "options": {},
                      "columns": {}},
        "raw.arrays": {"path": f"{objects}/arrays/", "format": "json",
                       "options": {"multiline": True}, "columns": {}},
        "raw.rates": {"path": f"{objects}/rates.csv", "format": "csv",
                      "options": {"withHeader": True, "separator": ","}, "columns": {}}}


def test_temp_dir_is_the_runs_own_and_bookmark_options_are_checked() -> None:
    import pydantic

    from sluice.config import GlueJob
    from sluice.glue.arguments import glue_argv

    job = {"type": "glue", "script": "g.py", "outputs": ["a.b"],
           "arguments": {"--TempDir": "/etc", "--job-bookmark-option": "job-bookmark-enable"}}
    argv = glue_argv("g.py", "g", GlueJob.model_validate(job).arguments, temp_dir="/run/tmp")
    assert argv[argv.index("--TempDir") + 1] == "/run/tmp" and argv.count("--TempDir") == 1
    assert argv[argv.index("--job-bookmark-option") + 1] == "job-bookmark-enable"
    job["arguments"] = {"--job-bookmark-option": "job-bookmark-bogus"}
    with pytest.raises(pydantic.ValidationError, match="not a bookmark option"):
        GlueJob.model_validate(job)
