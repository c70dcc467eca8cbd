"""examples/quality: the data `make demo` writes for orders.dqdl passes it (a warning aside),
so the README's first `sluice quality check` exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sluice.quality import EvaluationOptions, check_dataset
from sluice.quality.results import Outcome

QUALITY = Path(__file__).resolve().parents[2] / "examples" / "quality"


def test_the_sample_data_passes_the_example_ruleset(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(QUALITY / "generate.py"), str(tmp_path / "demo")],
                   check=True, capture_output=True, timeout=120)
    demo = tmp_path / "demo"
    orders, customers = demo / "orders.parquet", demo / "customers.parquet"
    result = check_dataset(QUALITY / "orders.dqdl", str(orders), options=EvaluationOptions(
        references={"customers": str(customers)}))
    failed = [r.rule for r in result.results if r.outcome in {Outcome.FAIL, Outcome.ERROR}]
    assert result.passed and not failed, failed
