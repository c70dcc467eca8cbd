"""`sluice init --ci codepipeline`: the template lints clean for every source type, follows the
project's promotion order, runs the approval bridge with options the CLI really has, and
deploys to moto's CloudFormation (which creates the KMS key, topics, roles, policies, bucket
and log group; it has no AWS::CodePipeline::Pipeline, AWS::CodeBuild::Project or
AWS::S3::BucketPolicy and skips them)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice import __version__
from sluice.config import load_project
from sluice.project.codepipeline import BRIDGE, render, template
from tests.flow.conftest import cli_env
from tests.retail import copy_retail

SOURCES = ("CodeStarConnection", "CodeCommit", "S3")
PROD_ROLE = "arn:aws:iam::210987654321:role/sluice-deploy"


def _lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import sys; from cfnlint.runner import main; "
                           "sys.exit(main())", "--format", "parseable", *map(str, paths)],
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_template_lints_clean_for_every_source_type(tmp_path: Path) -> None:
    # cfn-lint resolves parameters by their defaults: one copy per source type
    paths = []
    for source in SOURCES:
        data = template(None)
        data["Parameters"]["SourceType"]["Default"] = source
        paths.append(tmp_path / f"{source}.json")
        paths[-1].write_text(json.dumps(data), encoding="utf-8")
    paths.append(tmp_path / "rendered.yml")
    paths[-1].write_text(render(None), encoding="utf-8")
    proc = _lint(*paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def _retail(tmp_path: Path) -> Path:
    root = tmp_path / "retail"
    copy_retail(root, spark=False)
    return root


def test_stages_follow_the_promotion_order_and_the_install_is_pinned(tmp_path: Path) -> None:
    cfg = load_project(_retail(tmp_path))
    data = template(cfg)
    stages = data["Resources"]["Pipeline"]["Properties"]["Stages"]
    assert [s["Name"] for s in stages] == ["Source", "Check", "Ship", "Deploy-prod"]
    prod = stages[-1]["Actions"]
    assert [(a["Name"], a["RunOrder"]) for a in prod] == [
        ("Approve", 1), ("RecordApproval", 2), ("Promote", 3)]
    assert "#{ShipVariables.SLUICE_RELEASE}" in prod[0]["Configuration"]["CustomData"]
    props = data["Resources"]["Pipeline"]["Properties"]
    assert props["PipelineType"] == "V2" and props["ExecutionMode"] == {"Ref": "ExecutionMode"}
    assert data["Parameters"]["ExecutionMode"]["Default"] == "QUEUED"
    assert props["ArtifactStore"]["EncryptionKey"]["Id"] == {
        "Fn::GetAtt": ["ArtifactKey", "Arn"]}
    assert {"ApprovalTopicArnProd", "DeployRoleArnDev", "DeployRoleArnStaging",
            "DeployRoleArnProd"} <= set(data["Parameters"])
    assert "ApprovalTopicArnStaging" not in data["Parameters"]  # staging is not protected
    ship = yaml.safe_load(data["Resources"]["ShipProject"]["Properties"]["Source"]["BuildSpec"])
    assert ship["env"]["exported-variables"] == ["SLUICE_RELEASE"]
    install = ship["phases"]["install"]["commands"]
    assert install == [f'pip install "sluice-cd[spark,check,aws]=={__version__}"']


def test_a_deploy_role_in_sluice_yaml_is_the_parameters_default(tmp_path: Path) -> None:
    root = _retail(tmp_path)
    config = root / "sluice.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["environments"]["prod"]["target"] = {"type": "aws", "region": "eu-west-1",
                                              "bucket": "retail-prod", "role_arn": PROD_ROLE}
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    params = template(load_project(root))["Parameters"]
    assert params["DeployRoleArnProd"]["Default"] == PROD_ROLE
    assert params["DeployRoleArnDev"]["Default"] == ""


def _approval_variables(data: dict[str, Any], pipeline: str) -> dict[str, str]:
    stage = data["Resources"]["Pipeline"]["Properties"]["Stages"][-1]
    action = next(a for a in stage["Actions"] if a["Name"] == "RecordApproval")
    assert action["Configuration"]["ProjectName"] == {"Ref": "ApprovalProject"}
    text = action["Configuration"]["EnvironmentVariables"]["Fn::Sub"]
    return {v["name"]: v["value"] for v in json.loads(text.replace("${PipelineName}", pipeline))}


def test_the_bridge_step_runs_sluice_approve_with_options_it_has() -> None:
    import typer

    from sluice.cli.app import app

    data = template(None)
    spec = yaml.safe_load(data["Resources"]["ApprovalProject"]["Properties"]["Source"]
                          ["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == [BRIDGE]
    variables = _approval_variables(data, "shop-sluice")
    assert variables["SLUICE_PIPELINE_EXECUTION"] == "#{codepipeline.PipelineExecutionId}"
    # what CodeBuild runs once CodePipeline resolved the execution id
    variables["SLUICE_PIPELINE_EXECUTION"] = "3137f7cb-7cf7-4f3b-9b4c-5fc9a1f0c1a2"
    argv = [_expand(a, variables) for a in shlex.split(BRIDGE)]
    assert argv[:2] == ["sluice", "approve"]
    group = typer.main.get_command(app)
    command = group.get_command(None, "approve")  # type: ignore[attr-defined,arg-type]
    ctx = command.make_context("approve", argv[2:])
    assert ctx.params["env"] == "prod"
    assert ctx.params["codepipeline"] == "shop-sluice:3137f7cb-7cf7-4f3b-9b4c-5fc9a1f0c1a2"
    assert ctx.params["approval_action"] == "Deploy-prod/Approve"
    from sluice.flow.codepipeline import parse_reference

    assert parse_reference(ctx.params["codepipeline"]) == (
        "shop-sluice", "3137f7cb-7cf7-4f3b-9b4c-5fc9a1f0c1a2")


def _expand(arg: str, variables: dict[str, str]) -> str:
    for name, value in sorted(variables.items(), key=lambda kv: -len(kv[0])):
        arg = arg.replace(f"${name}", value)
    return arg


def test_init_writes_the_pipeline_into_a_project(tmp_path: Path) -> None:
    root = _retail(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "sluice.cli", "init", ".", "--ci",
                           "codepipeline"], cwd=root, env=cli_env("alice"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    written = (root / "ci" / "codepipeline.yml").read_text(encoding="utf-8")
    assert written == render(load_project(root))
    assert "aws cloudformation deploy --template-file ci/codepipeline.yml" in written


@pytest.mark.aws
@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_the_template_deploys_to_moto(aws: str) -> None:
    import boto3

    cf = boto3.client("cloudformation", endpoint_url=aws)
    cf.create_stack(StackName="pipe", TemplateBody=render(None),
                    Capabilities=["CAPABILITY_NAMED_IAM"], Parameters=[
                        {"ParameterKey": "PipelineName", "ParameterValue": "shop"},
                        {"ParameterKey": "FullRepositoryId", "ParameterValue": "org/shop"},
                        {"ParameterKey": "DeployRoleArnProd", "ParameterValue": PROD_ROLE}])
    stack = cf.describe_stacks(StackName="pipe")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    created = {r["LogicalResourceId"] for r in
               cf.list_stack_resources(StackName="pipe")["StackResourceSummaries"]}
    assert {"ArtifactKey", "ArtifactBucket", "ApprovalTopicProd", "PipelineRole",
            "CodeBuildRole", "PipelinePolicy", "CodeBuildPolicy", "ConnectionPolicy",
            "DeployRolePolicyProd", "BuildLogs"} <= created
    assert "CodeCommitSourcePolicy" not in created and "SluiceSecretPolicy" not in created

    kms = boto3.client("kms", endpoint_url=aws)
    raw = kms.get_key_policy(KeyId=outputs["ArtifactKeyArn"], PolicyName="default")["Policy"]
    policy = raw if isinstance(raw, dict) else json.loads(raw)  # moto answers the object
    # moto keeps an AWS::NoValue in a list as null (CloudFormation drops it): dev, staging
    principals = [s["Principal"]["AWS"] for s in policy["Statement"] if s is not None]
    assert PROD_ROLE in principals
    s3 = boto3.client("s3", endpoint_url=aws)
    rule = s3.get_bucket_encryption(Bucket=outputs["ArtifactBucket"])[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms"
    iam = boto3.client("iam", endpoint_url=aws)
    build = iam.get_role_policy(RoleName="shop-codebuild", PolicyName="codebuild")
    actions = {a for s in build["PolicyDocument"]["Statement"] for a in s["Action"]}
    assert "codepipeline:ListActionExecutions" in actions
    assert "codepipeline:PutApprovalResult" not in actions  # the bridge cannot approve
    deploy = iam.get_role_policy(RoleName="shop-codebuild", PolicyName="deployroleprod")
    assert deploy["PolicyDocument"]["Statement"][0]["Resource"] == PROD_ROLE
    topics = boto3.client("sns", endpoint_url=aws).list_topics()["Topics"]
    assert outputs["ApprovalTopicProd"] in [t["TopicArn"] for t in topics]
    groups = boto3.client("logs", endpoint_url=aws).describe_log_groups(
        logGroupNamePrefix="/aws/codebuild/shop")["logGroups"]
    assert [g["retentionInDays"] for g in groups] == [30]
