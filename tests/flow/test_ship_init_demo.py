"""`sluice ship`, `sluice init` and `sluice demo` through the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.flow.conftest import Project, cli_env


def test_ship_stops_at_the_approval_gate_and_continues_after_approval(fresh: Project) -> None:
    for env in ("dev", "staging", "prod"):
        fresh.load(env)
    first = fresh.json("ship")
    assert first["deployed"] == ["dev", "staging"]
    assert first["stopped_at"] == "prod"
    assert "needs an approval" in first["reason"]
    fresh.ok("approve", "prod", "--comment", "ok", user="bob")
    second = fresh.json("ship")
    assert second["release_id"] == first["release_id"]
    assert second["deployed"] == ["prod"]
    assert second["already_live"] == ["dev", "staging"]
    assert second["stopped_at"] is None
    status = {row["env"]: row["release"] for row in fresh.json("status")}
    assert set(status.values()) == {first["release_id"]}


def test_init_scaffolds_a_project_that_loads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    dest = tmp_path / "new"
    run = [sys.executable, "-m", "sluice.cli"]
    proc = subprocess.run([*run, "init", str(dest)], capture_output=True, text=True,
                          env=cli_env("ann"), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (dest / "sluice.yaml").is_file() and (dest / ".gitignore").is_file()
    status = subprocess.run([*run, "status", "--json"], cwd=dest, capture_output=True, text=True,
                            env=cli_env("ann"), timeout=120, check=False)
    assert status.returncode == 0, status.stderr
    again = subprocess.run([*run, "init", str(dest)], capture_output=True, text=True,
                           env=cli_env("ann"), timeout=120, check=False)
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_demo_tells_the_whole_story(tmp_path: Path, spark_runtime: None) -> None:
    dest = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "sluice.demo", str(dest)], capture_output=True,
                          text=True, env={**cli_env("ann"), "COLUMNS": "200"}, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for chapter in ("Build an immutable release", "Deploy it to dev", "protected environment",
                    "bad batch", "nothing was published", "recomputed customer_orders",
                    "Roll prod back"):
        assert chapter in out, chapter
    assert "✓ run:daily_revenue" in out  # the PySpark job
    assert "✓ run:country_revenue" in out  # the Glue job
    assert "✓ audit:marts.country_revenue" in out
    assert "↷ run:daily_revenue skipped: an upstream audit failed" in out  # the bad batch
    assert re.search(r"Done in [\d.]+s \([\d.]+s of it in PySpark and Glue jobs", out)
    assert (dest / ".sluice" / "state.db").is_file()
    # the workspace stays usable afterwards
    status = subprocess.run([sys.executable, "-m", "sluice.cli", "status", "--json"], cwd=dest,
                            capture_output=True, text=True, env=cli_env("ann"), timeout=120,
                            check=False)
    assert status.returncode == 0, status.stderr
    assert '"env": "prod"' in status.stdout
