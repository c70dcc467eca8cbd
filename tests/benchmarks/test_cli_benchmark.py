"""benchmarks/cli/run.py --smoke: the start-up benchmark runs and states its goals.

Only that it completes and prints a verdict per goal; its timings are never asserted.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "cli" / "run.py"


@pytest.mark.slow
def test_smoke_run_prints_each_goal_and_the_load(tmp_path: Path) -> None:
    out = tmp_path / "cli.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for goal in (r"sluice --help ≤ 0\.25 s", r"sluice --version ≤ 0\.25 s",
                 r"sluice status ≤ 0\.50 s"):
        assert re.search(rf"^  (PASS|MISS)  {goal}: \d+\.\d+ s$", proc.stdout, re.M), goal
    for peer in ("python -c pass", 'python -c "import duckdb"'):
        assert re.search(rf"^{re.escape(peer)} ", proc.stdout, re.M), peer
    assert "load average" in proc.stdout
    assert '"smoke": true' in out.read_text()
