"""`sluice quality check`: exit codes, JSON, JUnit, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import pytest


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "d.parquet"
    duckdb.execute(f"""COPY (SELECT i AS id, CASE WHEN i % 4 = 0 THEN NULL ELSE i END AS v
                      FROM range(20) t(i)) TO '{path}' (FORMAT parquet)""")
    return path


def sluice(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice.cli", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120, check=False,
    )


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rules.dqdl"
    p.write_text(text, encoding="utf-8")
    return p


def test_passing_ruleset_exits_0_and_warnings_are_allowed(tmp_path: Path, data: Path) -> None:
    rules = write(tmp_path, 'Rules = [ RowCount = 20, IsComplete "v" labels=["severity"="warn"] ]')
    proc = sluice("quality", "check", str(rules), "--data", str(data), "--no-history", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "WARN" in proc.stdout and "PASS" in proc.stdout


def test_failing_ruleset_exits_1_with_json_and_junit(tmp_path: Path, data: Path) -> None:
    rules = write(tmp_path, 'Rules = [ RowCount = 20, IsComplete "v" ]')
    junit = tmp_path / "report.xml"
    proc = sluice("quality", "check", str(rules), "--data", str(data), "--json", "--junit",
                  str(junit), "--sample-limit", "2", "--history", str(tmp_path / "h.db"),
                  cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["outcome"] == "fail" and doc["counts"]["fail"] == 1
    failing = doc["rules"][1]
    assert failing["failing_rows"] == 5 and len(failing["sample"]) == 2
    assert failing["location"].endswith("rules.dqdl:1:26")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    assert (tmp_path / "h.db").exists()


@pytest.mark.parametrize(
    ("rules_text", "data_arg", "expected"),
    [
        ("Rules = [ RowCount > ]", None, "expected"),
        ("Rules = [ RowCount > 1 ]", "missing.parquet", "does not exist"),
        ('Rules = [ Completness "v" > 0.5 ]', None, "did you mean Completeness?"),
    ],
    ids=["syntax-error", "missing-data", "typo-rule-type"],
)
def test_unusable_input_exits_2_without_traceback(
    tmp_path: Path, data: Path, rules_text: str, data_arg: str | None, expected: str
) -> None:
    rules = write(tmp_path, rules_text)
    proc = sluice("quality", "check", str(rules), "--data", data_arg or str(data), cwd=tmp_path)
    assert proc.returncode == 2
    assert "Error:" in proc.stderr and expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_json_errors_are_json(tmp_path: Path, data: Path) -> None:
    rules = write(tmp_path, "Rules = [ RowCount > ]")
    proc = sluice("quality", "check", str(rules), "--data", str(data), "--json", cwd=tmp_path)
    assert proc.returncode == 2
    assert "expected" in json.loads(proc.stdout)["error"]


def test_parse_command(tmp_path: Path) -> None:
    rules = write(tmp_path, 'Rules = [ RowCount > 1, (IsComplete "a") or (IsUnique "a") ]')
    proc = sluice("quality", "parse", str(rules), cwd=tmp_path)
    assert proc.returncode == 0
    assert "IsUnique" in proc.stdout and "2 rules" in proc.stdout
