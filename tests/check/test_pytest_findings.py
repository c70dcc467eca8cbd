"""What the unit check reads out of pytest's reports: the exception and the project line."""

from __future__ import annotations

from pathlib import Path

from sluice.check.kinds.pytest_findings import exception_line, locate, meaningful_lines

SYNTAX = """\
/usr/lib/python3.11/ast.py:50: in parse
    return compile(source, filename, mode, flags,
E     File "{root}/tests/test_syn.py", line 2
E       x = (
E           ^
E   SyntaxError: '(' was never closed"""

ASSERTION = """\
    def test_counts():
>       assert len(rows) == 3
E       assert 2 == 3
E        +  where 2 = len([1, 2])

tests/test_counts.py:3: AssertionError"""


def test_the_exception_is_the_named_line_or_the_first_of_the_last_block() -> None:
    assert exception_line(SYNTAX) == "SyntaxError: '(' was never closed"
    assert exception_line(ASSERTION) == "assert 2 == 3"
    assert exception_line("E       fixture 'nosuch' not found\n>  available fixtures: x") == \
        "fixture 'nosuch' not found"
    assert exception_line("no E lines at all") == ""


def test_the_location_is_in_the_project(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    assert locate(SYNTAX.format(root=root), root, ["tests"]) == ("tests/test_syn.py", 2)
    assert locate(ASSERTION, root, ["tests"]) == ("tests/test_counts.py", 3)
    # a traceback that never enters the project has no location
    assert locate("/usr/lib/python3.11/x.py:1: in f\nE   OSError: no", root, ["tests"]) == \
        (None, None)


def test_meaningful_lines_drop_rules_blanks_and_internal_error_prefixes() -> None:
    out = "==== ERRORS ====\n\nINTERNALERROR> Traceback\nINTERNALERROR>   boom\n    ^^^^\n"
    assert meaningful_lines(out) == ["Traceback", "boom"]
