"""A project's workflow on the local target: Task states resolved to its Glue jobs, Lambda
functions and workflows, the rest to its mocks; a distributed Map over the environment's
object store. The Glue job itself is stood in by a recorder here (tests/flow/test_story.py
runs the real one, Spark and write-audit-publish included)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sluice.config import load_project
from sluice.errors import SluiceError
from sluice.workflows.clock import VirtualClock
from sluice.workflows.local import Project, ProjectResources, run_workflow_definition

CONFIG = """\
project: shop
sources:
  raw.persons: {format: json, path: persons/*.json}
datasets:
  curated.persons: {}
jobs:
  persons:
    type: glue
    script: glue/persons.py
    inputs: [raw.persons]
    outputs: [curated.persons]
    arguments: {--OUTPUT_PATH: "${output:curated.persons}"}
functions:
  score:
    code: functions/score.py
    handler: score.handler
    environment: {FACTOR: "${factor}"}
workflows:
  parent:
    definition: workflows/parent.asl.json
    mocks:
      Announce: [{return: {MessageId: "m-1"}}]
  child:
    definition: workflows/child.asl.json
  files:
    definition: workflows/files.asl.json
environments:
  dev: {target: {type: local}, parameters: {factor: "3"}}
"""
SCORE = """\
import os

def handler(event, context):
    if event.get("boom"):
        raise RuntimeError("no score for " + str(event["boom"]))
    return {"score": event["n"] * int(os.environ["FACTOR"])}
"""
PARENT = {
    "StartAt": "Refresh",
    "States": {
        "Refresh": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                    "Parameters": {"JobName": "persons"},
                    "ResultSelector": {"state.$": "$.JobRunState"}, "ResultPath": "$.glue",
                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                               "Next": "Broken"}],
                    "Next": "Score"},
        "Score": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "shop-dev-score", "Payload": {"n.$": "$.n"}},
                  "ResultSelector": {"score.$": "$.Payload.score"}, "ResultPath": "$.scored",
                  "Next": "Child"},
        "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                  "Parameters": {"StateMachineArn": "child", "Input": {"n.$": "$.scored.score"}},
                  "ResultSelector": {"output.$": "$.Output", "status.$": "$.Status"},
                  "ResultPath": "$.child", "Next": "Announce"},
        "Announce": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                     "Parameters": {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:t",
                                    "Message": "done"},
                     "ResultPath": "$.sns", "End": True},
        "Broken": {"Type": "Fail", "Error": "Refresh", "CausePath": "$.error.Cause"},
    },
}
CHILD = {
    "StartAt": "Again",
    "States": {
        "Again": {"Type": "Task",
                  "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:score",
                  "End": True},
    },
}
FILES = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "CSV",
                                            "CSVHeaderLocation": "FIRST_ROW"},
                           "Parameters": {"Bucket": "any", "Key.$": "$.key"}},
            "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"tag": "b"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Count",
                "States": {"Count": {"Type": "Pass", "Parameters": {
                    "n.$": "States.ArrayLength($.Items)", "tag.$": "$.tag"}, "End": True}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": "any", "Prefix": "results"}},
            "End": True,
        },
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Project, list[str]]]:
    files = {"sluice.yaml": CONFIG, "glue/persons.py": "import sys\n",
             "functions/score.py": SCORE, "workflows/parent.asl.json": json.dumps(PARENT),
             "workflows/child.asl.json": json.dumps(CHILD),
             "workflows/files.asl.json": json.dumps(FILES)}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    runs: list[str] = []

    def run_job(name: str) -> Mapping[str, Any]:
        runs.append(name)
        if name == "persons" and (tmp_path / "fail").exists():
            raise SluiceError("audit of curated.persons failed: 2 rows break the contract")
        return {"curated.persons": "v1"}

    objects = tmp_path / "objects"
    objects.mkdir()
    config = load_project(tmp_path, environment="dev")
    yield Project(config, tmp_path, "dev", objects, run_job), runs


def run(project: Project, name: str, given: Any) -> Any:
    clock = VirtualClock()
    resources = ProjectResources(project, clock)
    try:
        return run_workflow_definition(project, name, given, resources, clock)
    finally:
        resources.close()


def test_tasks_run_the_projects_job_function_and_workflow(
        project: tuple[Project, list[str]]) -> None:
    proj, runs = project
    done = run(proj, "parent", {"n": 2})
    assert done.status == "SUCCEEDED", done.to_dict()
    assert runs == ["persons"]
    assert done.output == {"n": 2, "glue": {"state": "SUCCEEDED"}, "scored": {"score": 6},
                           "child": {"output": {"score": 18}, "status": "SUCCEEDED"},
                           "sns": {"MessageId": "m-1"}}
    assert done.states == ["Refresh", "Score", "Child", "Announce"]


def test_a_failed_job_is_a_task_failure_the_workflow_can_catch(
        project: tuple[Project, list[str]]) -> None:
    proj, _ = project
    (proj.release_dir / "fail").touch()
    done = run(proj, "parent", {"n": 2})
    assert (done.status, done.error) == ("FAILED", "Refresh")
    cause = json.loads(done.cause or "")
    assert cause["JobRunState"] == "FAILED"
    assert cause["ErrorMessage"] == "audit of curated.persons failed: 2 rows break the contract"


def test_a_function_error_is_its_error_type_and_payload(
        project: tuple[Project, list[str]]) -> None:
    proj, _ = project
    done = run(proj, "child", {"boom": "x"})
    assert (done.status, done.error) == ("FAILED", "RuntimeError")
    assert json.loads(done.cause or "")["errorMessage"] == "no score for x"


def test_an_unmocked_resource_fails_naming_it_and_no_catch_hides_it(
        project: tuple[Project, list[str]]) -> None:
    proj, _ = project
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "t", "Item": {}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Swallow"}], "End": True},
        "Swallow": {"Type": "Succeed"}}}
    (proj.release_dir / "workflows" / "child.asl.json").write_text(json.dumps(definition))
    done = run(proj, "child", {})
    assert (done.status, done.error) == ("FAILED", "Sluice.UnmockedResource")
    assert "state 'Put' calls arn:aws:states:::dynamodb:putItem" in (done.cause or "")
    assert "workflows.<name>.mocks" in (done.cause or "")


def test_a_distributed_map_reads_and_writes_the_object_store(
        project: tuple[Project, list[str]]) -> None:
    proj, _ = project
    (proj.objects / "in").mkdir()
    (proj.objects / "in" / "people.csv").write_text("id,name\n1,a\n2,b\n3,c\n")
    done = run(proj, "files", {"key": "in/people.csv"})
    assert done.status == "SUCCEEDED", done.to_dict()
    manifest_key = done.output["ResultWriterDetails"]["Key"]
    manifest = json.loads((proj.objects / manifest_key).read_text())
    [written] = manifest["ResultFiles"]["SUCCEEDED"]
    results = json.loads((proj.objects / written["Key"]).read_text())
    assert [json.loads(r["Output"]) for r in results] == [{"n": 2, "tag": "b"},
                                                          {"n": 1, "tag": "b"}]
    assert json.loads(results[0]["Input"])["Items"] == [{"id": "1", "name": "a"},
                                                        {"id": "2", "name": "b"}]


def test_an_item_reader_cannot_leave_the_object_store(
        project: tuple[Project, list[str]]) -> None:
    proj, _ = project
    (proj.release_dir / "secret.csv").write_text("a\n1\n")
    done = run(proj, "files", {"key": "../secret.csv"})
    assert (done.status, done.error) == ("FAILED", "States.ItemReaderFailed")
    assert "leaves the environment's object store" in (done.cause or "")


def test_a_mock_answer_that_is_neither_return_nor_throw_is_a_located_error(
        tmp_path: Path) -> None:
    from sluice.errors import ConfigError

    (tmp_path / "sluice.yaml").write_text(CONFIG.replace(
        '      Announce: [{return: {MessageId: "m-1"}}]', "      Announce: [{delay: 5}]"))
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, environment="dev")
    assert info.value.message.startswith("sluice.yaml:22:18: workflows.parent.mocks.Announce[0]: ")
    assert "a mock answer is either {return: VALUE} or {throw: {error: NAME, cause: TEXT}}" \
        in info.value.message


@pytest.mark.parametrize(("code", "handler", "message"), [
    ("functions/scor.py", "score.handler", "functions.score.code: file not found: "
                                           "'functions/scor.py'; did you mean "
                                           "'functions/score.py'?"),
    ("functions/score.py", "scores.handler", "functions.score.handler: handler "
                                             "'scores.handler' names module 'scores', but "
                                             "the code is the one file 'functions/score.py' "
                                             "(module 'score'): write score.handler"),
    ("functions", "app.handler", "functions.score.handler: handler 'app.handler': no module "
                                 "'app' in 'functions' (expected functions/app.py)"),
    ("functions/score.py", "handler", "functions.score.handler: handler 'handler' is not "
                                      "module.function (e.g. app.handler)"),
])
def test_a_function_whose_code_or_handler_is_missing_is_refused_at_its_line(
        project: tuple[Project, list[str]], code: str, handler: str, message: str) -> None:
    from sluice.config.loader import check_files
    from sluice.errors import ConfigError

    proj, _ = project
    config = (proj.release_dir / "sluice.yaml")
    config.write_text(CONFIG.replace("code: functions/score.py", f"code: {code}").replace(
        "handler: score.handler", f"handler: {handler}"))
    with pytest.raises(ConfigError) as info:
        check_files(load_project(proj.release_dir, environment="dev"), proj.release_dir)
    assert message in info.value.message
    assert "sluice.yaml:1" in info.value.message
