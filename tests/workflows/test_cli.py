"""`sluice run ENV --workflow NAME` on the local target and `sluice invoke ENV FUNCTION`,
through the real CLI, on a small project (no Spark: its workflow calls a function, a mock
and a nested workflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.flow.conftest import Project

CONFIG = """\
project: tiny
sources:
  raw.items: {format: csv, path: items/*.csv}
datasets:
  staging.items: {}
jobs:
  items:
    type: sql
    sql: jobs/items.sql
    output: staging.items
functions:
  double:
    code: functions/double.py
    handler: double.handler
    environment: {FACTOR: "${factor}"}
    timeout: 2
workflows:
  main:
    definition: workflows/main.asl.json
    mocks:
      Publish: [{throw: {error: SNS.Throttled, cause: slow down}}, {return: {MessageId: m}}]
  inner:
    definition: workflows/inner.asl.json
environments:
  dev: {target: {type: local}, parameters: {factor: "2"}}
"""
DOUBLE = """\
import os
import time

def handler(event, context):
    if "sleep" in event:
        time.sleep(event["sleep"])
    print("doubling", event["n"])
    return {"n": event["n"] * int(os.environ["FACTOR"])}
"""
MAIN = {
    "StartAt": "Double",
    "States": {
        "Double": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "double", "Payload.$": "$"},
                   "OutputPath": "$.Payload", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:t",
                                   "Message.$": "States.Format('n={}', $.n)"},
                    "Retry": [{"ErrorEquals": ["SNS.Throttled"], "IntervalSeconds": 60}],
                    "ResultPath": "$.sns", "Next": "Inner"},
        "Inner": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                  "Parameters": {"StateMachineArn": "inner", "Input.$": "$"},
                  "OutputPath": "$.Output", "End": True},
    },
}
INNER = {"StartAt": "Again", "States": {"Again": {
    "Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:double",
    "End": True}}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("tiny")
    files = {"sluice.yaml": CONFIG, "jobs/items.sql": "SELECT * FROM raw.items\n",
             "data/items/a.csv": "id,n\n1,2\n", "functions/double.py": DOUBLE,
             "workflows/main.asl.json": json.dumps(MAIN, indent=2),
             "workflows/inner.asl.json": json.dumps(INNER, indent=2)}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    project = Project(root)
    project.init_git()
    project.ok("release")
    project.ok("load", "dev", "data")
    project.ok("deploy", "dev")
    return project


def test_a_local_workflow_run_as_json(tiny: Project) -> None:
    run = tiny.json("run", "dev", "--workflow", "main", "--input", '{"n": 3}', "--fast-waits")
    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"n": 12}  # doubled, then doubled again by the nested workflow
    assert run["states"] == ["Double", "Wait", "Publish", "Inner"]
    assert (run["error"], run["cause"], run["workflow"], run["env"]) == (None, None, "main",
                                                                          "dev")
    assert run["seconds"] < 600  # the hour's wait and the retry's delay took no time


def test_the_input_comes_from_a_file_and_the_text_output_names_the_path(
        tiny: Project, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"n": 1}')
    run = tiny.ok("run", "dev", "--workflow", "main", "--input", f"@{event}", "--fast-waits")
    assert "dev: workflow main SUCCEEDED" in run.out
    assert "states: Double → Wait → Publish → Inner" in run.out
    assert '"n": 4' in run.out


def test_a_failed_execution_exits_1_with_its_error(tiny: Project) -> None:
    failed = tiny.sluice("run", "dev", "--workflow", "inner", "--input", '{"m": 1}', "--json")
    assert failed.code == 1
    result = json.loads(failed.out)
    assert (result["status"], result["error"]) == ("FAILED", "KeyError")
    assert json.loads(result["cause"])["errorMessage"] == "'n'"


@pytest.mark.parametrize(("args", "error"), [
    (("--input", "{nope"), "Error: --input: not JSON: Expecting property name enclosed in "
                           "double quotes at line 1 column 2"),
    (("--input", "@missing.json"), "Error: --input @missing.json: cannot read missing.json "
                                   "(FileNotFoundError)"),
])
def test_bad_input_is_a_usage_error(tiny: Project, args: tuple[str, ...], error: str) -> None:
    bad = tiny.sluice("run", "dev", "--workflow", "main", *args)
    assert (bad.code, bad.error) == (2, error)


def test_an_unknown_workflow_is_named(tiny: Project) -> None:
    bad = tiny.sluice("run", "dev", "--workflow", "mian")
    assert bad.code == 1
    assert bad.error.startswith("Error: release ") and "has no workflow 'mian'" in bad.error
    assert bad.tip == "Tip: workflows: inner, main"


def test_input_without_a_workflow_is_refused(tiny: Project) -> None:
    bad = tiny.sluice("run", "dev", "--input", "{}")
    assert (bad.code, bad.error) == (2, "Error: --input and --fast-waits are options of a "
                                        "workflow's run")


def test_invoke_prints_the_result_and_the_logs(tiny: Project) -> None:
    done = tiny.ok("invoke", "dev", "double", "--event", '{"n": 5}')
    assert json.loads(done.out) == {"n": 10}
    assert "doubling 5" in done.err and "double returned" in done.err
    as_json = tiny.json("invoke", "dev", "double", "--event", '{"n": 1}')
    assert (as_json["payload"], as_json["error"], as_json["logs"]) == ({"n": 2}, None,
                                                                       "doubling 1\n")


def test_invoke_of_a_failing_function_prints_lambdas_error_and_exits_1(tiny: Project) -> None:
    failed = tiny.sluice("invoke", "dev", "double", "--event", "{}")
    assert failed.code == 1
    error = json.loads(failed.out)
    assert (error["errorType"], error["errorMessage"]) == ("KeyError", "'n'")
    timed_out = tiny.sluice("invoke", "dev", "double", "--event", '{"n": 1, "sleep": 30}',
                            "--json")
    assert timed_out.code == 1
    assert json.loads(timed_out.out)["error"]["errorType"] == "Sandbox.Timedout"
