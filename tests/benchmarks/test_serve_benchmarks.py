"""benchmarks/serve --smoke: both control-plane benchmarks run and state their goals.

Only that they complete and print a verdict per goal; their timings are never asserted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[2] / "benchmarks" / "serve"


def _smoke(script: str, tmp_path: Path) -> str:
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(HERE / script), "--smoke", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^load average \d", proc.stdout, re.M), proc.stdout
    assert json.loads(out.read_text())["smoke"] is True
    return proc.stdout


@pytest.mark.slow
def test_resume_benchmark_prints_both_goals(tmp_path: Path) -> None:
    stdout = _smoke("resume.py", tmp_path)
    for name in ("approval_to_resumed_step_s", "execution_to_first_stage_s"):
        assert re.search(rf"^{name} +median \d+\.\d+s .* (PASS|MISS) \(goal < 1\.0s\)$",
                         stdout, re.M), stdout


@pytest.mark.slow
def test_api_latency_benchmark_prints_every_goal(tmp_path: Path) -> None:
    stdout = _smoke("api_latency.py", tmp_path)
    for path in ("/api/status", "/api/history?limit=30", "/api/history?env=dev&limit=30"):
        assert re.search(rf"^sqlite +GET {re.escape(path)} +p50 .* p95 +\d+\.\d ms  "
                         r"(PASS|MISS) \(goal p95 < 50 ms\)$", stdout, re.M), stdout
    assert re.search(r"^sqlite +webhook → execution started +max \d+\.\d+ s  (PASS|MISS)",
                     stdout, re.M), stdout
