"""Checks that run the project's own tools in their own processes: ruff over its Python
(jobs, functions, tests; honouring the project's ruff config) and its pytest suites (one
pytest run over every ``checks.unit.folders`` entry, with sluice's Glue pytest plugin, in
the cached environment of ``checks.unit.requirements`` when there is one)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from sluice.check.base import Unit, UnitOutcome, findings_outcome, skipped
from sluice.check.context import CheckContext, tool_version
from sluice.check.kinds.pytest_findings import case_finding, no_report_finding
from sluice.check.kinds.unit_env import ensure_env
from sluice.check.model import Finding, TestCase
from sluice.config import CONFIG_FILE
from sluice.errors import SluiceError

CHECK_EXTRA_TIP = "pip install 'sluice-cd[check]' (ruff and pytest, the tools sluice check runs)"
RUFF_CONFIGS = ("pyproject.toml", "ruff.toml", ".ruff.toml")


def _run(args: list[str], cwd: Path, timeout: int, what: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False, env=env)
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
    description = "the project's pytest suites (checks.unit.folders), results per test"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        unit_cfg = cfg.checks.unit if cfg is not None else None
        folders = cfg.checks.unit_folders() if cfg is not None else ["tests"]
        requirements = unit_cfg.requirements if unit_cfg is not None else None
        timeout = cfg.checks.timeout if cfg is not None else 900
        name = ",".join(folders)
        problems = _config_problems(ctx, folders, requirements, configured=unit_cfg is not None)
        if problems:  # not cached: creating the folder fixes it without touching sluice.yaml
            return [Unit("unit", name, lambda: findings_outcome(problems), files=(CONFIG_FILE,),
                         always=True, cacheable=False)]
        present = [f for f in folders if ctx.files_under(".py", folder=f)]
        if not present:
            return []
        key: dict[str, object] = {"pytest": tool_version("pytest"), "folders": present,
                                  "plugin": _PLUGIN}
        if requirements is not None:
            key["requirements"] = {requirements: ctx.files.get(requirements, "")}

        def run() -> UnitOutcome:
            return _run_pytest(ctx, present, requirements, timeout)

        # a test may read any file of the project (data, SQL, code): all of them are inputs
        return [Unit("unit", name, run, files=tuple(ctx.files), key=key)]


#: the pytest plugin every run loads: the ``spark`` and ``glue_context`` fixtures, awsglue
_PLUGIN = "sluice.glue.pytest_plugin"


def _config_problems(ctx: CheckContext, folders: list[str], requirements: str | None, *,
                     configured: bool) -> list[Finding]:
    """A configured test folder or requirements file that is not there, at its line in
    sluice.yaml (the default ``tests`` folder may be absent: then there is nothing to run)."""
    out: list[Finding] = []
    if configured or (ctx.config is not None and ctx.config.checks.tests):
        for i, folder in enumerate(folders):
            if not (ctx.root / folder).is_dir():
                path = ("checks", "unit", "folders", i) if configured else ("checks", "tests")
                file, line, col = ctx.locate(*path)
                out.append(Finding(f"checks: the test folder {folder!r} does not exist", file,
                                   line, col, tip="create it or fix the path in sluice.yaml"))
    if requirements is not None and not (ctx.root / requirements).is_file():
        file, line, col = ctx.locate("checks", "unit", "requirements")
        out.append(Finding(f"checks.unit.requirements: file not found: {requirements!r}",
                           file, line, col, tip="create it or fix the path in sluice.yaml"))
    return out


def _run_pytest(ctx: CheckContext, folders: list[str], requirements: str | None,
                timeout: int) -> UnitOutcome:
    # pytest runs under this interpreter: without it every test would "fail" to import
    if importlib.util.find_spec("pytest") is None:
        raise SluiceError("pytest is not installed", tip=CHECK_EXTRA_TIP)
    python, env_note = Path(sys.executable), ""
    if requirements is not None:
        test_env = ensure_env(ctx.root, ctx.home, requirements, timeout)
        python = test_env.python
        env_note = f", {'new' if test_env.created else 'cached'} environment for {requirements}"
    with tempfile.TemporaryDirectory(prefix="sluice-pytest-") as tmp:
        report = Path(tmp) / "junit.xml"
        proc = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", _PLUGIN,
                     "--continue-on-collection-errors", *_own_config(ctx.root, Path(tmp)),
                     f"--junitxml={report}", "-o", "junit_family=xunit1", *folders],
                    ctx.root, timeout, "pytest", env=_test_env())
        if proc.returncode == 5:
            return skipped(f"pytest collected no tests in {', '.join(folders)}")
        _refuse_without_java(proc.stdout + proc.stderr)
        if not report.is_file():
            finding = no_report_finding(proc.returncode, proc.stdout + "\n" + proc.stderr,
                                        ctx.root, folders)
            return findings_outcome([finding], f"pytest exited with {proc.returncode}")
        cases = parse_junit(report)
    findings = [case_finding(c, ctx.root, folders) for c in cases
                if c.outcome in {"failed", "error"}]
    if proc.returncode not in (0, 1) and not findings:
        findings.append(no_report_finding(proc.returncode, proc.stdout + "\n" + proc.stderr,
                                          ctx.root, folders))
    passed = sum(c.outcome == "passed" for c in cases)
    return findings_outcome(findings, f"{passed}/{len(cases)} tests passed{env_note}", cases)


def _refuse_without_java(output: str) -> None:
    """Tests whose Spark could not start for want of Java say so, as an error of the check
    (not cached: the next run, with Java, runs them again), not as each test's failure."""
    if "JAVA_GATEWAY_EXITED" not in output and "Java gateway process exited" not in output:
        return
    from sluice.deploy.spark_jobs import java_problem, java_tip

    problem = java_problem()
    if problem is not None:
        raise SluiceError(f"the unit tests start Spark, which needs Java 17, but {problem}",
                          tip=java_tip())


def _test_env() -> dict[str, str]:
    """The tests' environment: a Spark that a test starts itself (``SparkContext.getOrCreate()``
    at a module's top, as Glue's samples do) is as small as the plugin's ``spark`` fixture."""
    env = dict(os.environ)
    env.setdefault("PYSPARK_SUBMIT_ARGS",
                   "--master local[2] --conf spark.ui.enabled=false "
                   "--conf spark.sql.shuffle.partitions=2 pyspark-shell")
    return env


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
