"""A PySpark job's live progress: the launcher polls ``statusTracker()``, sluice forwards it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sluice.deploy.pyspark_launcher import spark_status
from sluice.deploy.spark_jobs import launch_command, run_script


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_lines_appended_to_the_progress_file_reach_the_callback(tmp_path: Path) -> None:
    # no Spark: a script that writes the progress file itself, as the launcher's thread does
    script = _script(tmp_path, """
        import os
        with open(os.environ["SLUICE_PROGRESS_FILE"], "a") as fh:
            fh.write("stage 1/2\\n")
            fh.write("stage 2/2\\n")
            fh.write("half a li")  # being written: not passed on
        print("out"); import sys; print("err", file=sys.stderr)
    """)
    seen: list[str] = []
    proc = run_script([sys.executable, str(script)], tmp_path, dict(os.environ),
                      tmp_path / "progress.log", seen.append)
    assert proc.returncode == 0 and proc.stdout == "out\n" and proc.stderr == "err\n"
    assert seen and seen[-1] == "stage 2/2"


def test_a_script_running_too_long_is_killed(tmp_path: Path) -> None:
    script = _script(tmp_path, "import time\ntime.sleep(600)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run_script([sys.executable, str(script)], tmp_path, dict(os.environ),
                   tmp_path / "progress.log", timeout=1)


class _Tracker:
    """The four StatusTracker calls spark_status makes, over fixed data."""

    class Job:
        jobId = 7
        stageIds = (12, 13, 14)

    class Stage:
        stageId = 13
        numTasks = 200
        numCompletedTasks = 120

    def getActiveJobsIds(self) -> list[int]:
        return [7]

    def getJobInfo(self, job: int) -> object:
        return self.Job()

    def getActiveStageIds(self) -> list[int]:
        return [13]

    def getStageInfo(self, stage: int) -> object:
        return self.Stage()


def test_spark_status_names_the_stage_and_its_tasks() -> None:
    assert spark_status(_Tracker()) == "Spark job 7, stage 2/3, 120/200 tasks"


@pytest.mark.spark
@pytest.mark.slow
def test_a_running_spark_job_reports_its_stage_and_tasks(tmp_path: Path,
                                                         spark_runtime: None) -> None:
    progress = tmp_path / "progress.log"
    # each task waits until the launcher has reported it (bounded): no race on timing
    script = _script(tmp_path, f"""
        import os, time
        from pyspark.sql import SparkSession
        PATH = {str(progress)!r}

        def wait(rows):
            deadline = time.time() + 120
            while time.time() < deadline:
                if os.path.exists(PATH) and "tasks" in open(PATH).read():
                    break
                time.sleep(0.1)
            return rows

        spark = (SparkSession.builder.master("local[2]").appName("progress")
                 .config("spark.ui.enabled", "false").getOrCreate())
        assert spark.sparkContext.parallelize(range(4), 2).mapPartitions(wait).count() == 4
        spark.stop()
    """)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    seen: list[str] = []
    proc = run_script(launch_command(script), tmp_path, env, progress, seen.append,
                      timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any(re.fullmatch(r"Spark job \d+, stage 1/1, [0-2]/2 tasks", line)
               for line in seen), seen
