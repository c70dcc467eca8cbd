"""Checks that run the project's own tools in their own processes: ruff over its Python
(jobs, functions, tests; honouring the project's ruff config) and its pytest suite."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from sluice.check.base import Unit, UnitOutcome, findings_outcome, skipped
from sluice.check.context import CheckContext, tool_version
from sluice.check.model import Finding, TestCase
from sluice.errors import SluiceError

CHECK_EXTRA_TIP = "pip install 'sluice-cd[check]' (ruff and pytest, the tools sluice check runs)"
RUFF_CONFIGS = ("pyproject.toml", "ruff.toml", ".ruff.toml")
_TRACE_LINE = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+): ", re.MULTILINE)


def _run(args: list[str], cwd: Path, timeout: int, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise SluiceError(f"{what} ran longer than {timeout}s and was stopped",
                          tip="raise checks.timeout in sluice.yaml") from exc
    except OSError as exc:
        raise SluiceError(f"cannot run {what}: {exc}") from exc


class LintCheck:
    kind = "lint"
    description = "ruff over the project's Python, with the project's own ruff config"

    def units(self, ctx: CheckContext) -> list[Unit]:
        files = tuple(f for f in ctx.files_under(".py"))
        if not files:
            return []
        configs = tuple(f for f in ctx.files if Path(f).name in RUFF_CONFIGS)

        def run() -> UnitOutcome:
            try:
                from ruff.__main__ import find_ruff_bin
            except ImportError as exc:
                raise SluiceError("ruff is not installed", tip=CHECK_EXTRA_TIP) from exc
            timeout = ctx.config.checks.timeout if ctx.config else 900
            proc = _run([find_ruff_bin(), "check", "--output-format", "json", "--no-cache",
                         "--force-exclude", *files], ctx.root, timeout, "ruff")
            if proc.returncode not in (0, 1):
                raise SluiceError(f"ruff failed: {proc.stderr.strip()[-400:]}")
            findings = []
            for item in json.loads(proc.stdout or "[]"):
                path = Path(item["filename"])
                rel = str(path.relative_to(ctx.root)) if path.is_absolute() else str(path)
                loc = item.get("location") or {}
                findings.append(Finding(item["message"], rel, loc.get("row"), loc.get("column"),
                                        code=item.get("code") or "",
                                        tip=item.get("url") or ""))
            return findings_outcome(findings, f"ruff {tool_version('ruff')}, {len(files)} files")

        return [Unit("lint", "python", run, files=files + configs,
                     key={"ruff": tool_version("ruff")})]


class UnitTestCheck:
    kind = "unit"
    description = "the project's pytest suite, in its own process, results per test"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        folder = cfg.checks.tests if cfg is not None and cfg.checks.tests else "tests"
        if not ctx.files_under(".py", folder=folder):
            return []
        timeout = cfg.checks.timeout if cfg is not None else 900

        def run() -> UnitOutcome:
            # pytest runs under this interpreter: without it every test would "fail" to import
            if importlib.util.find_spec("pytest") is None:
                raise SluiceError("pytest is not installed", tip=CHECK_EXTRA_TIP)
            with tempfile.TemporaryDirectory(prefix="sluice-pytest-") as tmp:
                report = Path(tmp) / "junit.xml"
                proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             *_own_config(ctx.root, Path(tmp)),
                             f"--junitxml={report}", "-o", "junit_family=xunit1", folder],
                            ctx.root, timeout, "pytest")
                if proc.returncode == 5:
                    return skipped(f"pytest collected no tests in {folder}/")
                if not report.is_file():
                    tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
                    raise SluiceError("pytest did not run: " + " | ".join(tail))
                cases = parse_junit(report)
            findings = [_case_finding(c, folder) for c in cases
                        if c.outcome in {"failed", "error"}]
            if proc.returncode not in (0, 1) and not findings:
                findings.append(Finding(f"pytest exited with {proc.returncode}",
                                        tip=proc.stdout.strip().splitlines()[-1]
                                        if proc.stdout.strip() else ""))
            passed = sum(c.outcome == "passed" for c in cases)
            out = findings_outcome(findings, f"{passed}/{len(cases)} tests passed", cases)
            return out

        # a test may read any file of the project (data, SQL, code): all of them are inputs
        return [Unit("unit", folder, run, files=tuple(ctx.files),
                     key={"pytest": tool_version("pytest")})]


_PYTEST_CONFIGS = (("pytest.ini", ""), (".pytest.ini", ""), ("pyproject.toml", "[tool.pytest"),
                   ("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]"))


def _own_config(root: Path, tmp: Path) -> list[str]:
    """pytest options that keep the project's tests to the project's own pytest config.

    Without a config of its own, pytest would take the first one it finds in a parent folder
    (the demo workspace inside a sluice checkout got sluice's own, whose options need plugins
    the project does not have); an empty config and ``--rootdir`` stop that search."""
    for name, section in _PYTEST_CONFIGS:
        path = root / name
        if path.is_file() and (not section or section in path.read_text(encoding="utf-8")):
            return []
    empty = tmp / "pytest.ini"
    empty.write_text("[pytest]\n", encoding="utf-8")
    return ["-c", str(empty), f"--rootdir={root}"]


def parse_junit(path: Path) -> list[TestCase]:
    cases: list[TestCase] = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            el = tc.find(child)
            if el is not None:
                outcome = name
                message = (el.get("message") or "") + "\n" + (el.text or "")
                break
        file = tc.get("file") or ""
        line = tc.get("line")
        where = f"{file}:{int(line) + 1}" if file and line is not None else file
        cases.append(TestCase(tc.get("name", ""), tc.get("classname", ""), outcome,
                              float(tc.get("time") or 0.0),
                              (where + "\n" + message.strip()).strip()))
    return cases


def _case_finding(case: TestCase, folder: str) -> Finding:
    first, _, rest = case.message.partition("\n")
    # the innermost traceback line inside the tests folder is where the test failed
    hits = [m for m in _TRACE_LINE.finditer(rest) if m["path"].startswith(folder)]
    path, line = (hits[-1]["path"], int(hits[-1]["line"])) if hits else \
        (first.split(":")[0] or None, int(first.split(":")[1]) if ":" in first else None)
    summary = rest.strip().splitlines()[0] if rest.strip() else case.outcome
    return Finding(f"{case.classname}::{case.name} {case.outcome}: {summary}", path, line,
                   tip="run the project's tests:  python -m pytest " + folder)
