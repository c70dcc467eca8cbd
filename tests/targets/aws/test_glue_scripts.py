"""glue jobs on the aws target: the Glue job runs the project's script as written.

On moto's server: the live job's ScriptLocation holds exactly the project's script and its
DefaultArguments exactly the version-free arguments; each run (through ``<job>.wap``) gets
exactly the arguments resolved for it, as moto records them; outputs written in Hive
partition folders become audited versions; an unchanged job makes no write; a failed audit
leaves the live job alone; a rollback puts the earlier script back; a pyspark job in the
same project still runs through the launcher.

moto runs no script, so :func:`play_glue` plays Glue: when sluice polls a run, it does what
the script would do, reading the run's arguments from moto's own record of the run.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from sluice.deploy.deployer import AuditFailed, deploy
from sluice.deploy.jobs import JobError, Resolver
from sluice.flow.gates import rollback
from sluice.flow.releases import make_release
from sluice.project.graph import build_graph
from sluice.project.workspace import Workspace
from sluice.targets.aws.glue_runs import run_glue_script
from sluice.targets.aws.permissions import policy
from sluice.targets.aws.session import AwsSession
from sluice.targets.aws.target import AwsTarget

pytestmark = pytest.mark.aws

CONFIG = """\
project: gluey
sources:
  raw.persons: {{format: json, path: "persons/*.json"}}
  raw.events: {{format: csv, path: events/e.csv}}
datasets:
  curated.persons:
    contract:
      columns:
        id: {{type: BIGINT, nullable: false}}
        name: {{type: VARCHAR, nullable: false}}
        country: {{type: VARCHAR, nullable: false}}
      primary_key: [id]
  curated.country_counts:
    contract:
      columns:
        country: {{type: VARCHAR, nullable: false}}
        n: {{type: BIGINT, nullable: false}}
      primary_key: [country]
  staging.event_counts:
    contract:
      columns:
        kind: {{type: VARCHAR, nullable: false}}
        n: {{type: BIGINT, nullable: false}}
jobs:
  persons:
    type: glue
    script: glue/persons.py
    inputs: [raw.persons]
    outputs: [curated.persons]
    arguments:
      --SOURCE_PATH: ${{input:raw.persons}}
      --OUTPUT_PATH: ${{output:curated.persons}}
      --COUNTRY: ${{country}}
      --job-bookmark-option: job-bookmark-enable
    glue: {{version: "4.0", worker_type: G.2X, workers: 3}}
  country_counts:
    type: glue
    script: glue/country_counts.py
    inputs: [curated.persons]
    outputs: [curated.country_counts]
    arguments:
      --PERSONS: ${{input:curated.persons}}
      --OUT: ${{output:curated.country_counts}}
  events:
    type: pyspark
    script: jobs/events.py
    inputs: [raw.events]
    outputs: [staging.event_counts]
environments:
  dev:
    target: {{type: aws, region: eu-west-1, bucket: gluey-dev, endpoint_url: "{url}",
             execution_role: "arn:aws:iam::123456789012:role/glue"}}
    parameters: {{country: de}}
"""

PERSONS = b"""\
import sys
from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH", "COUNTRY"])
glue = GlueContext(SparkContext.getOrCreate())
frame = glue.create_dynamic_frame.from_options("s3", {"paths": [args["SOURCE_PATH"]]}, "json")
glue.write_dynamic_frame.from_options(frame, "s3", {"path": args["OUTPUT_PATH"],
                                                    "partitionKeys": ["country"]}, "parquet")
"""

GIT_ENV = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, env=GIT_ENV, capture_output=True)


@pytest.fixture
def project(tmp_path: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gluey"
    for folder in ("glue", "jobs"):
        (root / folder).mkdir(parents=True)
    (root / "sluice.yaml").write_text(CONFIG.format(url=aws))
    (root / "glue" / "persons.py").write_bytes(PERSONS)
    (root / "glue" / "country_counts.py").write_text("# counts persons per country\n")
    (root / "jobs" / "events.py").write_text("print('the pyspark job')\n")
    (root / ".gitignore").write_text(".sluice/\n")
    data = tmp_path / "data"
    (data / "persons").mkdir(parents=True)
    (data / "events").mkdir(parents=True)
    (data / "persons" / "a.json").write_text(
        '{"id": 1, "name": "Ann", "country": "de"}\n{"id": 2, "name": "Bo", "country": "se"}\n'
        '{"id": 3, "name": "Cy", "country": "de"}\n')
    (data / "events" / "e.csv").write_text("kind,at\nclick,1\nview,2\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    return root


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def play_glue(monkeypatch: pytest.MonkeyPatch, endpoint: str,
              broken: dict[str, bool]) -> list[str]:
    """Each polled run does what its job's script does on Glue: persons.py writes the JSON
    persons as Parquet partitioned by country (``broken["on"]``: with a duplicate id),
    country_counts.py counts them, the pyspark job writes its counts. Returns the log of
    the Glue actions sluice calls (``glue:CreateJob``, …)."""
    calls: list[str] = []
    make_client = AwsSession.client
    # moto's own record of a run, read without the hooks
    record = boto3.client("glue", endpoint_url=endpoint, region_name="eu-west-1")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
    done: set[str] = set()

    def split(url: str) -> tuple[str, str]:
        bucket, _, key = url[5:].partition("/")
        return bucket, key

    def read(url: str) -> list[bytes]:
        bucket, prefix = split(url)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
                .get("Contents", []) if not o["Key"].rsplit("/", 1)[-1].startswith("_")]
        return [s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys]

    def put(url: str, body: bytes) -> None:
        bucket, key = split(url)
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    def poll(params: dict[str, Any], **_: Any) -> None:
        if params["RunId"] in done:
            return
        done.add(params["RunId"])
        run = record.get_job_run(JobName=params["JobName"], RunId=params["RunId"])["JobRun"]
        args = run["Arguments"]
        if params["JobName"] == "gluey-dev-persons.wap":
            rows = [json.loads(line) for body in read(args["--SOURCE_PATH"])
                    for line in body.splitlines()]
            if broken["on"]:
                rows.append({**rows[0], "name": "twin"})
            for country in sorted({r["country"] for r in rows}):
                part = [r for r in rows if r["country"] == country]
                put(f"{args['--OUTPUT_PATH']}country={country}/part-00000.snappy.parquet",
                    _parquet(pa.table({"id": [r["id"] for r in part],
                                       "name": [r["name"] for r in part]})))
            put(f"{args['--OUTPUT_PATH']}_SUCCESS", b"")
        elif params["JobName"] == "gluey-dev-country-counts.wap":
            bucket, prefix = split(args["--PERSONS"])
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
                    .get("Contents", []) if "country=" in o["Key"]]
            counts: dict[str, int] = {}
            for key in keys:
                country = key.split("country=")[1].split("/")[0]
                counts[country] = counts.get(country, 0) + pq.read_table(io.BytesIO(
                    s3.get_object(Bucket=bucket, Key=key)["Body"].read())).num_rows
            put(f"{args['--OUT']}part-00000.snappy.parquet", _parquet(pa.table(
                {"country": sorted(counts), "n": pa.array([counts[c] for c in sorted(counts)],
                                                          type=pa.int64())})))
        else:  # the pyspark job, through the launcher
            argv = json.loads(args["--sluice_argv"])
            out = dict(zip(argv[::2], argv[1::2], strict=True))["--output"].split("=", 1)[1]
            put(f"{out}part-00000.snappy.parquet", _parquet(pa.table(
                {"kind": ["click", "view"], "n": pa.array([1, 1], type=pa.int64())})))

    def update(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # moto has no UpdateJob: the same definition, by deleting and creating the job
        body = json.loads(params["body"])
        calls.append("glue:UpdateJob")
        record.delete_job(JobName=body["JobName"])
        record.create_job(Name=body["JobName"], **body["JobUpdate"])
        return AWSResponse("", 200, {}, None), {"JobName": body["JobName"]}

    def client(self: AwsSession, service: str) -> Any:
        fresh = service not in self._clients
        made = make_client(self, service)
        if fresh and service == "glue":
            # (update's answer ends the event before this runs: it logs itself)
            made.meta.events.register("before-call.glue", lambda event_name, **_: (
                calls.append("glue:" + event_name.rsplit(".", 1)[-1])))
            made.meta.events.register("provide-client-params.glue.GetJobRun", poll)
            made.meta.events.register("before-call.glue.UpdateJob", update)
        return made

    monkeypatch.setattr(AwsSession, "client", client)
    return calls


def _runs(glue: Any, job: str) -> list[dict[str, Any]]:
    return sorted(glue.get_job_runs(JobName=job)["JobRuns"], key=lambda r: r["StartedOn"])


def _object(target: AwsTarget, url: str) -> bytes:
    bucket, _, key = url[5:].partition("/")
    body: bytes = target.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_a_glue_script_runs_as_written_inside_write_audit_publish(
        project: Path, tmp_path: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = {"on": False}
    calls = play_glue(monkeypatch, aws, broken)
    ws = Workspace.open(project)
    try:
        target = ws.target("dev")
        assert isinstance(target, AwsTarget)
        target.load_objects(tmp_path / "data")
        manifest, _ = make_release(ws)
        outcome = deploy(ws, "dev", manifest.id, actor="ann")
        assert outcome.rows == {"curated.persons": 3, "curated.country_counts": 2,
                                "staging.event_counts": 2}
        assert all(a.passed for a in outcome.audits)
        persons_v = outcome.versions["curated.persons"]
        counts_v = outcome.versions["curated.country_counts"]
        glue = target.aws.client("glue")

        # the live job: the project's script itself, its version-free arguments
        job = glue.get_job(JobName="gluey-dev-persons")["Job"]
        digest = hashlib.sha256(PERSONS).hexdigest()
        script = f"s3://gluey-dev/sluice/scripts/{digest[:2]}/{digest}/persons.py"
        assert job["Command"] == {"Name": "glueetl", "PythonVersion": "3",
                                  "ScriptLocation": script}
        assert _object(target, script) == PERSONS
        assert job["DefaultArguments"] == {
            "--job-language": "python",
            "--SOURCE_PATH": "s3://gluey-dev/sluice/envs/dev/objects/persons/",
            "--COUNTRY": "de", "--job-bookmark-option": "job-bookmark-enable"}
        assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Role"]) \
            == ("4.0", "G.2X", 3, "arn:aws:iam::123456789012:role/glue")
        downstream = glue.get_job(JobName="gluey-dev-country-counts")["Job"]
        assert downstream["DefaultArguments"] == {"--job-language": "python"}

        # the runs: through the run job, every argument resolved for this deploy (moto, like
        # Glue, records the effective arguments: the job's defaults, then the run's)
        (run,) = _runs(glue, "gluey-dev-persons.wap")
        versions = "s3://gluey-dev/sluice/envs/dev/versions"
        assert run["Arguments"] == {
            "--job-language": "python", "--SOURCE_PATH": "s3://gluey-dev/sluice/envs/dev/objects/persons/",
            "--OUTPUT_PATH": f"{versions}/curated.persons/{persons_v}/",
            "--COUNTRY": "de", "--job-bookmark-option": "job-bookmark-enable"}
        assert (run["WorkerType"], run["NumberOfWorkers"]) == ("G.2X", 3)
        (down,) = _runs(glue, "gluey-dev-country-counts.wap")
        assert down["Arguments"] == {
            "--job-language": "python", "--PERSONS": f"{versions}/curated.persons/{persons_v}/",
            "--OUT": f"{versions}/curated.country_counts/{counts_v}/"}
        assert _runs(glue, "gluey-dev-persons") == []  # the live job never ran

        # Hive partition folders come back as the partition column
        _, rows = target.engine().fetch("SELECT id, name, country FROM curated.persons "
                                        "ORDER BY id")
        assert rows == [(1, "Ann", "de"), (2, "Bo", "se"), (3, "Cy", "de")]
        # ... and the Glue table is partitioned as the files are, so Athena sees them too
        assert _partitions(glue, persons_v) == {("de",): "country=de/", ("se",): "country=se/"}

        # the pyspark job is unaffected: the launcher runs its script
        events = glue.get_job(JobName="gluey-dev-events")["Job"]
        assert events["Command"]["ScriptLocation"].endswith("/sluice_glue_launcher.py")
        assert events["DefaultArguments"]["--sluice_script"].endswith("/events.py")

        # the same release again: nothing runs, no Glue write
        writes: list[str] = []
        glue.meta.events.register(
            "before-call.glue", lambda event_name, **_: writes.append(event_name)
            if not event_name.rsplit(".", 1)[-1].startswith(("Get", "List")) else None)
        again = deploy(ws, "dev", manifest.id, actor="ann")
        assert again.versions == {} and writes == []

        # a new script whose output fails its audit: the run job ran it, the live job
        # kept the published release's script
        v2_script = PERSONS + b"# v2\n"
        (project / "glue" / "persons.py").write_bytes(v2_script)
        git(project, "commit", "-qam", "v2")
        broken["on"] = True
        v2, _ = make_release(ws)
        with pytest.raises(AuditFailed):
            deploy(ws, "dev", v2.id, actor="ann")
        digest2 = hashlib.sha256(v2_script).hexdigest()
        runner = glue.get_job(JobName="gluey-dev-persons.wap")["Job"]
        assert runner["Command"]["ScriptLocation"].endswith(f"/{digest2}/persons.py")
        assert glue.get_job(JobName="gluey-dev-persons")["Job"]["Command"][
            "ScriptLocation"] == script
        assert target.catalog()["curated.persons"] == persons_v

        # deployed for real, then rolled back: the live job has the first script again
        broken["on"] = False
        deploy(ws, "dev", v2.id, actor="ann")
        assert glue.get_job(JobName="gluey-dev-persons")["Job"]["Command"][
            "ScriptLocation"].endswith(f"/{digest2}/persons.py")
        rollback(ws, "dev", manifest.id, actor="ann")
        back = glue.get_job(JobName="gluey-dev-persons")["Job"]
        assert back["Command"]["ScriptLocation"] == script
        assert back["DefaultArguments"] == job["DefaultArguments"]
        assert target.catalog()["curated.persons"] == persons_v
        assert _partitions(glue, persons_v) == {("de",): "country=de/", ("se",): "country=se/"}

        # every Glue call of these deploys is granted by the exported policy
        document = policy(ws.config("dev"), "dev")
        allowed = {a for s in document["Statement"] for a in s["Action"]}
        assert {"glue:CreateJob", "glue:UpdateJob", "glue:StartJobRun"} <= set(calls)
        assert set(calls) - allowed == {"glue:GetJobRuns"}  # only this test lists runs
    finally:
        ws.close()


def _partitions(glue: Any, version: str) -> dict[tuple[str, ...], str]:
    """The partitions of curated.persons' Glue table (values → folder under ``version``),
    after checking the table has the partition column as a key, not as a column."""
    table = glue.get_table(DatabaseName="dev_curated", Name="persons")["Table"]
    assert table["PartitionKeys"] == [{"Name": "country", "Type": "string"}]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "name"]
    url = table["StorageDescriptor"]["Location"]
    assert url.endswith(f"/curated.persons/{version}/")
    found = glue.get_partitions(DatabaseName="dev_curated", TableName="persons")["Partitions"]
    return {tuple(p["Values"]): p["StorageDescriptor"]["Location"].removeprefix(url)
            for p in found}


def _stubbed_run(project: Path, tmp_path: Path, written: dict[str, bytes]) -> tuple[
        Any, Any, Any]:
    """A workspace, its target and the config, with ``written`` (relative key → body) put
    at curated.persons' version ``v1`` as the run's output."""
    ws = Workspace.open(project)
    target = ws.target("dev")
    assert isinstance(target, AwsTarget)
    target.load_objects(tmp_path / "data")
    for rel, body in written.items():
        target.aws.client("s3").put_object(
            Bucket="gluey-dev", Key=f"{target.data.prefix('curated.persons', 'v1')}{rel}",
            Body=body)
    return ws, target, ws.config("dev")


def _expect_run(stub: Stubber, script: str, state: str = "SUCCEEDED") -> None:
    """The calls a first run of persons makes to Glue, each checked against its exact
    parameters (and AWS's API model, which the Stubber validates them with)."""
    name = "gluey-dev-persons.wap"
    defaults = {"--job-language": "python",
                "--SOURCE_PATH": "s3://gluey-dev/sluice/envs/dev/objects/persons/",
                "--COUNTRY": "de", "--job-bookmark-option": "job-bookmark-enable"}
    stub.add_client_error("get_job", "EntityNotFoundException", expected_params={
        "JobName": name})
    stub.add_response("create_job", {"Name": name}, {
        "Name": name, "Tags": {"sluice:job": name},
        "Role": "arn:aws:iam::123456789012:role/glue",
        "Command": {"Name": "glueetl", "PythonVersion": "3", "ScriptLocation": script},
        "DefaultArguments": defaults, "GlueVersion": "4.0", "WorkerType": "G.2X",
        "NumberOfWorkers": 3,
        "Description": "sluice glue job persons: runs inside write-audit-publish"})
    stub.add_response("start_job_run", {"JobRunId": "jr_1"}, {
        "JobName": name, "WorkerType": "G.2X", "NumberOfWorkers": 3, "Arguments": {
            "--SOURCE_PATH": "s3://gluey-dev/sluice/envs/dev/objects/persons/",
            "--OUTPUT_PATH": "s3://gluey-dev/sluice/envs/dev/versions/curated.persons/v1/",
            "--COUNTRY": "de", "--job-bookmark-option": "job-bookmark-enable"}})
    stub.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState": state}},
                      {"JobName": name, "RunId": "jr_1"})


def test_a_run_passes_exactly_the_resolved_arguments(project: Path, tmp_path: Path) -> None:

    ws, target, cfg = _stubbed_run(project, tmp_path, {
        "country=de/part-0.parquet": _parquet(pa.table({"id": [1, 3], "name": ["a", "c"]})),
        "country=se/part-0.parquet": _parquet(pa.table({"id": [2], "name": ["b"]}))})
    try:
        digest = hashlib.sha256(PERSONS).hexdigest()
        script = f"s3://gluey-dev/sluice/scripts/{digest[:2]}/{digest}/persons.py"
        graph = build_graph(project, cfg, "dev")
        with Stubber(target.aws.client("glue")) as stub:
            _expect_run(stub, script)
            result = run_glue_script(graph.jobs["persons"], cfg, project, target,
                                     Resolver(cfg, target, {}, {}), {}, "v1", "fp",
                                     sleep=lambda s: None)
            stub.assert_no_pending_responses()
        assert result.versions == {"curated.persons": "v1"}
        assert result.rows == {"curated.persons": 3}
        assert _object(target, script) == PERSONS
        stored = target.data.get("curated.persons", "v1")
        assert stored is not None
        assert dict(stored.columns) == {"id": "BIGINT", "name": "VARCHAR", "country": "VARCHAR"}
    finally:
        ws.close()


def test_an_output_written_as_csv_fails_the_job_naming_its_argument(
        project: Path, tmp_path: Path) -> None:

    ws, target, cfg = _stubbed_run(project, tmp_path, {"part-00000.csv": b"id,name\n1,a\n"})
    try:
        digest = hashlib.sha256(PERSONS).hexdigest()
        graph = build_graph(project, cfg, "dev")
        with Stubber(target.aws.client("glue")) as stub:
            _expect_run(stub, f"s3://gluey-dev/sluice/scripts/{digest[:2]}/{digest}/persons.py")
            with pytest.raises(JobError) as info:
                run_glue_script(graph.jobs["persons"], cfg, project, target,
                                Resolver(cfg, target, {}, {}), {}, "v1", "fp",
                                sleep=lambda s: None)
        assert info.value.message == (
            "job persons: Glue run jr_1 succeeded but wrote no Parquet files for "
            "curated.persons at --OUTPUT_PATH = s3://gluey-dev/sluice/envs/dev/versions/"
            "curated.persons/v1/ (it holds part-00000.csv: not Parquet)")
        assert info.value.tip and "args['OUTPUT_PATH']" in info.value.tip
        assert target.versions() == []
    finally:
        ws.close()
