"""Packaged stacks on moto: a template whose Lambda code is a local folder and whose nested
stack is a local template is packaged once into the release; dev and prod deploy the same
bytes from the same content-addressed key, and plan and deploy read the packaged template."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from sluice.deploy.deployer import deploy, plan_deploy
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace
from sluice.release import Manifest
from tests.release.conftest import Repo

pytestmark = pytest.mark.aws

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "ingest-${AWS::StackName}"
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Action: "sts:AssumeRole",
                                              Principal: {Service: lambda.amazonaws.com}}]}
  Ingest:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-ingest"
      Code: ./src
      Handler: app.handler
      Runtime: python3.11
      Role: !GetAtt Role.Arn
  Storage:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: nested/storage.json
      Parameters: {Name: !Sub "${AWS::StackName}-landing"}
"""
NESTED = {"Parameters": {"Name": {"Type": "String"}},
          "Resources": {"Landing": {"Type": "AWS::S3::Bucket",
                                    "Properties": {"BucketName": {"Ref": "Name"}}}}}


def config(endpoint: str) -> str:
    envs = "\n".join(
        f"  {env}:\n    target: {json.dumps({'type': 'aws', 'region': 'eu-west-1', 'bucket': f'shop-{env}', 'endpoint_url': endpoint})}"  # noqa: E501
        for env in ("dev", "prod"))
    return f"project: shop\nstacks:\n  ingest: {{template: infra/ingest.yaml}}\n" \
           f"environments:\n{envs}\npromotion: [dev, prod]\n"


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1")


def stack_plan(ws: Workspace, manifest: Manifest) -> dict[str, Any]:
    plan, _, _ = plan_deploy(ws, "dev", manifest, components=True, read_only=True)
    (stack,) = [c for c in plan.components or [] if c["kind"] == "stack"]
    return dict(stack)


def test_a_stack_is_packaged_once_and_every_environment_deploys_the_same_key(
        aws: str, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    repo.write("sluice.yaml", config(aws))
    repo.write("infra/ingest.yaml", TEMPLATE)
    repo.write("infra/src/app.py", "def handler(event, context):\n    return 'ok'\n")
    repo.write("infra/nested/storage.json", json.dumps(NESTED, indent=2))
    repo.commit("init")
    ws = Workspace.open(repo.root)
    try:
        manifest, _ = make_release(ws)
        (zip_asset,) = [p for p in manifest.files
                        if p.startswith("_sluice_build/assets/") and p.endswith(".zip")]
        zip_digest = manifest.files[zip_asset]
        before = stack_plan(ws, manifest)
        assert before["action"] == "create"
        assert sorted(before["details"]) == ["Add Ingest (AWS::Lambda::Function)",
                                             "Add Role (AWS::IAM::Role)",
                                             "Add Storage (AWS::CloudFormation::Stack)"]
        for env in ("dev", "prod"):
            deploy(ws, env, manifest.id, actor="ann")
        # the same release again: the resolved template is the one running, no change set
        assert stack_plan(ws, manifest)["action"] == "none"
    finally:
        ws.close()

    s3, lam, cfn = client(aws, "s3"), client(aws, "lambda"), client(aws, "cloudformation")
    key = f"sluice/assets/{zip_digest}.zip"
    for env in ("dev", "prod"):
        body = s3.get_object(Bucket=f"shop-{env}", Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == zip_digest  # the release's bytes
        assets = [o["Key"] for o in s3.list_objects_v2(
            Bucket=f"shop-{env}", Prefix="sluice/assets/")["Contents"]]
        assert assets == [key]  # uploaded once
        function = lam.get_function(FunctionName=f"shop-{env}-ingest-ingest")
        assert function["Configuration"]["CodeSha256"]  # made from the uploaded zip
        # the deployed template names the artifact bucket and key, no placeholder is left
        body_text = cfn.get_template(StackName=f"shop-{env}-ingest")["TemplateBody"]
        text = body_text if isinstance(body_text, str) else json.dumps(body_text)
        assert "%%sluice" not in text and key in text and f"shop-{env}" in text
        # the nested stack came from its packaged template, uploaded as a template
        assert f"shop-{env}-ingest-landing" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        nested = s3.list_objects_v2(Bucket=f"shop-{env}", Prefix="sluice/templates/")
        assert len(nested["Contents"]) == 1
