"""Job.init/commit and job bookmarks across runs, each run with its own context file."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions

pytestmark = pytest.mark.spark

RunFactory = Callable[..., Path]


class Env:
    """One environment of job ``daily``: raw.events in its object store, bookmark state
    that sluice moves into place when a run publishes."""

    def __init__(self, root: Path, glue_run: RunFactory, spark: Any) -> None:
        self.raw = root / "objects" / "raw" / "events"
        self.raw.mkdir(parents=True)
        self.state = root / "state" / "daily.json"
        self.root, self.glue_run, self.spark = root, glue_run, spark
        self.runs = 0

    def add(self, name: str, *ids: int) -> Path:
        path = self.raw / name
        path.write_text("".join(json.dumps({"id": i}) + "\n" for i in ids), encoding="utf-8")
        return path

    def run(self, option: str, *, publish: bool = True, commit: bool = True,
            catalog: bool = False) -> list[int]:
        """One job run as a Glue script does it; the ids it read."""
        self.runs += 1
        tmp = self.root / f"run{self.runs}"
        pending = tmp / "bookmarks.json"
        self.glue_run(job="daily", env="dev",
                      tables={"raw.events": {"path": f"{self.raw}/", "format": "json"}},
                      databases={"dev_raw": "raw"},
                      outputs={"curated.events": f"{tmp}/out/"},
                      bookmarks={"state": str(self.state) if self.state.exists() else None,
                                 "pending": str(pending)},
                      temp_dir=f"{tmp}/temp/")
        argv = ["daily.py", "--JOB_NAME", "daily", "--job-bookmark-option", option,
                "--SOURCE", str(self.raw)]
        args = getResolvedOptions(argv, ["JOB_NAME", "SOURCE"])
        gc = GlueContext(self.spark.sparkContext)
        job = Job(gc)
        job.init(args["JOB_NAME"], args)
        if catalog:
            frame = gc.create_dynamic_frame.from_catalog(
                database="dev_raw", table_name="events", transformation_ctx="events")
        else:
            frame = gc.create_dynamic_frame.from_options(
                "s3", {"paths": [args["SOURCE"]]}, "json", transformation_ctx="events")
        df = frame.toDF()
        ids = sorted(r["id"] for r in df.collect()) if df.columns else []
        if commit:
            job.commit()
        if publish and pending.exists():  # what the local target does on publish
            self.state.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(pending, self.state)
        return ids


@pytest.fixture
def env(tmp_path: Path, glue_run: RunFactory, spark: Any) -> Env:
    return Env(tmp_path, glue_run, spark)


def test_second_run_reads_only_new_files(env: Env) -> None:
    env.add("day1.json", 1, 2)
    assert env.run("job-bookmark-enable") == [1, 2]
    env.add("day2.json", 3)
    assert env.run("job-bookmark-enable") == [3]
    # no new files: an empty frame, as in Glue
    assert env.run("job-bookmark-enable") == []
    state = json.loads(env.state.read_text())
    assert state["job"] == "daily"
    assert sorted(Path(p).name for p in state["contexts"]["events"]["files"]) == [
        "day1.json", "day2.json"]


def test_catalog_reads_are_bookmarked_too(env: Env) -> None:
    env.add("day1.json", 1)
    assert env.run("job-bookmark-enable", catalog=True) == [1]
    env.add("day2.json", 2)
    assert env.run("job-bookmark-enable", catalog=True) == [2]


def test_a_modified_file_is_read_again(env: Env) -> None:
    day1 = env.add("day1.json", 1)
    env.run("job-bookmark-enable")
    env.add("day1.json", 1, 10)
    stat = day1.stat()
    os.utime(day1, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert env.run("job-bookmark-enable") == [1, 10]


def test_unpublished_run_does_not_advance_the_bookmark(env: Env) -> None:
    env.add("day1.json", 1)
    assert env.run("job-bookmark-enable", publish=False) == [1]  # e.g. its audit failed
    assert env.run("job-bookmark-enable") == [1]
    assert env.run("job-bookmark-enable", commit=False) == []
    env.add("day2.json", 2)
    # the run above did not commit: day2 is still new, and nothing was written for it
    assert env.run("job-bookmark-enable") == [2]


def test_pause_reads_new_files_without_advancing(env: Env) -> None:
    env.add("day1.json", 1)
    env.run("job-bookmark-enable")
    env.add("day2.json", 2)
    assert env.run("job-bookmark-pause") == [2]
    assert env.run("job-bookmark-pause") == [2]
    assert env.run("job-bookmark-enable") == [2]


def test_disable_reads_everything_and_keeps_the_state(env: Env) -> None:
    env.add("day1.json", 1)
    env.run("job-bookmark-enable")
    before = env.state.read_text()
    env.add("day2.json", 2)
    assert env.run("job-bookmark-disable") == [1, 2]
    assert env.state.read_text() == before
    assert env.run("job-bookmark-enable") == [2]


def test_reads_without_transformation_ctx_are_not_bookmarked(spark: Any, env: Env) -> None:
    env.add("day1.json", 1)
    env.run("job-bookmark-enable")
    gc = GlueContext(spark.sparkContext)
    Job(gc).init("daily", {"job_bookmark_option": "job-bookmark-enable"})
    frame = gc.create_dynamic_frame.from_options("s3", {"paths": [str(env.raw)]}, "json")
    assert frame.count() == 1


def test_bookmark_option_from_sys_argv(env: Env, spark: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env.add("day1.json", 1)
    env.run("job-bookmark-enable")
    env.glue_run(job="daily", tables={},
                 bookmarks={"state": str(env.state), "pending": str(env.root / "p.json")})
    monkeypatch.setattr(sys, "argv", ["daily.py", "--job-bookmark-option",
                                      "job-bookmark-enable"])
    gc = GlueContext(spark.sparkContext)
    job = Job(gc)
    job.init("daily", {})  # args without the option: Glue's own argv decides
    assert job.isInitialized()
    frame = gc.create_dynamic_frame.from_options(
        "s3", {"paths": [str(env.raw)]}, "json", transformation_ctx="events")
    assert frame.count() == 0
    job.commit()
    assert (env.root / "p.json").exists()


def test_commit_before_init_and_a_bad_context(glue_context: GlueContext) -> None:
    job = Job(glue_context)
    assert not job.isInitialized()
    with pytest.raises(RuntimeError, match=r"before Job\.init"):
        job.commit()
    with pytest.raises(TypeError, match="needs a GlueContext"):
        Job(object())


def test_outside_a_run_commit_writes_nothing(glue_context: GlueContext,
                                             tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"id": 1}\n')
    job = Job(glue_context)
    job.init("unit", {"job_bookmark_option": "job-bookmark-enable"})
    for _ in range(2):
        frame = glue_context.create_dynamic_frame.from_options(
            "s3", {"paths": [str(tmp_path)]}, "json", transformation_ctx="src")
        assert frame.count() == 1
    job.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_job_reserved_option_lists_match_glue() -> None:
    assert Job.job_bookmark_options() == ["--job-bookmark-option", "job-bookmark-enable",
                                          "job-bookmark-pause", "job-bookmark-disable"]
    assert Job.continuation_options()[0] == "--continuation-option"
    assert Job.id_params()[0] == "--JOB_NAME"
