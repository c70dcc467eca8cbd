"""PySpark jobs run as scripts on real PySpark (local mode) inside write-audit-publish."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sluice.deploy.deployer import deploy
from sluice.errors import EngineUnavailableError
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace

CONFIG = """\
project: sparky
sources:
  raw.events: {format: csv, path: events/*.csv}
datasets:
  staging.event_counts:
    contract:
      columns:
        kind: {type: VARCHAR, nullable: false}
        n: {type: BIGINT, nullable: false}
      primary_key: [kind]
jobs:
  counts:
    type: pyspark
    script: jobs/counts.py
    inputs: [raw.events]
    outputs: [staging.event_counts]
environments:
  dev: {target: {type: local}}
"""

SCRIPT = """\
import argparse

from pyspark.sql import SparkSession, functions as F

parser = argparse.ArgumentParser()
parser.add_argument("--input", action="append", default=[])
parser.add_argument("--output", action="append", default=[])
parser.add_argument("--param", action="append", default=[])
args = parser.parse_args()
inputs = dict(a.split("=", 1) for a in args.input)
outputs = dict(a.split("=", 1) for a in args.output)
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1").getOrCreate())
events = spark.read.parquet(inputs["raw.events"])
(events.groupBy("kind").agg(F.count("*").alias("n"))
 .write.parquet(outputs["staging.event_counts"]))
spark.stop()
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sparky"
    (root / "jobs").mkdir(parents=True)
    (root / "sluice.yaml").write_text(CONFIG)
    (root / "jobs" / "counts.py").write_text(SCRIPT)
    (root / ".gitignore").write_text(".sluice/\n")
    objects = root / ".sluice" / "envs" / "dev" / "objects" / "events"
    objects.mkdir(parents=True)
    (objects / "e.csv").write_text("kind,at\nclick,1\nclick,2\nview,3\n")
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.mark.spark
@pytest.mark.slow
def test_a_pyspark_job_writes_an_audited_version(project: Path, spark_runtime: None) -> None:
    ws = Workspace.open(project)
    try:
        manifest, _ = make_release(ws)
        outcome = deploy(ws, "dev", manifest.id, actor="ann")
        assert outcome.plan.recompute == ["counts"]
        assert outcome.rows == {"staging.event_counts": 2}
        assert all(a.passed for a in outcome.audits)
        con = ws.target("dev").engine().con
        rows = con.execute("SELECT kind, n FROM staging.event_counts ORDER BY kind").fetchall()
        assert rows == [("click", 2), ("view", 1)]
    finally:
        ws.close()


def test_without_java_a_pyspark_job_says_how_to_fix_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.open(project)
    try:
        manifest, _ = make_release(ws)
        monkeypatch.delenv("JAVA_HOME", raising=False)
        monkeypatch.setenv("PATH", str(project))  # no java here
        with pytest.raises(EngineUnavailableError) as info:
            deploy(ws, "dev", manifest.id, actor="ann")
        assert "needs Java 17" in info.value.message
        assert info.value.tip is not None and "openjdk-17" in info.value.tip
        assert ws.target("dev").catalog() == {}
    finally:
        ws.close()


def test_a_java_home_without_java_beside_a_java_on_path_says_to_unset_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from sluice.deploy.spark_jobs import require_spark

    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH to find")
    monkeypatch.setenv("JAVA_HOME", str(project / "no-jdk"))
    with pytest.raises(EngineUnavailableError) as info:
        require_spark("events", "a PySpark job")
    assert info.value.message.endswith(f"JAVA_HOME={project / 'no-jdk'} has no bin/java")
    assert info.value.tip == f"unset JAVA_HOME (Spark then uses {java}) or point it at a JDK"
