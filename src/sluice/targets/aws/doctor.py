"""``sluice doctor ENV``: can this machine deploy to an AWS environment? Credentials (and the
role assumed), the bucket, the execution role (and the roles glue jobs name), whether each
glue job's arguments can be given to Glue in this environment, then every permission the
deploy needs, checked with IAM's policy simulator against the deployer role."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sluice.config import GlueJob, ProjectConfig
from sluice.errors import SluiceError
from sluice.targets.aws import glue_arguments
from sluice.targets.aws.permissions import grants
from sluice.targets.aws.target import AwsTarget

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def principal_arn(caller: str) -> str:
    """The IAM ARN the simulator evaluates: an assumed-role session becomes its role."""
    found = re.fullmatch(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/.*", caller)
    return f"arn:{found[1]}:iam::{found[2]}:role/{found[3]}" if found else caller


def _code(exc: BaseException | None) -> str:
    from botocore.exceptions import ClientError

    return str(exc.response.get("Error", {}).get("Code", "")) \
        if isinstance(exc, ClientError) else ""


def diagnose(target: AwsTarget, cfg: ProjectConfig) -> list[Finding]:
    found: list[Finding] = []
    try:
        who = target.aws.identity()
    except SluiceError as exc:
        return [Finding("credentials", "fail", exc.message)]
    via = f" (assumed {target.aws.settings.role_arn})" if target.aws.settings.role_arn else ""
    found.append(Finding("credentials", "ok", f"account {who['account']} as {who['arn']}{via}"))
    found.append(_bucket(target))
    if target.execution_role:
        found.append(_role(target, target.execution_role))
    found += _glue_jobs(target, cfg)
    found += _permissions(target, cfg, principal_arn(who["arn"]))
    return found


def _bucket(target: AwsTarget) -> Finding:
    from botocore.exceptions import ClientError

    s3 = target.aws.client("s3")
    try:
        s3.head_bucket(Bucket=target.bucket)
    except ClientError as exc:
        if _code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return Finding("bucket", "warn", f"s3://{target.bucket} does not exist; the first "
                                             "deploy creates it (versioning on)")
        return Finding("bucket", "fail", f"s3://{target.bucket}: {_code(exc)}: not accessible")
    try:
        status = s3.get_bucket_versioning(Bucket=target.bucket).get("Status")
    except ClientError as exc:
        return Finding("bucket", "fail", f"s3://{target.bucket}: cannot read its versioning "
                                         f"({_code(exc)})")
    if status != "Enabled":
        return Finding("bucket", "warn", f"s3://{target.bucket} has versioning "
                                         f"{status or 'off'}; the next deploy turns it on")
    return Finding("bucket", "ok", f"s3://{target.bucket} (versioning on)")


def _role(target: AwsTarget, arn: str) -> Finding:
    from botocore.exceptions import ClientError

    try:
        target.aws.client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return Finding("execution role", "fail", f"{arn} does not exist")
        return Finding("execution role", "warn", f"{arn}: cannot check ({_code(exc)})")
    return Finding("execution role", "ok", arn)


def _glue_jobs(target: AwsTarget, cfg: ProjectConfig) -> list[Finding]:
    """Each glue job: its arguments resolve here and may be sent to Glue (no secret, every
    output an ``${output:…}`` location), and the role it names, if any, exists."""
    out: list[Finding] = []
    roles: set[str] = set()
    for name, job in sorted(cfg.jobs.items()):
        if not isinstance(job, GlueJob):
            continue
        try:
            glue_arguments.check_outputs(cfg, name)
            glue_arguments.refuse_secrets(name, job.arguments)
            kept = glue_arguments.default_arguments(cfg, name, target.objects_url())
        except SluiceError as exc:
            out.append(Finding(f"glue job {name}", "fail", exc.message))
            continue
        out.append(Finding(f"glue job {name}", "ok",
                           f"runs {job.script} as written; {len(kept)} of its "
                           f"{len(job.arguments)} arguments kept on the job"))
        if job.glue.role and job.glue.role != target.execution_role:
            roles.add(job.glue.role)
    out += [_role(target, role) for role in sorted(roles)]
    return out


def _permissions(target: AwsTarget, cfg: ProjectConfig, principal: str) -> list[Finding]:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    iam = target.aws.client("iam")
    out: list[Finding] = []
    for grant in grants(cfg, target.env):
        params: dict[str, Any] = {"PolicySourceArn": principal,
                                  "ActionNames": list(grant.actions)}
        if grant.resources != ("*",):
            params["ResourceArns"] = list(grant.resources)
        try:
            results = iam.simulate_principal_policy(**params)["EvaluationResults"]
        except (ClientError, BotoCoreError, ResponseParserError) as exc:
            # denied, or an endpoint without IAM's simulator (moto, LocalStack)
            why = _code(exc) or "the endpoint does not answer SimulatePrincipalPolicy"
            out.append(Finding("permissions", "warn",
                               f"cannot simulate the policy of {principal} ({why}); grant "
                               "iam:SimulatePrincipalPolicy to check permissions, or compare "
                               f"with  sluice export iam-policy {target.env}"))
            return out
        denied = sorted({f"{r['EvalActionName']} on {r.get('EvalResourceName', '*')}"
                         for r in results if r["EvalDecision"] != "allowed"})
        out.append(Finding(f"permissions: {grant.sid}", "fail" if denied else "ok",
                           ("denied: " + "; ".join(denied)) if denied else grant.why))
    return out
