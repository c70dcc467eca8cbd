"""The conformance corpus: (definition, input) → (status, output) cases written from AWS's
documented semantics (each names its source), run by the local interpreter with mocked tasks
and a virtual clock. Each case is one JSON file under corpus/<group>/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sluice.workflows.clock import VirtualClock
from sluice.workflows.interpreter import run_definition
from sluice.workflows.resources import Mocks
from sluice.workflows.validate import is_valid, validate_definition

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.rglob("*.json"))
_SHAPES = {
    "uuid": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "timestamp": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"),
    "string": re.compile(r".*", re.S),
}


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path[1:])]


def _pluck(output: Any, path: str) -> tuple[Any, Any]:
    """(the value at ``path``, the output with it set to None)."""
    steps = _steps(path)
    node = output
    for step in steps[:-1]:
        node = node[step]
    found = node[steps[-1]]
    node[steps[-1]] = None
    return found, output


def test_the_corpus_has_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60, [c.name for c in CASES]


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    definition = case["definition"]
    problems = [d for d in validate_definition(json.dumps(definition)) if d.severity == "ERROR"]
    assert is_valid(problems), [(d.code, d.location, d.message) for d in problems]
    clock = VirtualClock()
    result = run_definition(definition, case.get("input", {}), resources=Mocks(
        case.get("mocks", {})), clock=clock)
    expected = case["expected"]
    assert (result.status, result.error) == (expected["status"], expected.get("error")), \
        result.to_dict()
    if "cause" in expected:
        assert result.cause == expected["cause"]
    output = result.output
    for where, shape in expected.get("shape", {}).items():
        value, output = _pluck(output, where)
        assert isinstance(value, str) and _SHAPES[shape].fullmatch(value), (where, value)
    if expected["status"] == "SUCCEEDED":
        assert output == expected["output"]
    if "states" in expected:
        assert result.states == expected["states"]
    if "sleeps" in expected:
        assert clock.sleeps == expected["sleeps"]
