"""JUnit XML for CI systems: one testcase per top-level rule."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from sluice.quality.results import Outcome, RulesetResult


def to_junit(result: RulesetResult) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"dqdl:{result.ruleset}",
        tests=str(len(result.results)),
        failures=str(sum(r.outcome is Outcome.FAIL for r in result.results)),
        errors=str(sum(r.outcome is Outcome.ERROR for r in result.results)),
        skipped="0",
        time=f"{result.elapsed_seconds:.3f}",
    )
    for r in result.results:
        case = ET.SubElement(suite, "testcase", classname=f"{result.dataset}.{r.rule_type}",
                             name=r.rule, file=r.location.rsplit(":", 2)[0])
        detail = r.message + (f" ({r.failing_rows} failing rows)" if r.failing_rows else "")
        if r.outcome is Outcome.FAIL:
            ET.SubElement(case, "failure", message=detail, type="RuleFailed").text = (
                f"{r.location}: {r.rule}\n{detail}")
        elif r.outcome is Outcome.ERROR:
            ET.SubElement(case, "error", message=detail, type="RuleError").text = (
                f"{r.location}: {r.rule}\n{detail}")
        elif r.outcome is Outcome.WARN:
            ET.SubElement(case, "system-out").text = f"WARNING (severity=warn): {detail}"
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def write_junit(result: RulesetResult, path: str | Path) -> None:
    Path(path).write_text(to_junit(result), encoding="utf-8")
