"""Workflow definitions as the aws target deploys them: parameters substituted into JSON
string values (a quote in a value cannot break out), project names resolved to resources."""

from __future__ import annotations

import json
from pathlib import Path

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
