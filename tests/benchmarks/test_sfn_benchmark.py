"""benchmarks/sfn/run.py --smoke: the Step Functions benchmark runs and states its goal.

Only that it completes and prints its lines; its timings are never asserted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sfn" / "run.py"


def test_smoke_run_prints_the_goal_and_the_peers(tmp_path: Path) -> None:
    out = tmp_path / "sfn.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^load average \d", proc.stdout, re.M)
    assert re.search(r"^  (PASS|MISS)  10,000 transitions < 1 s: \d+\.\d+ s$", proc.stdout,
                     re.M), proc.stdout
    for peer in ("sluice Map", "plain loop, in process", "loop via one warm process"):
        assert re.search(rf"^  {peer} .* items/s", proc.stdout, re.M), peer
    result = json.loads(out.read_text())
    assert result["smoke"] is True and result["transitions"] == 1001
