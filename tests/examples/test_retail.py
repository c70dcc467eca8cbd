"""The retail example stays healthy: its own unit tests pass and its generator is stable."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

RETAIL = Path(__file__).resolve().parents[2] / "examples" / "retail"


@pytest.mark.spark
@pytest.mark.slow
def test_the_examples_unit_tests_pass(spark_runtime: None) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=RETAIL, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout  # the python job's and the PySpark job's


def test_the_sample_data_in_git_is_what_the_generator_makes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(RETAIL / "generate.py"), "500", str(tmp_path)],
                   check=True, timeout=120)
    for rel in ("raw/orders/orders.csv", "raw/customers/customers.json",
                "raw/products/products.csv"):
        assert filecmp.cmp(tmp_path / rel, RETAIL / "data" / rel, shallow=False), rel
