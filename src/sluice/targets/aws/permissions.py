"""What the deployer role of an environment must be allowed to do, derived from the project:
the least-privilege IAM policy (``sluice export iam-policy ENV``) and the list ``sluice doctor
ENV`` checks with IAM's policy simulator.

Only what the project uses is granted: Step Functions actions appear with a workflow, Lambda
actions with a function, and so on; resources are narrowed to the environment's bucket
prefix and to resources named ``<project>-<env>-*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sluice.config import AwsTarget, GlueJob, ProjectConfig, PySparkJob
from sluice.targets.aws.events import topic_name


@dataclass(frozen=True)
class Grant:
    sid: str
    why: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, Any] | None = None


def _account(spec: AwsTarget) -> str:
    found = re.match(r"arn:aws[\w-]*:iam::(\d{12}):", spec.role_arn or "")
    return found[1] if found else "*"


def _sid(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text.title())


def grants(cfg: ProjectConfig, env: str) -> list[Grant]:
    """The permissions deploying ``cfg`` to ``env`` (an aws target) needs."""
    spec = cfg.environment(env).target
    if not isinstance(spec, AwsTarget):
        from sluice.errors import ConfigError

        raise ConfigError(f"environment {env} does not deploy to AWS (target type "
                          f"{spec.type!r})", tip="only aws targets have an IAM policy")
    region, account = spec.region, _account(spec)
    bucket, prefix = f"arn:aws:s3:::{spec.bucket}", spec.prefix.strip("/")
    named = f"{cfg.project}-{env}-*".replace("_", "-")
    out = [
        Grant("Identity", "sluice doctor: who am I", ("sts:GetCallerIdentity",), ("*",)),
        Grant("Bucket", "releases and dataset versions live in the bucket",
              ("s3:CreateBucket", "s3:ListBucket", "s3:GetBucketVersioning",
               "s3:PutBucketVersioning",
               "s3:GetBucketLocation") + (("s3:GetEncryptionConfiguration",
                                            "s3:PutEncryptionConfiguration")
                                           if spec.kms_key_id else ()),
              (bucket,)),
        Grant("Objects", "release bundles, scripts, versions, the catalog and sources",
              ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), (f"{bucket}/{prefix}/*",)),
    ]
    if spec.kms_key_id:
        kms_actions = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
        key_id = spec.kms_key_id
        if key_id.startswith("alias/") or ":alias/" in key_id:
            # an alias is not a key ARN: grant the keys that carry the alias
            alias = key_id[key_id.index("alias/"):]
            out.append(Grant("Kms", "SSE-KMS on everything sluice writes", kms_actions,
                             (f"arn:aws:kms:{region}:{account}:key/*",),
                             {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}))
        else:
            key = key_id if key_id.startswith("arn:") else \
                f"arn:aws:kms:{region}:{account}:key/{key_id}"
            out.append(Grant("Kms", "SSE-KMS on everything sluice writes", kms_actions,
                             (key,)))
    glue = f"arn:aws:glue:{region}:{account}"
    db_prefix = f"{env}_" if spec.glue_database_prefix is None else spec.glue_database_prefix
    out.append(Grant("GlueCatalog", "Glue tables follow the published versions",
                     ("glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable",
                      "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
                      "glue:GetPartitions", "glue:BatchCreatePartition",
                      "glue:BatchDeletePartition"),
                     (f"{glue}:catalog", f"{glue}:database/{db_prefix}*",
                      f"{glue}:table/{db_prefix}*/*")))
    roles = _execution_roles(cfg, spec)
    if any(isinstance(j, PySparkJob | GlueJob) for j in cfg.jobs.values()):
        # the resource covers a glue job's run job too (<project>-<env>-<name>.wap)
        out.append(Grant("GlueJobs", "a Glue job per pyspark or glue job, and its runs",
                         ("glue:GetJob", "glue:CreateJob", "glue:UpdateJob", "glue:TagResource",
                          "glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun"),
                         (f"{glue}:job/{named}",)))
    if cfg.crawlers:
        out.append(Grant("GlueCrawlers", "crawlers over sources",
                         ("glue:GetCrawler", "glue:CreateCrawler", "glue:UpdateCrawler"),
                         (f"{glue}:crawler/{named}",)))
    if cfg.workflows:
        machine = f"arn:aws:states:{region}:{account}:stateMachine:{named}"
        out.append(Grant("StepFunctions", "workflows: versions and the live alias",
                         ("states:CreateStateMachine", "states:UpdateStateMachine",
                          "states:DescribeStateMachine", "states:PublishStateMachineVersion",
                          "states:CreateStateMachineAlias", "states:UpdateStateMachineAlias",
                          "states:DescribeStateMachineAlias", "states:StartExecution",
                          "states:DescribeExecution"),
                         (machine, f"{machine}:*",
                          f"arn:aws:states:{region}:{account}:execution:{named}:*")))
        if any(w.triggers for w in cfg.workflows.values()):
            rule = f"arn:aws:events:{region}:{account}:rule/{named}"
            out.append(Grant("Triggers", "new source files start workflows",
                             ("events:DescribeRule", "events:PutRule", "events:PutTargets",
                              "events:ListTargetsByRule"), (rule,)))
            out.append(Grant("BucketEvents", "the bucket sends object events to EventBridge",
                             ("s3:GetBucketNotification", "s3:PutBucketNotification"),
                             (bucket,)))
    if cfg.functions:
        fn = f"arn:aws:lambda:{region}:{account}:function:{named}"
        out.append(Grant("Lambda", "functions: code, configuration, versions, the live alias",
                         ("lambda:GetFunction", "lambda:GetFunctionConfiguration",
                          "lambda:CreateFunction", "lambda:UpdateFunctionCode",
                          "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion",
                          "lambda:GetAlias", "lambda:CreateAlias", "lambda:UpdateAlias"),
                         (fn, f"{fn}:*")))
        if any(f.alarms for f in cfg.functions.values()):
            out.append(Grant("Alarms", "alarms watched while traffic shifts",
                             ("cloudwatch:DescribeAlarms",), ("*",)))
    if cfg.stacks:
        out.append(Grant("CloudFormation", "stacks through change sets",
                         ("cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                          "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet",
                          "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
                          "cloudformation:DeleteStack", "cloudformation:GetTemplate"),
                         (f"arn:aws:cloudformation:{region}:{account}:stack/{named}/*",)))
    if roles:
        out.append(Grant("PassRole", "Glue, Step Functions and Lambda run as these roles",
                         ("iam:PassRole",), tuple(sorted(roles))))
    if spec.redshift is not None:
        rs = spec.redshift
        out.append(Grant("RedshiftData", "migrations through the Redshift Data API",
                         ("redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement",
                          "redshift-data:DescribeStatement", "redshift-data:GetStatementResult"),
                         ("*",)))
        if rs.secret_arn:
            out.append(Grant("RedshiftSecret", "the database credentials",
                             ("secretsmanager:GetSecretValue",), (rs.secret_arn,)))
        elif rs.workgroup:
            out.append(Grant("RedshiftServerless", "temporary database credentials",
                             ("redshift-serverless:GetCredentials",),
                             (f"arn:aws:redshift-serverless:{region}:{account}:workgroup/*",)))
        else:
            out.append(Grant("RedshiftCluster", "temporary database credentials",
                             ("redshift:GetClusterCredentials",),
                             (f"arn:aws:redshift:{region}:{account}:dbuser:{rs.cluster}/*",
                              f"arn:aws:redshift:{region}:{account}:dbname:{rs.cluster}/"
                              f"{rs.database}")))
    out.append(Grant("Notifications", "deployment events and approval requests",
                     ("sns:CreateTopic", "sns:TagResource", "sns:Publish"),
                     (f"arn:aws:sns:{region}:{account}:{topic_name(cfg.project, env)}",)))
    return out


def _execution_roles(cfg: ProjectConfig, spec: AwsTarget) -> set[str]:
    roles = {w.role for w in cfg.workflows.values() if w.role}
    roles |= {f.role for f in cfg.functions.values() if f.role}
    glue_jobs = [j for j in cfg.jobs.values() if isinstance(j, PySparkJob | GlueJob)]
    roles |= {j.glue.role for j in glue_jobs if j.glue.role}
    roles |= {c.role for c in cfg.crawlers.values() if c.role}
    roles |= {s.role for s in cfg.stacks.values() if s.role}
    uses_default = (any(not w.role for w in cfg.workflows.values())
                    or any(not f.role for f in cfg.functions.values())
                    or any(not c.role for c in cfg.crawlers.values())
                    or any(not j.glue.role for j in glue_jobs))
    if uses_default and spec.execution_role:
        roles.add(spec.execution_role)
    return roles


def policy(cfg: ProjectConfig, env: str) -> dict[str, Any]:
    """The IAM policy document of the deployer role."""
    statements = []
    for g in grants(cfg, env):
        statement: dict[str, Any] = {
            "Sid": _sid(g.sid), "Effect": "Allow", "Action": list(g.actions),
            "Resource": list(g.resources) if len(g.resources) > 1 else g.resources[0]}
        if g.condition:
            statement["Condition"] = g.condition
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}
