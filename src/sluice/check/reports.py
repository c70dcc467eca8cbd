"""What CI systems read: JUnit XML, a Markdown summary for a pull-request comment, and
GitHub Actions workflow commands (annotations at file:line)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from sluice.check.model import CheckReport, CheckResult, Finding, Status, TestCase

_ICON = {Status.PASSED: "✅", Status.FAILED: "❌", Status.SKIPPED: "⏭️"}


def write_junit(report: CheckReport, path: Path) -> None:
    """One ``<testsuite>`` per check kind, one ``<testcase>`` per unit (per test for the
    project's own unit tests)."""
    root = ET.Element("testsuites", name="sluice check", time=f"{report.seconds:.3f}")
    kinds: dict[str, list[CheckResult]] = {}
    for r in report.results:
        kinds.setdefault(r.kind, []).append(r)
    for kind, results in kinds.items():
        suite = ET.SubElement(root, "testsuite", name=kind)
        n = failures = skips = 0
        for r in results:
            cases: list[TestCase | None] = list(r.cases) or [None]
            for case in cases:
                n += 1
                name = f"{r.name}::{case.classname}::{case.name}" if case else r.name
                tc = ET.SubElement(suite, "testcase", classname=f"sluice.{kind}", name=name,
                                   time=f"{(case.seconds if case else r.seconds):.3f}")
                failed = (case.outcome in {"failed", "error"}) if case else \
                    r.status == Status.FAILED
                if failed:
                    failures += 1
                    text = case.message if case else "\n".join(_line(f) for f in r.errors)
                    el = ET.SubElement(tc, "failure", message=text.splitlines()[0] if text
                                       else "failed")
                    el.text = text
                elif (case and case.outcome == "skipped") or \
                        (not case and r.status == Status.SKIPPED):
                    skips += 1
                    ET.SubElement(tc, "skipped", message=r.detail)
        suite.set("tests", str(n))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skips))
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _line(f: Finding) -> str:
    return f"{f.where}: {f.message}" if f.where else f.message


def markdown(report: CheckReport, limit: int = 50) -> str:
    verdict = "passed" if report.passed else "failed"
    counts = report.counts()
    lines = [f"## sluice check {verdict} {'✅' if report.passed else '❌'}", "",
             f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} "
             f"skipped in {report.seconds:.1f}s ({report.reused} reused from cache)", "",
             "| check | subject | result | details |", "|---|---|---|---|"]
    for r in report.results:
        detail = r.detail + (f"; {len(r.errors)} error(s)" if r.errors else "")
        lines.append(f"| {r.kind} | `{r.name}` | {_ICON[r.status]} {r.status.value} | "
                     f"{_cell(detail)} |")
    problems = [(r, f) for r in report.results for f in r.findings]
    if problems:
        lines += ["", "### Findings", ""]
        for r, f in problems[:limit]:
            where = f"`{f.where}` " if f.where else ""
            lines.append(f"- **{r.kind}** {where}{_cell(f.message)}"
                         + (f" _({f.severity})_" if f.severity != "error" else ""))
        if len(problems) > limit:
            lines.append(f"- … and {len(problems) - limit} more")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def github_annotations(report: CheckReport) -> list[str]:
    """``::error file=…,line=…,col=…,title=…::message`` lines for GitHub Actions."""
    out: list[str] = []
    for r in report.results:
        for f in r.findings:
            level = {"error": "error", "info": "notice"}.get(f.severity, "warning")
            props = [f"title={_prop(f'sluice {r.kind}: {r.name}')}"]
            if f.path:
                props.insert(0, f"file={_prop(f.path)}")
                if f.line:
                    props.insert(1, f"line={f.line}")
                    if f.col:
                        props.insert(2, f"col={f.col}")
            out.append(f"::{level} {','.join(props)}::{_data(f.message)}")
    return out


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
