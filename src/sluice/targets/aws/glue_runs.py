"""PySpark jobs on the aws target run as Glue job runs inside write-audit-publish.

The run writes each output as Parquet straight into the prefix of a new version
(``--output NAME=s3://…/versions/<dataset>/<version>/``) and reads its inputs from the
versions the deploy resolved (new or published) or from the sources' S3 locations. sluice
follows the run with backoff; when it succeeded, the written files become versions (rows
and columns read back, the marker written) and are audited like any other job's outputs.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sluice.config import ProjectConfig, PySparkJob
from sluice.deploy.jobs import JobError, JobResult, Resolver
from sluice.project.graph import JobNode
from sluice.targets.aws.components import public_parameters
from sluice.targets.aws.gluejobs import ensure_runnable
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
    name = spec.name
    # the live job's definition changes only after the audits (the components step): this
    # run gets the release's script and workers as its own arguments
    script = ensure_runnable(target.aws, target.bucket, target.prefix, spec,
                             target.encryption())
    glue = target.aws.client("glue")
    with aws_errors(f"start Glue job {name}"):
        run_id = glue.start_job_run(
            JobName=name, WorkerType=spec.worker_type, NumberOfWorkers=spec.workers,
            Arguments={**spec.arguments, "--sluice_script": script,
                       "--sluice_argv": json.dumps(argv)})["JobRunId"]
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
            raise JobError(f"job {node.name}: Glue run {run_id} still {state} after "
                           f"{timeout:.0f}s", tip=f"follow it in the Glue console ({name})")
        sleep(pause)
        waited += pause
        pause = min(pause * 2, 30.0)
    if state != "SUCCEEDED":
        raise JobError(f"job {node.name}: Glue run {run_id} of {name} {state}: "
                       f"{run.get('ErrorMessage', 'no error message')}",
                       tip=f"its log is in CloudWatch: /aws-glue/jobs/error, stream {run_id}")
    for d in node.outputs:
        if not target.data.has_data(d, version):
            raise JobError(f"job {node.name}: Glue run {run_id} succeeded but wrote no Parquet "
                           f"files for {d} at {target.data.url(d, version)}",
                           tip="write every --output path with df.write.parquet(path)")
    rows = {d: target.register_version(d, version, fingerprint) for d in node.outputs}
    return JobResult(node.name, {d: version for d in node.outputs}, rows,
                     time.perf_counter() - started)
