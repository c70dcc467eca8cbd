"""benchmarks/glue --smoke: the Glue benchmarks run and state their goals.

Only that it completes and prints a verdict per goal; its timings are never asserted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[2] / "benchmarks" / "glue"


def _smoke(script: str, tmp_path: Path) -> str:
    """``script --smoke``'s stdout, once it exited 0, printed the load and saved its JSON."""
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(HERE / script), "--smoke", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^load average \d", proc.stdout, re.M), proc.stdout
    assert json.loads(out.read_text())["smoke"] is True
    return proc.stdout


@pytest.mark.spark
@pytest.mark.slow
def test_deploy_jobs_benchmark_prints_its_goals(tmp_path: Path, spark_runtime: None) -> None:
    stdout = _smoke("deploy_jobs.py", tmp_path)
    for name in ("deploy 1 job", "deploy 5 jobs"):
        assert re.search(rf"^{name} +median +\d+\.\d+s  spark starts \d+$", stdout, re.M), stdout
    assert re.search(r"^spark starts per 5-job deploy +\d+  (PASS|MISS) \(goal 1\)$",
                     stdout, re.M), stdout
    assert re.search(r"^5 jobs / 1 job +\d+\.\d+x  (PASS|MISS) \(goal <= 1\.5x\)$",
                     stdout, re.M), stdout


@pytest.mark.spark
@pytest.mark.slow
def test_runtime_overhead_benchmark_prints_its_goal(tmp_path: Path, spark_runtime: None) -> None:
    stdout = _smoke("runtime_overhead.py", tmp_path)
    assert re.search(r"^spark_startup_s \d+\.\d+s \(once, excluded from the ratio\)$",
                     stdout, re.M), stdout
    for fmt in ("csv", "parquet"):
        assert re.search(rf"^orders as {fmt} +glue median \d+\.\d+s  plain median \d+\.\d+s  "
                         r"glue_vs_plain \d+\.\d+x  (PASS|MISS) \(goal <= 1\.2x\)$",
                         stdout, re.M), stdout


@pytest.mark.spark
@pytest.mark.slow
def test_csv_profile_prints_jobs_and_the_inference_share(tmp_path: Path,
                                                          spark_runtime: None) -> None:
    stdout = _smoke("csv_profile.py", tmp_path)
    for name in ("glue script", "plain script", "csv read, inferSchema", "csv read, strings"):
        assert re.search(rf"^{name} +median \d+\.\d+s  spark jobs [\d/]+$", stdout, re.M), stdout
    assert re.search(r"^glue - plain -?\d+\.\d+s; inference pass -?\d+\.\d+s \(", stdout,
                     re.M), stdout
