"""Glue jobs for ``pyspark`` and ``glue`` jobs: the script under a content-addressed S3 key
(uploaded once per digest), the job created or updated with its Glue version, worker type and
count, and its DefaultArguments. A job whose definition did not change makes no write call.
Glue keeps no versions, so rollback updates the job back to the earlier release's definition
(whose script is still at its key).

A ``pyspark`` job's ScriptLocation is sluice's launcher (``glue/launcher.py``), which runs the
project's script (``--sluice_script``) with the arguments it gets locally. A ``glue`` job's
ScriptLocation is the project's script itself (``launcher=False``): Glue runs it as written,
with the job's own arguments. See :mod:`sluice.targets.aws.glue_runs` for runs."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
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
    #: run through sluice's launcher (pyspark jobs) or as the job's own script (glue jobs)
    launcher: bool = True


@dataclass(frozen=True)
class GlueJobDeploy:
    name: str
    script_location: str
    changed: bool
    uploaded: bool


LAUNCHER = Path(__file__).with_name("glue") / "launcher.py"


def content_key(prefix: str, body: bytes, name: str) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return f"{prefix}/scripts/{digest[:2]}/{digest}/{name}"


def script_key(prefix: str, spec: GlueJobSpec) -> str:
    return content_key(prefix, spec.script, spec.script_name)


@functools.cache
def _launcher() -> bytes:
    return LAUNCHER.read_bytes()


def launcher_key(prefix: str) -> str:
    return content_key(prefix, _launcher(), "sluice_glue_launcher.py")


def script_url(bucket: str, prefix: str, spec: GlueJobSpec) -> str:
    """Where the project's script of ``spec`` lives in S3 (content-addressed)."""
    return f"s3://{bucket}/{script_key(prefix, spec)}"


def job_update(spec: GlueJobSpec, bucket: str, prefix: str) -> dict[str, Any]:
    """The JobUpdate (and, with Name, the CreateJob input) of a spec."""
    script = script_url(bucket, prefix, spec)
    own = {"--sluice_script": script} if spec.launcher else {}
    return {
        "Role": spec.role_arn,
        "Command": {"Name": "glueetl", "PythonVersion": "3",
                    "ScriptLocation": f"s3://{bucket}/{launcher_key(prefix)}"
                    if spec.launcher else script},
        "DefaultArguments": {"--job-language": "python", **own,
                             **dict(sorted(spec.arguments.items()))},
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


def upload_once(aws: AwsSession, bucket: str, key: str, body: bytes,
                extra: dict[str, Any] | None = None) -> bool:
    """Put a content-addressed object unless it is there. Returns whether it was written."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    with aws_errors(f"upload s3://{bucket}/{key}"):
        try:
            s3.head_object(Bucket=bucket, Key=key)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                raise
        s3.put_object(Bucket=bucket, Key=key, Body=body, **(extra or {}))
    return True


def upload_launcher(aws: AwsSession, bucket: str, prefix: str,
                    extra: dict[str, Any] | None = None) -> bool:
    """The launcher every Glue job runs (once per bucket and launcher version)."""
    return upload_once(aws, bucket, launcher_key(prefix), _launcher(), extra)


def ensure_runnable(aws: AwsSession, bucket: str, prefix: str, spec: GlueJobSpec,
                    extra: dict[str, Any] | None = None) -> str:
    """Make a run of this spec possible without touching the live job's definition: the
    launcher and the script in S3, and the job itself only if it does not exist yet (a run
    passes the script and the workers as run arguments). Returns the script's URL."""
    from botocore.exceptions import ClientError

    if spec.launcher:
        upload_launcher(aws, bucket, prefix, extra)
    upload_once(aws, bucket, script_key(prefix, spec), spec.script, extra)
    glue = aws.client("glue")
    with aws_errors(f"look up Glue job {spec.name}"):
        try:
            glue.get_job(JobName=spec.name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            glue.create_job(Name=spec.name, Tags={"sluice:job": spec.name},
                            **job_update(spec, bucket, prefix))
    return script_url(bucket, prefix, spec)


#: the suffix of the job a glue job's runs inside write-audit-publish go through
RUN_JOB_SUFFIX = ".wap"


def run_job_spec(spec: GlueJobSpec) -> GlueJobSpec:
    """The run job of a glue job: the same definition under ``<job>.wap`` (a name no
    ``<project>-<env>-<name>`` resource has: those hold no dot)."""
    return replace(spec, name=spec.name + RUN_JOB_SUFFIX,
                   description=f"{spec.description}: runs inside write-audit-publish")


def sync_job(aws: AwsSession, bucket: str, prefix: str, spec: GlueJobSpec,
             extra: dict[str, Any] | None = None) -> bool:
    """Give the job ``spec.name`` exactly the spec's definition (script uploaded first):
    created if missing, updated if it differs, untouched otherwise. Returns whether it
    wrote. A ``glue`` job's run goes through such a job of its own (see glue_runs)."""
    if spec.launcher:
        upload_launcher(aws, bucket, prefix, extra)
    return deploy_glue_job(aws, bucket, prefix, spec, extra).changed


def deploy_glue_job(aws: AwsSession, bucket: str, prefix: str, spec: GlueJobSpec,
                    extra: dict[str, Any] | None = None) -> GlueJobDeploy:
    """Upload the script if S3 lacks it, then create, update or leave the job (the launcher
    must be in place: :func:`upload_launcher`)."""
    from botocore.exceptions import ClientError

    glue = aws.client("glue")
    wanted = job_update(spec, bucket, prefix)
    location = script_url(bucket, prefix, spec)
    with aws_errors(f"deploy Glue job {spec.name}"):
        try:
            live: dict[str, Any] | None = glue.get_job(JobName=spec.name)["Job"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            live = None
    if live is not None and _same(live, wanted):
        # the live job names this content-addressed script, so S3 has it: nothing to write
        return GlueJobDeploy(spec.name, location, False, False)
    uploaded = upload_once(aws, bucket, script_key(prefix, spec), spec.script, extra)
    with aws_errors(f"deploy Glue job {spec.name}"):
        if live is None:
            glue.create_job(Name=spec.name, Tags={"sluice:job": spec.name}, **wanted)
        else:
            glue.update_job(JobName=spec.name, JobUpdate=wanted)
    return GlueJobDeploy(spec.name, location, True, uploaded)


def planned(aws: AwsSession, bucket: str, prefix: str, spec: GlueJobSpec) -> str:
    """What deploy_glue_job would do to the job: create, update or none (reads only)."""
    from botocore.exceptions import ClientError

    wanted = job_update(spec, bucket, prefix)
    with aws_errors(f"plan Glue job {spec.name}"):
        try:
            live = aws.client("glue").get_job(JobName=spec.name)["Job"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise
            return "create"
    return "none" if _same(live, wanted) else "update"
