"""Findings from a pytest run of the project's tests: where each failure happened and why.

pytest reports a failed test, a fixture that failed, and a test module that could not be
imported (ImportError, SyntaxError) in its JUnit XML; a conftest that cannot be imported, or
a bad option, ends pytest before any report is written. Either way the finding names the
project file and line and the exception (``ModuleNotFoundError: No module named 'foo'``),
which is what a developer needs to fix it.
"""

from __future__ import annotations

import re
from pathlib import Path

from sluice.check.model import Finding, TestCase

_TRACE_LINE = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+): ", re.MULTILINE)
# a SyntaxError's own location, and pytest's "fixture 'x' not found" location
_FILE_LINE = re.compile(r'^(?:E\s+)?File "(?P<path>[^"]+\.py)", line (?P<line>\d+)', re.MULTILINE)
_FIXTURE_LINE = re.compile(r"^file (?P<path>[^\s,]+\.py), line (?P<line>\d+)", re.MULTILINE)
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning|Exit|Interrupt)(: |$)")
_BANNER = re.compile(r"^[=_-]{3,} .* [=_-]{3,}$")  # pytest's "==== ERRORS ====" headings
_EXIT_MEANING = {2: "was interrupted", 3: "failed internally", 4: "was used wrongly"}


def run_tip(folders: list[str]) -> str:
    return "run the project's tests:  python -m pytest " + " ".join(folders)


def exception_line(text: str) -> str:
    """The exception pytest reported: the last ``E   Name: message`` line
    (``SyntaxError: …``), else the first line of the last ``E`` block."""
    blocks: list[list[str]] = []
    previous_e = False
    for raw in text.splitlines():
        is_e = raw.startswith("E ")
        line = raw[1:].strip() if is_e else ""
        if is_e and line and not set(line) <= {"^", "~"}:
            if not previous_e:
                blocks.append([])
            blocks[-1].append(line)
        previous_e = is_e
    named = [ln for block in blocks for ln in block if _EXCEPTION.match(ln)]
    if named:
        return named[-1]
    return blocks[-1][0] if blocks else ""


def locate(text: str, root: Path, folders: list[str]) -> tuple[str | None, int | None]:
    """The project file and line a failure points at: a SyntaxError's file, else the
    innermost traceback line inside the test folders (or anywhere in the project)."""
    for pattern in (_FILE_LINE, _FIXTURE_LINE):
        hits = [(_relative(m["path"], root), int(m["line"])) for m in pattern.finditer(text)]
        hits = [(p, n) for p, n in hits if p is not None]
        if hits:
            return hits[-1]
    trace = [(_relative(m["path"], root), int(m["line"])) for m in _TRACE_LINE.finditer(text)]
    inside = [(p, n) for p, n in trace if p is not None]
    ours = [(p, n) for p, n in inside if any(p.startswith(f + "/") for f in folders)]
    for found in (ours, inside):
        if found:
            return found[-1]
    return None, None


def _relative(path: str, root: Path) -> str | None:
    """``path`` relative to the project, or None when it lies outside (pytest, stdlib)."""
    p = Path(path)
    if not p.is_absolute():
        return None if path.startswith(("<", "..")) else path
    try:
        return str(p.resolve().relative_to(root.resolve()))
    except ValueError:
        return None


def case_finding(case: TestCase, root: Path, folders: list[str]) -> Finding:
    """The finding of a failed or errored test case (``parse_junit``'s message: where, the
    report's message, the traceback)."""
    first, _, rest = case.message.partition("\n")
    where, _, where_line = first.partition(":")
    path, line = locate(rest, root, folders)
    if path is None:
        path, line = where or None, int(where_line) if where_line.isdigit() else None
    head, _, body = rest.partition("\n")
    # a failure's report message is its assertion; an error's is "failed on setup with …"
    cause = head.strip() if case.outcome == "failed" else exception_line(body)
    cause = cause or head.strip() or case.outcome
    if head.strip() == "collection failure":  # the module itself: nothing of it ran
        what = where or case.name
        return Finding(f"{what} could not be collected: {cause}", path, line,
                       tip=run_tip(folders))
    name = f"{case.classname}::{case.name}" if case.classname else case.name
    return Finding(f"{name} {case.outcome}: {cause}", path, line, tip=run_tip(folders))


def meaningful_lines(output: str, limit: int = 6) -> list[str]:
    """The last lines of pytest's output that say something (no rules, blanks or carets)."""
    out = []
    for raw in output.splitlines():
        line = raw.removeprefix("INTERNALERROR>").rstrip()
        stripped = line.strip()
        if not stripped or set(stripped) <= set("=-_^~ ") or _BANNER.match(stripped):
            continue
        out.append(stripped)
    return out[-limit:]


def no_report_finding(code: int, output: str, root: Path, folders: list[str]) -> Finding:
    """pytest ended (exit 2, 3 or 4) before writing its report: a conftest that does not
    import, an unknown option or plugin. Its last meaningful lines say why."""
    path, line = locate(output, root, folders)
    cause = exception_line(output)
    lines = meaningful_lines(output)
    detail = cause if cause else " | ".join(lines) or "(no output)"
    lead = next((ln for ln in lines if "while loading conftest" in ln), "")
    meaning = _EXIT_MEANING.get(code, "stopped")
    text = f"pytest {meaning} (exit {code}) before running any test: "
    text += f"{lead} {detail}" if lead and lead != detail else detail
    return Finding(text, path, line, tip=run_tip(folders))
