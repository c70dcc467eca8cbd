"""Glue jobs for ``pyspark`` jobs: the script under a content-addressed S3 key (uploaded once
per digest), the job created or updated with its Glue version, worker type and count, and
DefaultArguments from the environment's parameters. A job whose definition did not change
makes no write call. Glue keeps no versions, so rollback updates the job back to the earlier
release's definition (whose script is still at its key)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sluice.targets.aws.session import AwsSession, aws_errors


@dataclass(frozen=True)
class GlueJobSpec:
    name: str
    script: bytes
    script_name: str  # the file name, kept in the key so Glue shows something readable
    role_arn: str
    glue_version: str = "4.0"
    worker_type: str = "G.1X"
    workers: int = 2
    arguments: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class GlueJobDeploy:
    name: str
    script_location: str
    changed: bool
    uploaded: bool


def script_key(prefix: str, spec: GlueJobSpec) -> str:
    digest = hashlib.sha256(spec.script).hexdigest()
    return f"{prefix}/scripts/{digest[:2]}/{digest}/{spec.script_name}"


def job_update(spec: GlueJobSpec, location: str) -> dict[str, Any]:
    """The JobUpdate (and, with Name, the CreateJob input) of a spec."""
    return {
        "Role": spec.role_arn,
        "Command": {"Name": "glueetl", "ScriptLocation": location, "PythonVersion": "3"},
        "DefaultArguments": {"--job-language": "python", **dict(sorted(spec.arguments.items()))},
        "GlueVersion": spec.glue_version,
        "WorkerType": spec.worker_type,
        "NumberOfWorkers": spec.workers,
        "Description": spec.description,
    }


def _same(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    keys = ("Role", "GlueVersion", "WorkerType", "NumberOfWorkers")
    return (all(live.get(k) == wanted[k] for k in keys)
            and live.get("Command", {}).get("ScriptLocation")
            == wanted["Command"]["ScriptLocation"]
            and (live.get("DefaultArguments") or {}) == wanted["DefaultArguments"])


def deploy_glue_job(aws: AwsSession, bucket: str, prefix: str, spec: GlueJobSpec,
                    extra: dict[str, Any] | None = None) -> GlueJobDeploy:
    """Upload the script if S3 lacks it, then create, update or leave the job."""
    from botocore.exceptions import ClientError

    s3, glue = aws.client("s3"), aws.client("glue")
    key = script_key(prefix, spec)
    location = f"s3://{bucket}/{key}"
    uploaded = False
    with aws_errors(f"upload the script of Glue job {spec.name}"):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                raise
            s3.put_object(Bucket=bucket, Key=key, Body=spec.script, **(extra or {}))
            uploaded = True
    wanted = job_update(spec, location)
    with aws_errors(f"deploy Glue job {spec.name}"):
        try:
            live = glue.get_job(JobName=spec.name)["Job"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            glue.create_job(Name=spec.name, Tags={"sluice:job": spec.name}, **wanted)
            return GlueJobDeploy(spec.name, location, True, uploaded)
        if _same(live, wanted):
            return GlueJobDeploy(spec.name, location, False, uploaded)
        glue.update_job(JobName=spec.name, JobUpdate=wanted)
    return GlueJobDeploy(spec.name, location, True, uploaded)


def planned(aws: AwsSession, bucket: str, prefix: str, spec: GlueJobSpec) -> str:
    """What deploy_glue_job would do to the job: create, update or none (reads only)."""
    from botocore.exceptions import ClientError

    wanted = job_update(spec, f"s3://{bucket}/{script_key(prefix, spec)}")
    with aws_errors(f"plan Glue job {spec.name}"):
        try:
            live = aws.client("glue").get_job(JobName=spec.name)["Job"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            return "create"
    return "none" if _same(live, wanted) else "update"
