"""Copies of examples/retail for tests.

The example has a PySpark job and a Glue job, and each starts a local-mode JVM (about 10 s on
two cores). Tests of the deployment flow copy the example *without* them, so that each
deploy stays fast; the tests that tell the whole story (and the demo) keep them, and the
Spark paths are covered there and in tests/deploy/test_pyspark_job.py and test_glue_job.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

RETAIL = Path(__file__).resolve().parents[1] / "examples" / "retail"


def copy_retail(dest: Path, *, spark: bool) -> Path:
    """Copy the example to ``dest``; without ``spark`` its PySpark and Glue jobs and their
    outputs go, and so do its function and workflow (which runs the Glue job)."""
    shutil.copytree(RETAIL, dest, ignore=shutil.ignore_patterns(".sluice", "__pycache__"))
    if not spark:
        config_path = dest / "sluice.yaml"
        text = config_path.read_text(encoding="utf-8")
        config = yaml.safe_load(text)
        for name, job in config["jobs"].items():
            if job["type"] in ("pyspark", "glue"):
                text = _drop_entry(text, name)
                (dest / job["script"]).unlink()
                for output in job["outputs"]:
                    text = _drop_entry(text, output)
                    rules = config["datasets"][output].get("rules")
                    if rules:
                        (dest / rules).unlink()
        (dest / "tests" / "test_daily_revenue.py").unlink()
        for section in ("functions", "workflows"):
            text = _drop_section(text, section)
            shutil.rmtree(dest / section)
        config_path.write_text(text, encoding="utf-8")  # the rest keeps its exact layout
    return dest


def _drop_entry(text: str, name: str) -> str:
    """Remove the block of a second-level entry (``  name:`` and its indented lines)."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"  {name}:\n")
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    return "".join(lines[:start] + lines[end:])


def _drop_section(text: str, key: str) -> str:
    """Remove a top-level section (``key:`` and the lines up to the next top-level key)."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"{key}:\n")
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " #"):
        end += 1
    return "".join(lines[:start] + lines[end:])
