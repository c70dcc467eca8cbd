"""``sluice init --ci codepipeline``: a CloudFormation template of an AWS CodePipeline (V2)
around sluice (docs/codepipeline.md).

Source (a CodeStar connection, CodeCommit or S3, chosen by a parameter) → Check (``sluice
check``) → Ship (``sluice ship``: release, deploy the first environments, stop at the first
approval; it exports ``SLUICE_RELEASE``) → one stage per later environment of the promotion
order: for a protected one a manual approval (its SNS topic notified), then the approval
bridge (``sluice approve ENV --codepipeline …``), then ``sluice promote``. With the artifact
bucket and its policy, a KMS key, least-privilege roles, a log group and optional
cross-account deploy roles per environment.

The template is data (dicts of CloudFormation's JSON forms) dumped as YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from sluice.config import ProjectConfig
from sluice.errors import UsageError

PATH = "ci/codepipeline.yml"
#: the environments and the protected one of a template written outside a project
DEFAULT_ORDER = ("dev", "staging", "prod")
DEFAULT_PROTECTED = ("prod",)

NO_VALUE = {"Ref": "AWS::NoValue"}
_KMS_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
            "kms:DescribeKey"]


@dataclass(frozen=True)
class EnvStage:
    """An environment the pipeline reaches, and how."""

    env: str
    upstream: str | None  # promoted from (None: deployed by the ship action)
    protected: bool
    role_arn: str  # the cross-account deploy role sluice.yaml names ("" if none)

    @property
    def key(self) -> str:
        """The environment's name in logical ids and parameter names (``prod-eu`` → ProdEu)."""
        return "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", self.env) if p)

    @property
    def stage(self) -> str:
        return f"Deploy-{self.env}"

    @property
    def approval_action(self) -> str:
        """``STAGE/ACTION`` of the manual approval: what the bridge is told to read."""
        return f"{self.stage}/Approve"


def environments(cfg: ProjectConfig | None) -> list[EnvStage]:
    """The promotion order as stages: from ``cfg``, else dev → staging → prod (prod
    protected)."""
    if cfg is None:
        order, protected, roles = list(DEFAULT_ORDER), set(DEFAULT_PROTECTED), {}
    else:
        order = cfg.promotion_order()
        protected = {e for e in order if cfg.environment(e).protection.approval_required}
        roles = {e: getattr(cfg.environment(e).target, "role_arn", None) or "" for e in order}
    first_protected = next((i for i, e in enumerate(order) if e in protected), len(order))
    stages = [EnvStage(e, None if i < first_protected else order[i - 1], e in protected,
                       roles.get(e, "")) for i, e in enumerate(order)]
    keys = [s.key for s in stages]
    clash = sorted({k for k in keys if keys.count(k) > 1})
    if clash or "" in keys:
        raise UsageError(f"environments {', '.join(s.env for s in stages if s.key in clash)} "
                         "share a name in the template's logical ids",
                         tip="rename one of them in sluice.yaml")
    return stages


# ------------------------------------------------------------------ intrinsic functions


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def arn(resource: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, "Arn"]}


def when(condition: str, value: Any, otherwise: Any = NO_VALUE) -> dict[str, Any]:
    return {"Fn::If": [condition, value, otherwise]}


def _not_empty(param: str) -> dict[str, Any]:
    return {"Fn::Not": [{"Fn::Equals": [ref(param), ""]}]}


def _statement(sid: str, actions: list[str], resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}}]}


# ------------------------------------------------------------------ parameters


def _parameters(stages: list[EnvStage], project: str) -> dict[str, Any]:
    text = {"Type": "String"}
    params: dict[str, Any] = {
        "PipelineName": {**text, "Default": f"{project}-sluice", "MaxLength": 40,
                         "AllowedPattern": "[A-Za-z0-9][A-Za-z0-9_-]*",
                         "Description": "The pipeline's name; its roles, projects and log "
                                        "group are named after it"},
        "ExecutionMode": {**text, "Default": "QUEUED",
                          "AllowedValues": ["QUEUED", "SUPERSEDED", "PARALLEL"],
                          "Description": "How executions share the pipeline (CodePipeline V2)"},
        "SourceType": {**text, "Default": "CodeStarConnection",
                       "AllowedValues": ["CodeStarConnection", "CodeCommit", "S3"]},
        "ConnectionArn": {**text, "Default": "", "Description": "SourceType "
                          "CodeStarConnection: the connection (GitHub, GitLab, Bitbucket)"},
        "FullRepositoryId": {**text, "Default": "", "Description": "SourceType "
                             "CodeStarConnection: owner/repository"},
        "BranchName": {**text, "Default": "main"},
        "CodeCommitRepository": {**text, "Default": project, "Description": "SourceType "
                                 "CodeCommit: the repository's name"},
        "SourceBucket": {**text, "Default": f"{project}-source", "Description": "SourceType "
                         "S3: a versioned bucket with EventBridge notifications on"},
        "SourceObjectKey": {**text, "Default": "source.zip", "Description": "SourceType S3: "
                            "a zip of the repository, .git included"},
        "SluiceServerUrl": {**text, "Default": "", "Description": "Team mode: the sluice "
                            "server (SLUICE_SERVER); empty: a shared state store"},
        "SluiceSecretArn": {**text, "Default": "", "Description": "A Secrets Manager secret "
                            "with SLUICE_TOKEN (team mode) or SLUICE_STATE_URL"},
        "BuildImage": {**text, "Default": "aws/codebuild/standard:7.0"},
        "LogRetentionDays": {"Type": "Number", "Default": 30,
                             "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 180, 365]},
    }
    for s in stages:
        params[f"DeployRoleArn{s.key}"] = {
            **text, "Default": s.role_arn,
            "Description": f"{s.env}: the role sluice assumes in the environment's account "
                           "(target.role_arn in sluice.yaml); empty: this account"}
        if s.protected:
            params[f"ApprovalTopicArn{s.key}"] = {
                **text, "Default": "", "Description": f"{s.env}: the SNS topic approvers "
                "are notified on; empty: the stack creates one"}
    return params


def _conditions(stages: list[EnvStage]) -> dict[str, Any]:
    conds: dict[str, Any] = {
        f"Use{name}": {"Fn::Equals": [ref("SourceType"), kind]}
        for name, kind in (("Connection", "CodeStarConnection"), ("CodeCommit", "CodeCommit"),
                           ("S3", "S3"))}
    conds |= {
        "UseEvents": {"Fn::Or": [{"Condition": "UseCodeCommit"}, {"Condition": "UseS3"}]},
        "TeamMode": _not_empty("SluiceServerUrl"),
        "HasSecret": _not_empty("SluiceSecretArn"),
    }
    for s in stages:
        conds[f"HasDeployRole{s.key}"] = _not_empty(f"DeployRoleArn{s.key}")
        if s.protected:
            conds[f"CreateTopic{s.key}"] = {"Fn::Equals": [ref(f"ApprovalTopicArn{s.key}"), ""]}
    return conds


# ------------------------------------------------------------------ storage and keys

PIPELINE_ARN = sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:"
                   "${PipelineName}")
BUCKET_OBJECTS = sub("${ArtifactBucket.Arn}/*")


def _deploy_roles(stages: list[EnvStage], make: Any) -> list[Any]:
    """``make(stage)`` for each environment, present only when its deploy role is set."""
    return [when(f"HasDeployRole{s.key}", make(s)) for s in stages]


def _storage(stages: list[EnvStage]) -> dict[str, Any]:
    def reader(s: EnvStage) -> dict[str, Any]:
        return _statement(f"DeployRead{s.key}", ["s3:GetObject", "s3:GetObjectVersion"],
                          BUCKET_OBJECTS, Principal={"AWS": ref(f"DeployRoleArn{s.key}")})

    def decrypter(s: EnvStage) -> dict[str, Any]:
        return _statement(f"DeployDecrypt{s.key}", ["kms:Decrypt", "kms:DescribeKey"], "*",
                          Principal={"AWS": ref(f"DeployRoleArn{s.key}")})

    retain = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return {
        "ArtifactKey": {"Type": "AWS::KMS::Key", **retain, "Properties": {
            "Description": sub("${PipelineName}: pipeline artifacts"),
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                # lets the account's IAM policies grant the key (and keeps it manageable)
                _statement("AccountAdministers", ["kms:*"], "*",
                           Principal={"AWS": sub("arn:${AWS::Partition}:iam::"
                                                 "${AWS::AccountId}:root")}),
                _statement("PipelineAndBuildsUseIt", _KMS_USE, "*", Principal={
                    "AWS": [arn("PipelineRole"), arn("CodeBuildRole")]}),
                *_deploy_roles(stages, decrypter)]}}},
        "ArtifactKeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": sub("alias/${PipelineName}-artifacts"),
            "TargetKeyId": ref("ArtifactKey")}},
        "ArtifactBucket": {"Type": "AWS::S3::Bucket", **retain, "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                  "KMSMasterKeyID": arn("ArtifactKey")},
                "BucketKeyEnabled": True}]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"}}},
        "ArtifactBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": ref("ArtifactBucket"),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                 "Action": "s3:*", "Resource": [arn("ArtifactBucket"), BUCKET_OBJECTS],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                *_deploy_roles(stages, reader)]}}},
        "BuildLogs": {"Type": "AWS::Logs::LogGroup", **retain, "Properties": {
            "LogGroupName": sub("/aws/codebuild/${PipelineName}"),
            "RetentionInDays": ref("LogRetentionDays")}},
    }


def _topics(stages: list[EnvStage]) -> dict[str, Any]:
    return {f"ApprovalTopic{s.key}": {
        "Type": "AWS::SNS::Topic", "Condition": f"CreateTopic{s.key}",
        "Properties": {"TopicName": sub(f"${{PipelineName}}-approve-{s.env}"),
                       "DisplayName": f"sluice: approvals for {s.env}"}}
        for s in stages if s.protected}


def topic_of(s: EnvStage) -> dict[str, Any]:
    return when(f"CreateTopic{s.key}", ref(f"ApprovalTopic{s.key}"),
                ref(f"ApprovalTopicArn{s.key}"))


# ------------------------------------------------------------------ roles


PROJECTS = ("check", "ship", "approval", "promote")  # named ${PipelineName}-<name>


def _roles(stages: list[EnvStage]) -> dict[str, Any]:
    artifacts = [_statement("Artifacts", ["s3:GetObject", "s3:GetObjectVersion",
                                          "s3:PutObject"], BUCKET_OBJECTS),
                 _statement("ArtifactBucket", ["s3:GetBucketVersioning", "s3:GetBucketLocation",
                                               "s3:ListBucket"], arn("ArtifactBucket")),
                 _statement("ArtifactKey", _KMS_USE, arn("ArtifactKey"))]
    # the account's connections, for this repository only (the condition keys of
    # UseConnection); naming ConnectionArn would not lint with its empty default
    connection = [_statement(
        f"UseConnection{n}", [f"{service}:UseConnection"],
        sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:"
            "connection/*"),
        Condition={"StringEquals": {f"{service}:FullRepositoryId": ref("FullRepositoryId")}})
        for n, service in enumerate(("codestar-connections", "codeconnections"))]
    codecommit = sub("arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:"
                     "${CodeCommitRepository}")
    builds = [sub(f"arn:${{AWS::Partition}}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:"
                  f"project/${{PipelineName}}-{p}") for p in PROJECTS]
    topics = [topic_of(s) for s in stages if s.protected]
    pipeline = [*artifacts, _statement("RunBuilds", ["codebuild:StartBuild",
                                                     "codebuild:BatchGetBuilds"], builds)]
    if topics:
        pipeline.append(_statement("NotifyApprovers", ["sns:Publish"], topics))
    build = [*artifacts,
             _statement("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                        sub("${BuildLogs.Arn}")),
             _statement("CheckReports", ["codebuild:CreateReportGroup", "codebuild:CreateReport",
                                         "codebuild:UpdateReport",
                                         "codebuild:BatchPutTestCases"],
                        sub("arn:${AWS::Partition}:codebuild:${AWS::Region}:"
                            "${AWS::AccountId}:report-group/${PipelineName}-check-*")),
             # the bridge reads approvals; nothing here may give one (PutApprovalResult)
             _statement("ReadApprovals", ["codepipeline:ListActionExecutions",
                                          "codepipeline:GetPipelineExecution"], PIPELINE_ARN)]
    both = ["PipelineRole", "CodeBuildRole"]
    # what only some sources or settings need: one policy each, present under its condition
    conditional = {
        "ConnectionPolicy": ("UseConnection", both, connection),
        "CodeCommitSourcePolicy": ("UseCodeCommit", ["PipelineRole"], [_statement(
            "CodeCommitSource", ["codecommit:GetBranch", "codecommit:GetCommit",
                                 "codecommit:UploadArchive", "codecommit:GetUploadArchiveStatus",
                                 "codecommit:CancelUploadArchive"], codecommit)]),
        "CodeCommitClonePolicy": ("UseCodeCommit", ["CodeBuildRole"], [_statement(
            "CodeCommitClone", ["codecommit:GitPull"], codecommit)]),
        "S3SourcePolicy": ("UseS3", ["PipelineRole"], [_statement(
            "S3Source", ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning"],
            [sub("arn:${AWS::Partition}:s3:::${SourceBucket}"),
             sub("arn:${AWS::Partition}:s3:::${SourceBucket}/${SourceObjectKey}")])]),
        "SluiceSecretPolicy": ("HasSecret", ["CodeBuildRole"], [_statement(
            "SluiceSecret", ["secretsmanager:GetSecretValue"], ref("SluiceSecretArn"))]),
        **{f"DeployRolePolicy{s.key}": (f"HasDeployRole{s.key}", ["CodeBuildRole"], [_statement(
            f"AssumeDeployRole{s.key}", ["sts:AssumeRole"], ref(f"DeployRoleArn{s.key}"))])
           for s in stages}}
    policies = {name: {"Type": "AWS::IAM::Policy", "Condition": cond, "Properties": {
        "PolicyName": name.replace("Policy", "").lower(), "Roles": [ref(r) for r in roles],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}
        for name, (cond, roles, statements) in conditional.items()}
    return {
        **_service_role("Pipeline", "pipeline", "codepipeline.amazonaws.com", pipeline),
        **_service_role("CodeBuild", "codebuild", "codebuild.amazonaws.com", build),
        "SourceEventsRole": {"Type": "AWS::IAM::Role", "Condition": "UseEvents", "Properties": {
            "AssumeRolePolicyDocument": _trust("events.amazonaws.com"),
            "Policies": [{"PolicyName": "start-pipeline", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [_statement(
                    "StartPipeline", ["codepipeline:StartPipelineExecution"],
                    PIPELINE_ARN)]}}]}},
        **policies,
    }


def _service_role(key: str, name: str, service: str,
                  statements: list[Any]) -> dict[str, Any]:
    """``<key>Role`` (named ``<PipelineName>-<name>``) and its policy ``<key>Policy``: apart,
    so that the KMS key's policy can name the role before the policy names the key."""
    return {
        f"{key}Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": sub(f"${{PipelineName}}-{name}"),
            "AssumeRolePolicyDocument": _trust(service)}},
        f"{key}Policy": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": name, "Roles": [ref(f"{key}Role")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}}


def _source_rules() -> dict[str, Any]:
    target = [{"Arn": PIPELINE_ARN, "Id": "pipeline", "RoleArn": arn("SourceEventsRole")}]
    return {
        "CodeCommitChanges": {"Type": "AWS::Events::Rule", "Condition": "UseCodeCommit",
                              "Properties": {"Targets": target, "EventPattern": {
                                  "source": ["aws.codecommit"],
                                  "detail-type": ["CodeCommit Repository State Change"],
                                  "resources": [sub("arn:${AWS::Partition}:codecommit:"
                                                    "${AWS::Region}:${AWS::AccountId}:"
                                                    "${CodeCommitRepository}")],
                                  "detail": {"event": ["referenceUpdated"],
                                             "referenceName": [ref("BranchName")]}}}},
        "S3SourceChanges": {"Type": "AWS::Events::Rule", "Condition": "UseS3",
                            "Properties": {"Targets": target, "EventPattern": {
                                "source": ["aws.s3"], "detail-type": ["Object Created"],
                                "detail": {"bucket": {"name": [ref("SourceBucket")]},
                                           "object": {"key": [ref("SourceObjectKey")]}}}}},
    }


# ------------------------------------------------------------------ CodeBuild projects


def _buildspec(commands: list[str], *, reports: bool = False,
               exported: tuple[str, ...] = ()) -> str:
    from sluice.project.ci import codepipeline_requirement

    spec: dict[str, Any] = {"version": 0.2}
    if exported:
        spec["env"] = {"exported-variables": list(exported)}
    spec["phases"] = {
        "install": {"runtime-versions": {"python": 3.11, "java": "corretto17"},
                    "commands": [f'pip install "{codepipeline_requirement()}"']},
        "build": {"commands": commands}}
    if reports:
        spec["reports"] = {"sluice-check": {"base-directory": "reports", "files": ["check.xml"],
                                            "file-format": "JUNITXML"}}
    return yaml.safe_dump(spec, sort_keys=False, width=200)


#: the approval bridge, as the approval CodeBuild project runs it (its action passes the
#: variables: docs/codepipeline.md)
BRIDGE = ('sluice approve "$SLUICE_TARGET_ENV" --codepipeline '
          '"$SLUICE_PIPELINE:$SLUICE_PIPELINE_EXECUTION" '
          '--approval-action "$SLUICE_APPROVAL_ACTION"')
SHIP = ["sluice ship --json | tee ship.json",
        "export SLUICE_RELEASE=\"$(python -c 'import json; "
        "print(json.load(open(\"ship.json\"))[\"release_id\"])')\""]
CHECK = ["sluice check --junit reports/check.xml --markdown reports/check.md"]
PROMOTE = ['sluice promote "$SLUICE_SOURCE_ENV" "$SLUICE_TARGET_ENV"']


def _project(name: str, what: str, spec: str) -> dict[str, Any]:
    secret = {"Name": "SLUICE_TOKEN", "Type": "SECRETS_MANAGER",
              "Value": sub("${SluiceSecretArn}:SLUICE_TOKEN")}
    state = {"Name": "SLUICE_STATE_URL", "Type": "SECRETS_MANAGER",
             "Value": sub("${SluiceSecretArn}:SLUICE_STATE_URL")}
    return {"Type": "AWS::CodeBuild::Project", "DependsOn": "CodeBuildPolicy", "Properties": {
        "Name": sub(f"${{PipelineName}}-{name}"),
        "Description": what,
        "ServiceRole": arn("CodeBuildRole"),
        "EncryptionKey": arn("ArtifactKey"),
        "Source": {"Type": "CODEPIPELINE", "BuildSpec": spec},
        "Artifacts": {"Type": "CODEPIPELINE"},
        "TimeoutInMinutes": 60,
        "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_MEDIUM",
                        "Image": ref("BuildImage"), "EnvironmentVariables": [
                            {"Name": "CI", "Value": "true"},
                            when("TeamMode", {"Name": "SLUICE_SERVER",
                                              "Value": ref("SluiceServerUrl")}),
                            when("HasSecret", when("TeamMode", secret, state))]},
        "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED",
                                          "GroupName": ref("BuildLogs"), "StreamName": name}}}}


def _projects() -> dict[str, Any]:
    return {
        "CheckProject": _project("check", "sluice check: lint, tests, contracts, samples",
                                 _buildspec(CHECK, reports=True)),
        "ShipProject": _project("ship", "sluice ship: release, deploy, stop at approvals",
                                _buildspec(SHIP, exported=("SLUICE_RELEASE",))),
        "ApprovalProject": _project("approval", "the approval bridge: records CodePipeline's "
                                    "manual approval in sluice", _buildspec([BRIDGE])),
        "PromoteProject": _project("promote", "sluice promote SOURCE ENV",
                                   _buildspec(PROMOTE)),
    }


# ------------------------------------------------------------------ the pipeline


def _build_action(name: str, project: str, order: int, variables: dict[str, str] | None = None,
                  **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"ProjectName": ref(project)}
    if variables:
        text = json.dumps([{"name": k, "value": v, "type": "PLAINTEXT"}
                           for k, v in variables.items()])
        config["EnvironmentVariables"] = sub(text) if "${" in text else text
    return {"Name": name, "RunOrder": order, "InputArtifacts": [{"Name": "Source"}],
            "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild",
                             "Version": "1"}, "Configuration": config, **extra}


def _source_action() -> dict[str, Any]:
    def action(provider: str, owner: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"Name": "Source", "RunOrder": 1, "OutputArtifacts": [{"Name": "Source"}],
                "Namespace": "SourceVariables",
                "ActionTypeId": {"Category": "Source", "Owner": owner, "Provider": provider,
                                 "Version": "1"}, "Configuration": config}

    # CODEBUILD_CLONE_REF: a git clone, so that releases know their commit
    connection = action("CodeStarSourceConnection", "AWS", {
        "ConnectionArn": ref("ConnectionArn"), "FullRepositoryId": ref("FullRepositoryId"),
        "BranchName": ref("BranchName"), "OutputArtifactFormat": "CODEBUILD_CLONE_REF"})
    codecommit = action("CodeCommit", "AWS", {
        "RepositoryName": ref("CodeCommitRepository"), "BranchName": ref("BranchName"),
        "PollForSourceChanges": False, "OutputArtifactFormat": "CODEBUILD_CLONE_REF"})
    s3 = action("S3", "AWS", {"S3Bucket": ref("SourceBucket"),
                              "S3ObjectKey": ref("SourceObjectKey"),
                              "PollForSourceChanges": False})
    return when("UseConnection", connection, when("UseCodeCommit", codecommit, s3))


def _env_stage(s: EnvStage) -> dict[str, Any]:
    actions: list[dict[str, Any]] = []
    if s.protected:
        actions.append({
            "Name": "Approve", "RunOrder": 1,
            "ActionTypeId": {"Category": "Approval", "Owner": "AWS", "Provider": "Manual",
                             "Version": "1"},
            "Configuration": {
                "NotificationArn": topic_of(s),
                "CustomData": f"sluice: approve release #{{ShipVariables.SLUICE_RELEASE}} for "
                              f"{s.env} (promoted from {s.upstream}); the comment is recorded "
                              "with the approval"}})
        actions.append(_build_action("RecordApproval", "ApprovalProject", 2, {
            "SLUICE_TARGET_ENV": s.env, "SLUICE_PIPELINE": "${PipelineName}",
            "SLUICE_PIPELINE_EXECUTION": "#{codepipeline.PipelineExecutionId}",
            "SLUICE_APPROVAL_ACTION": s.approval_action}))
    actions.append(_build_action("Promote", "PromoteProject", len(actions) + 1, {
        "SLUICE_SOURCE_ENV": str(s.upstream), "SLUICE_TARGET_ENV": s.env}))
    return {"Name": s.stage, "Actions": actions}


def _pipeline(stages: list[EnvStage]) -> dict[str, Any]:
    shipped = [s.env for s in stages if s.upstream is None]
    return {"Type": "AWS::CodePipeline::Pipeline",
            "DependsOn": ["PipelinePolicy", "ArtifactBucketPolicy"], "Properties": {
                "Name": ref("PipelineName"),
                "PipelineType": "V2",
                "ExecutionMode": ref("ExecutionMode"),
                "RoleArn": arn("PipelineRole"),
                "ArtifactStore": {"Type": "S3", "Location": ref("ArtifactBucket"),
                                  "EncryptionKey": {"Id": arn("ArtifactKey"), "Type": "KMS"}},
                "Stages": [
                    {"Name": "Source", "Actions": [_source_action()]},
                    {"Name": "Check", "Actions": [_build_action("Check", "CheckProject", 1)]},
                    {"Name": "Ship", "Actions": [_build_action(
                        "Ship", "ShipProject", 1, Namespace="ShipVariables")]},
                    *[_env_stage(s) for s in stages if s.upstream is not None]],
                "Tags": [{"Key": "sluice:ships-to", "Value": " ".join(shipped) or "-"}]}}


def template(cfg: ProjectConfig | None) -> dict[str, Any]:
    """The pipeline's CloudFormation template as data."""
    stages = environments(cfg)
    project = cfg.project if cfg is not None else "sluice"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"sluice CI/CD for {project}: check, ship, approvals, promotions "
                       "(written by `sluice init --ci codepipeline`)",
        "Parameters": _parameters(stages, project),
        "Conditions": _conditions(stages),
        "Resources": {**_storage(stages), **_topics(stages), **_roles(stages),
                      **_source_rules(), **_projects(), "Pipeline": _pipeline(stages)},
        "Outputs": {
            "PipelineName": {"Value": ref("Pipeline")},
            "ArtifactBucket": {"Value": ref("ArtifactBucket")},
            "ArtifactKeyArn": {"Value": arn("ArtifactKey")},
            "CodeBuildRoleArn": {"Description": "What a deploy role in another account "
                                 "trusts (docs/codepipeline.md)", "Value": arn("CodeBuildRole")},
            **{f"ApprovalTopic{s.key}": {"Value": topic_of(s)} for s in stages if s.protected}},
    }


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the buildspecs read as YAML, not escapes); no
    anchors and aliases, which CloudFormation refuses."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(cfg: ProjectConfig | None) -> str:
    """The template's text: a comment saying how to deploy it, then the template."""
    stages = environments(cfg)
    protected = [s.env for s in stages if s.protected]
    head = [
        "# An AWS CodePipeline (V2) for this sluice project, written by "
        "`sluice init --ci codepipeline`.",
        f"# Ships to {', '.join(s.env for s in stages if s.upstream is None) or 'nothing'}; "
        f"approvals in CodePipeline for {', '.join(protected) or 'no environment'}, recorded "
        "in sluice by the RecordApproval actions.",
        "# Deploy it (docs/codepipeline.md):",
        f"#   aws cloudformation deploy --template-file {PATH} --stack-name "
        "sluice-pipeline \\",
        "#     --capabilities CAPABILITY_NAMED_IAM --parameter-overrides \\",
        "#     ConnectionArn=arn:aws:codestar-connections:… FullRepositoryId=org/repo "
        "SluiceSecretArn=arn:aws:secretsmanager:…",
        "",
    ]
    body = yaml.dump(template(cfg), Dumper=_Dumper, sort_keys=False, width=100,
                     allow_unicode=True)
    return "\n".join(head) + body


__all__ = ["BRIDGE", "DEFAULT_ORDER", "PATH", "EnvStage", "environments", "render", "template"]
