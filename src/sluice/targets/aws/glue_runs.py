"""PySpark and glue jobs on the aws target run as Glue job runs inside write-audit-publish.

The run writes each output as Parquet straight into the prefix of a new version and reads
its inputs from the versions the deploy resolved (new or published) or from the sources' S3
locations. sluice follows the run with backoff; when it succeeded, the written files become
versions (rows and columns read back, the marker written) and are audited like any other
job's outputs.

- A ``pyspark`` job (:func:`run_glue_job`) gets them as the launcher's
  ``--output NAME=s3://…/versions/<dataset>/<version>/`` arguments.
- A ``glue`` job (:func:`run_glue_script`) gets its own arguments, ``${output:NAME}`` being
  that prefix. Glue cannot run another script than its job's, so the run goes through the
  job's *run job* (``<job>.wap``), given the release's definition first: the live job, which
  workflows start, keeps the live release's script until the components step, after the
  audits. Every deploy and ``sluice run`` of the job runs that one job, so its Glue job
  bookmarks (``--job-bookmark-option`` as the project wrote it) follow one history.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sluice.config import GlueJob, ProjectConfig, PySparkJob
from sluice.deploy.jobs import JobError, JobResult, Resolver
from sluice.project.graph import JobNode
from sluice.targets.aws import glue_arguments
from sluice.targets.aws.components import public_parameters
from sluice.targets.aws.gluejobs import GlueJobSpec, ensure_runnable, run_job_spec, sync_job
from sluice.targets.aws.session import aws_errors
from sluice.targets.aws.target import AwsTarget
from sluice.targets.base import Target

RUN_TIMEOUT = 4 * 3600
_DONE = {"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"}


def input_url(target: AwsTarget, config: ProjectConfig, resolver: Resolver, dataset: str,
              version: str) -> str:
    """Where a Glue run reads an input (always Parquet, as locally): a version's prefix, a
    Parquet source's folder, or another source exported to Parquet for this run."""
    if dataset in resolver.new_versions:
        return target.data.url(dataset, resolver.new_versions[dataset])
    source = config.sources.get(dataset)
    if source is not None and source.format == "parquet" and source.path is not None \
            and not any(c in source.path for c in "*?["):
        return f"{target.objects_url()}{source.path.rstrip('/')}/"
    if source is not None:
        return _export(target, resolver, dataset, version)
    if dataset in resolver.published:
        return target.data.url(dataset, resolver.published[dataset])
    raise JobError(f"dataset {dataset} has never been computed in {target.env}",
                   tip="deploy the job that writes it first")


def _export(target: AwsTarget, resolver: Resolver, dataset: str, version: str) -> str:
    """A source as one Parquet file under ``inputs/<version>/<dataset>/`` for a run."""
    import pyarrow.parquet as pq

    key = f"{target.root}/inputs/{version}/{dataset}/part-0.parquet"
    table = target.read_arrow(f"SELECT * FROM {resolver.relation(dataset)}")
    with tempfile.TemporaryDirectory(prefix="sluice-glue-") as tmp:
        path = Path(tmp) / "part-0.parquet"
        pq.write_table(table, path)
        with aws_errors(f"upload the input {dataset} of a Glue run"):
            target.aws.client("s3").upload_file(str(path), target.bucket, key,
                                                ExtraArgs=target.encryption())
    return f"s3://{target.bucket}/{key.rsplit('/', 1)[0]}/"


def run_glue_job(node: JobNode, config: ProjectConfig, release_dir: Path, target: Target,
                 resolver: Resolver, params: Mapping[str, str], version: str,
                 fingerprint: str, *, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = RUN_TIMEOUT) -> JobResult:
    assert isinstance(target, AwsTarget)
    job = config.jobs[node.name]
    assert isinstance(job, PySparkJob)
    started = time.perf_counter()
    argv: list[str] = []
    for d in node.inputs:
        argv += ["--input", f"{d}={input_url(target, config, resolver, d, version)}"]
    for d in node.outputs:
        argv += ["--output", f"{d}={target.data.url(d, version)}"]
    for k, v in public_parameters(params).items():
        argv += ["--param", f"{k}={v}"]
    spec = target.components().glue_spec(config, release_dir, node.name)
    # the live job's definition changes only after the audits (the components step): this
    # run gets the release's script and workers as its own arguments
    script = ensure_runnable(target.aws, target.bucket, target.prefix, spec,
                             target.encryption())
    arguments = {**spec.arguments, "--sluice_script": script, "--sluice_argv": json.dumps(argv)}

    def not_written(run_id: str, d: str) -> JobError:
        return JobError(f"job {node.name}: Glue run {run_id} succeeded but wrote no Parquet "
                        f"files for {d} at {target.data.url(d, version)}",
                        tip="write every --output path with df.write.parquet(path)")

    return _run(target, node, spec.name, spec, arguments, version, fingerprint, not_written,
                started, sleep, timeout)


def _run(target: AwsTarget, node: JobNode, name: str, spec: GlueJobSpec,
         arguments: dict[str, str], version: str, fingerprint: str,
         not_written: Callable[[str, str], JobError], started: float,
         sleep: Callable[[float], None], timeout: float) -> JobResult:
    """Start Glue job ``name`` with ``arguments`` on ``spec``'s workers, follow the run to
    its end and register what it wrote for each output as the new version;
    ``not_written(run_id, dataset)`` is the error for an output left without Parquet files."""
    glue = target.aws.client("glue")
    with aws_errors(f"start Glue job {name}"):
        run_id = glue.start_job_run(JobName=name, WorkerType=spec.worker_type,
                                    NumberOfWorkers=spec.workers,
                                    Arguments=arguments)["JobRunId"]
    _follow(glue, name, run_id, node.name, sleep, timeout)
    for d in node.outputs:
        if not target.data.has_data(d, version):
            raise not_written(run_id, d)
    rows = {d: target.register_version(d, version, fingerprint) for d in node.outputs}
    return JobResult(node.name, {d: version for d in node.outputs}, rows,
                     time.perf_counter() - started)


def _follow(glue: Any, name: str, run_id: str, job: str, sleep: Callable[[float], None],
            timeout: float) -> None:
    """Poll a run with backoff until it ends; JobError unless it SUCCEEDED (a run still
    going after ``timeout`` is stopped)."""
    pause, waited = 1.0, 0.0
    while True:
        with aws_errors(f"follow Glue job {name} run {run_id}"):
            run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
        state = run["JobRunState"]
        if state in _DONE:
            break
        if waited > timeout:
            with aws_errors(f"stop Glue job {name} run {run_id}"):
                glue.batch_stop_job_run(JobName=name, JobRunIds=[run_id])
            raise JobError(f"job {job}: Glue run {run_id} still {state} after "
                           f"{timeout:.0f}s", tip=f"follow it in the Glue console ({name})")
        sleep(pause)
        waited += pause
        pause = min(pause * 2, 30.0)
    if state != "SUCCEEDED":
        raise JobError(f"job {job}: Glue run {run_id} of {name} {state}: "
                       f"{run.get('ErrorMessage', 'no error message')}",
                       tip=f"its log is in CloudWatch: /aws-glue/jobs/error, stream {run_id}")


def script_input_url(target: AwsTarget, config: ProjectConfig, resolver: Resolver,
                     job: str, dataset: str) -> str:
    """``${input:DATASET}`` of a glue job's run: the version it reads (new in this deploy,
    else published) or the source's S3 location, as the script would read it on Glue."""
    if dataset in resolver.new_versions:
        return target.data.url(dataset, resolver.new_versions[dataset])
    if dataset in config.sources:
        return glue_arguments.source_url(config, target.objects_url(), dataset, job)
    if dataset in resolver.published:
        return target.data.url(dataset, resolver.published[dataset])
    raise JobError(f"job {job}: dataset {dataset} has never been computed in {target.env}",
                   tip="deploy the job that writes it first")


def _not_written(target: AwsTarget, job: GlueJob, name: str, run_id: str, dataset: str,
                 version: str) -> JobError:
    """Why an output counts as not written, naming the argument that gave its location."""
    keys = [k for k, v in job.arguments.items() if ("output", dataset) in job.references(v)]
    url = target.data.url(dataset, version)
    with aws_errors(f"list {url}"):
        listed = target.aws.client("s3").list_objects_v2(
            Bucket=target.bucket, Prefix=target.data.prefix(dataset, version), MaxKeys=5)
    found = [o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])]
    seen = f" (it holds {', '.join(found)}: not Parquet)" if found else " (it is empty)"
    empty = "" if found else (" (an empty frame written with partitionKeys leaves no file "
                              "on Glue: write an empty result without partitionKeys)")
    return JobError(f"job {name}: Glue run {run_id} succeeded but wrote no Parquet files for "
                    f"{dataset} at {' / '.join(keys)} = {url}{seen}",
                    tip=f"write {dataset} as Parquet at args[{keys[0][2:]!r}], e.g. "
                        "glueContext.write_dynamic_frame.from_options(frame, connection_type="
                        f"'s3', connection_options={{'path': args[{keys[0][2:]!r}]}}, "
                        f"format='parquet'){empty}")


def run_glue_script(node: JobNode, config: ProjectConfig, release_dir: Path, target: Target,
                    resolver: Resolver, params: Mapping[str, str], version: str,
                    fingerprint: str, *, sleep: Callable[[float], None] = time.sleep,
                    timeout: float = RUN_TIMEOUT) -> JobResult:
    """Run a glue job's script as written on Glue, its arguments resolved for this run."""
    assert isinstance(target, AwsTarget)
    job = config.jobs[node.name]
    assert isinstance(job, GlueJob)
    started = time.perf_counter()
    spec = target.components().glue_spec(config, release_dir, node.name)
    arguments = glue_arguments.run_arguments(
        job, lambda d: script_input_url(target, config, resolver, node.name, d),
        lambda d: target.data.url(d, version))
    glue_arguments.refuse_secrets(node.name, arguments, release_dir)
    runner = run_job_spec(spec)
    sync_job(target.aws, target.bucket, target.prefix, runner, target.encryption())
    return _run(target, node, runner.name, spec, arguments, version, fingerprint,
                lambda run_id, d: _not_written(target, job, node.name, run_id, d, version),
                started, sleep, timeout)
