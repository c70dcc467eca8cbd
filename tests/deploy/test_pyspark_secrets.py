"""A PySpark job gets its parameters (secrets included) without any process's command line
showing them: /proc/<pid>/cmdline is readable by every user of the machine."""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice import secrecy
from sluice.deploy.deployer import deploy
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace

PASSWORD = "spark-pw-" + secrets.token_hex(6)

CONFIG = """\
project: sparky
sources:
  raw.events: {format: csv, path: events/*.csv}
datasets:
  staging.findings:
    contract:
      columns:
        kind: {type: VARCHAR, nullable: false}
        n: {type: BIGINT, nullable: false}
      primary_key: [kind]
jobs:
  findings:
    type: pyspark
    script: jobs/findings.py
    inputs: [raw.events]
    outputs: [staging.findings]
environments:
  dev:
    target: {type: local}
    parameters: {db_password: ""}
"""

# While its Spark session (and so its JVM) is up, the job looks at the command line of every
# process of the machine for the password it received through --param.
SCRIPT = """\
import argparse
import os

from pyspark.sql import SparkSession

parser = argparse.ArgumentParser()
parser.add_argument("--input", action="append", default=[])
parser.add_argument("--output", action="append", default=[])
parser.add_argument("--param", action="append", default=[])
args = parser.parse_args()
outputs = dict(a.split("=", 1) for a in args.output)
params = dict(a.split("=", 1) for a in args.param)
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1").getOrCreate())
secret = params["db_password"].encode()
leaks = 0
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                leaks += secret in fh.read()
        except OSError:
            pass
rows = [("password_received", int(len(secret) > 0)), ("command_lines_with_it", leaks)]
spark.createDataFrame(rows, "kind string, n long").write.parquet(outputs["staging.findings"])
spark.stop()
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "sparky"
    (root / "jobs").mkdir(parents=True)
    (root / "sluice.yaml").write_text(CONFIG)
    (root / "jobs" / "findings.py").write_text(SCRIPT)
    (root / ".gitignore").write_text(".sluice/\n")
    objects = root / ".sluice" / "envs" / "dev" / "objects" / "events"
    objects.mkdir(parents=True)
    (objects / "e.csv").write_text("kind,at\nclick,1\n")
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_ENV_DEV_DB_PASSWORD", PASSWORD)
    yield root
    monkeypatch.delenv("SLUICE_ENV_DEV_DB_PASSWORD")
    secrecy.register_environ(os.environ)
    secrecy.forget(f"config:{root.resolve()}")


@pytest.mark.spark
@pytest.mark.slow
def test_a_pyspark_job_gets_a_secret_that_no_command_line_shows(
    project: Path, spark_runtime: None
) -> None:
    ws = Workspace.open(project)
    try:
        manifest, _ = make_release(ws)
        deploy(ws, "dev", manifest.id, actor="ann")
        _, rows = ws.target("dev").engine().fetch("SELECT kind, n FROM staging.findings")
        found = {r[0]: r[1] for r in rows}
    finally:
        ws.close()
    assert found == {"password_received": 1, "command_lines_with_it": 0}
    # the run's private folder, and the parameters file in it, are gone
    assert not list(Path(tempfile.gettempdir()).glob("sluice-findings-*"))
