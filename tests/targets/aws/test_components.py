"""Workflow definitions as the aws target deploys them: parameters substituted into JSON
string values (a quote in a value cannot break out), project names resolved to resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sluice.config import load_project
from sluice.targets import create_target
from sluice.targets.aws.target import AwsTarget

pytestmark = pytest.mark.aws

CONFIG = """\
project: shop
datasets:
  marts.x: {}
jobs:
  load:
    type: pyspark
    script: jobs/load.py
    outputs: [marts.x]
functions:
  notify: {code: functions/notify.py, handler: notify.handler}
workflows:
  nightly: {definition: wf.json}
environments:
  dev:
    target: {type: aws, region: eu-west-1, bucket: shop-dev}
    parameters: {note: 'say "hi", "x": 1'}
"""
DEFINITION = {"StartAt": "Load", "States": {
    "Load": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
             "Parameters": {"JobName": "load", "Arguments": {"--note": "${note}"}},
             "Next": "Notify"},
    "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Parameters": {"FunctionName": "notify", "Payload": {"env": "${env}"}},
               "End": True}}}


def test_definition_values_are_substituted_and_names_resolved(aws: str, tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "load.py").write_text("")
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "notify.py").write_text("")
    (tmp_path / "sluice.yaml").write_text(CONFIG)
    (tmp_path / "wf.json").write_text(json.dumps(DEFINITION, indent=2))
    cfg = load_project(tmp_path, environment="dev")
    target = create_target("aws", "dev", tmp_path / ".sluice", region="eu-west-1",
                           bucket="shop-dev", endpoint_url=aws)
    assert isinstance(target, AwsTarget)
    states = json.loads(target.components().definition(cfg, tmp_path, "nightly"))["States"]
    assert states["Load"]["Parameters"] == {"JobName": "shop-dev-load",
                                            "Arguments": {"--note": 'say "hi", "x": 1'}}
    assert states["Notify"]["Parameters"] == {"FunctionName": "shop-dev-notify:live",
                                              "Payload": {"env": "dev"}}


GLUE_CONFIG = """\
project: shop
datasets:
  marts.persons: {}
jobs:
  persons:
    type: glue
    script: glue/persons.py
    outputs: [marts.persons]
    arguments: {--OUTPUT_PATH: "${output:marts.persons}", --MODE: fast}
workflows:
  nightly: {definition: wf.json}
environments:
  dev:
    target: {type: aws, region: eu-west-1, bucket: shop-dev,
             execution_role: "arn:aws:iam::123456789012:role/glue"}
"""


def test_a_glue_job_is_planned_applied_and_named_by_workflows(aws: str, tmp_path: Path) -> None:
    (tmp_path / "glue").mkdir()
    (tmp_path / "glue" / "persons.py").write_text("import sys\n")
    (tmp_path / "sluice.yaml").write_text(GLUE_CONFIG)
    (tmp_path / "wf.json").write_text(json.dumps({"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName": "persons"}, "End": True}}}))
    cfg = load_project(tmp_path, environment="dev")
    target = create_target("aws", "dev", tmp_path / ".sluice", region="eu-west-1",
                           bucket="shop-dev", endpoint_url=aws,
                           execution_role="arn:aws:iam::123456789012:role/glue")
    assert isinstance(target, AwsTarget)
    components = target.components()
    states = json.loads(components.definition(cfg, tmp_path, "nightly"))["States"]
    assert states["Run"]["Parameters"] == {"JobName": "shop-dev-persons"}

    def glue_action(changes: list[Any]) -> str:
        (action,) = [c.action for c in changes if c.kind == "glue_job"]
        return str(action)

    assert glue_action(components.plan(cfg, tmp_path)) == "create"
    journal: list[tuple[str, dict[str, Any]]] = []
    components.apply(cfg, tmp_path, lambda step, detail: journal.append((step, detail)))
    job = target.aws.client("glue").get_job(JobName="shop-dev-persons")["Job"]
    script = job["Command"]["ScriptLocation"]
    assert script.startswith("s3://shop-dev/sluice/scripts/") and script.endswith("/persons.py")
    assert ("component:glue_job:persons", {"changed": True, "script": script}) in journal
    assert job["DefaultArguments"] == {"--job-language": "python", "--MODE": "fast"}
    launcher = target.aws.client("s3").list_objects_v2(Bucket="shop-dev", Prefix="sluice/")
    assert not [o for o in launcher["Contents"] if "launcher" in o["Key"]]  # none uploaded
    assert glue_action(components.plan(cfg, tmp_path)) == "none"
    (tmp_path / "glue" / "persons.py").write_text("import sys  # v2\n")
    assert glue_action(components.plan(cfg, tmp_path)) == "update"
