"""What an execution's input, a definition or a handler cannot do: run away, grow without
bound, leave processes behind, crash sluice or reach outside the object store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from sluice.workflows.choices import _wildcard_match
from sluice.workflows.clock import VirtualClock
from sluice.workflows.errors import StatesError
from sluice.workflows.expressions import evaluate
from sluice.workflows.functions import FunctionPool, FunctionSpec
from sluice.workflows.interpreter import run_definition
from sluice.workflows.validate import validate_definition


def _pass(parameters: dict[str, str]) -> dict[str, object]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters,
                                             "End": True}}}


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("log-*.txt", "log-2026.txt", True), ("*.log", "a.log", True), ("a*", "b", False),
    ("\\*x", "*x", True), ("a\\*b", "axb", False), ("*", "", True), ("a*a", "a", False),
    ("ab*ba", "aba", False), ("x*y*z", "xyz", True), ("x*y*z", "xzy", False),
    ("a\\\\b", "a\\b", True),
])
def test_string_matches_wildcards(pattern: str, value: str, expected: bool) -> None:
    assert _wildcard_match(pattern, value) is expected


def test_string_matches_takes_linear_time_on_hostile_input() -> None:
    started = time.perf_counter()
    assert not _wildcard_match("*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 200_000)
    assert time.perf_counter() - started < 5  # a backtracking regex takes minutes here


def test_a_huge_array_range_fails_before_building_it() -> None:
    done = run_definition(_pass({"r.$": "States.ArrayRange(1, 900000000, 1)"}), {})
    assert (done.status, done.error) == ("FAILED", "States.Runtime")
    assert "at most 1000" in (done.cause or "")


def test_a_runaway_jsonata_expression_is_an_evaluation_error() -> None:
    with pytest.raises(StatesError) as info:
        evaluate("($f := function($x){ $f($x + 1) }; $f(0))", {}, {}, field="Output")
    assert info.value.error == "States.QueryEvaluationError"


def test_a_definition_nested_too_deeply_is_refused_not_crashed_on() -> None:
    [deep] = validate_definition("[" * 50_000 + "]" * 50_000)
    assert (deep.code, deep.line) == ("TOO_DEEPLY_NESTED", 1)


def test_handler_logs_are_capped_and_its_processes_end_with_it(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import subprocess\n\n"
        "def handler(event, context):\n"
        "    if event.get('spawn'):\n"
        "        child = subprocess.Popen(['sleep', '300'])\n"
        "        open(event['spawn'], 'w').write(str(child.pid))\n"
        "        import time; time.sleep(30)\n"
        "    print('x' * 1_000_000)\n"
        "    return 1\n")
    with FunctionPool(FunctionSpec("f", tmp_path, "app.handler", timeout=3)) as pool:
        answer = pool.invoke({})
        assert answer.payload == 1
        assert len(answer.logs) < 300_000
        assert answer.logs.endswith("more characters of logs dropped]\n")
        marker = tmp_path / "child.pid"
        timed_out = pool.invoke({"spawn": str(marker)}, timeout=2)
        assert timed_out.error is not None
        assert timed_out.error["errorType"] == "Sandbox.Timedout"
    pid = int(marker.read_text())
    for _ in range(50):  # the child of the killed sandbox is gone too
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"process {pid} started by the handler outlived its sandbox")


def test_a_key_that_is_not_a_usable_name_is_an_item_reader_failure(tmp_path: Path) -> None:
    from sluice.workflows.local import Project, ProjectResources
    from tests.workflows.test_local import FILES

    class Config:
        project, functions, workflows, jobs = "p", {}, {}, {}

    (tmp_path / "objects").mkdir()
    project = Project(Config(), tmp_path, "dev", tmp_path / "objects",  # type: ignore[arg-type]
                      lambda job: {})
    resources = ProjectResources(project, VirtualClock())
    done = run_definition(FILES, {"key": "a\u0000b"}, resources=resources,
                          clock=VirtualClock())
    assert (done.status, done.error) == ("FAILED", "States.ItemReaderFailed")
    assert "not a usable name" in (done.cause or "")


def test_result_writer_parameters_read_the_state_input(tmp_path: Path) -> None:
    from sluice.workflows.local import Project, ProjectResources
    from tests.workflows.test_local import FILES

    class Config:
        project, functions, workflows, jobs = "p", {}, {}, {}

    objects = tmp_path / "objects"
    (objects / "in").mkdir(parents=True)
    (objects / "in" / "a.csv").write_text("id\n1\n")
    definition = json.loads(json.dumps(FILES))
    writer = definition["States"]["Each"]["ResultWriter"]["Parameters"]
    writer["Prefix.$"] = writer.pop("Prefix") and "$.out"
    project = Project(Config(), tmp_path, "dev", objects, lambda job: {})  # type: ignore[arg-type]
    done = run_definition(definition, {"key": "in/a.csv", "out": "runs/today"},
                          resources=ProjectResources(project, VirtualClock()),
                          clock=VirtualClock())
    assert done.status == "SUCCEEDED", done.to_dict()
    assert done.output["ResultWriterDetails"]["Key"].startswith("runs/today/")
