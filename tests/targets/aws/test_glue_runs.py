"""PySpark jobs on the aws target: deployed as Glue jobs (the launcher as the script, the
project's script by content address) and run as Glue job runs inside write-audit-publish.

moto starts and completes job runs but runs nothing, so the end-to-end test plays Glue: when
sluice polls the run, the hook writes what the script would have written (from the inputs
sluice passed) to the output prefix sluice passed. A failing run is Stubber-driven."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.stub import ANY, Stubber

from sluice.deploy.deployer import deploy
from sluice.deploy.jobs import JobError, Resolver
from sluice.flow.releases import make_release
from sluice.project.graph import build_graph
from sluice.project.workspace import Workspace
from sluice.targets.aws.glue_runs import run_glue_job
from sluice.targets.aws.gluejobs import LAUNCHER
from sluice.targets.aws.session import AwsSession
from sluice.targets.aws.target import AwsTarget

pytestmark = pytest.mark.aws

CONFIG = """\
project: sparky
sources:
  raw.events: {{format: csv, path: events/*.csv}}
datasets:
  staging.event_counts:
    contract:
      columns:
        kind: {{type: VARCHAR, nullable: false}}
        n: {{type: BIGINT, nullable: false}}
      primary_key: [kind]
jobs:
  counts:
    type: pyspark
    script: jobs/counts.py
    inputs: [raw.events]
    outputs: [staging.event_counts]
    glue: {{worker_type: G.2X, workers: 4}}
environments:
  dev:
    target: {{type: aws, region: eu-west-1, bucket: sparky-dev, endpoint_url: "{url}",
             execution_role: "arn:aws:iam::123456789012:role/glue"}}
    parameters: {{threshold: "3"}}
"""


@pytest.fixture
def project(tmp_path: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sparky"
    (root / "jobs").mkdir(parents=True)
    (root / "sluice.yaml").write_text(CONFIG.format(url=aws))
    (root / "jobs" / "counts.py").write_text("print('the Glue job body')\n")
    (root / ".gitignore").write_text(".sluice/\n")
    (tmp_path / "data" / "events").mkdir(parents=True)
    (tmp_path / "data" / "events" / "e.csv").write_text("kind,at\nclick,1\nclick,2\nview,3\n")
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    return root


def play_glue(monkeypatch: pytest.MonkeyPatch,
              broken: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """Make every Glue run started through sluice do what counts.py does on Glue (with
    ``broken["on"]``: write a null count, which the contract refuses)."""
    started: list[dict[str, Any]] = []
    broken = broken if broken is not None else {"on": False}
    make_client = AwsSession.client

    def client(self: AwsSession, service: str) -> Any:
        fresh = service not in self._clients
        made = make_client(self, service)
        if fresh and service == "glue":
            def start(params: dict[str, Any], **_: Any) -> None:
                started.append(params)

            def poll(**_: Any) -> None:
                argv = json.loads(started[-1]["Arguments"]["--sluice_argv"])
                pairs = dict(zip(argv[::2], argv[1::2], strict=True))
                source = pairs["--input"].split("=", 1)[1]
                out = pairs["--output"].split("=", 1)[1]
                s3 = self.client("s3")
                bucket, _, prefix = source[5:].partition("/")
                keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
                        .get("Contents", [])]
                kinds = [k for key in keys for k in pq.read_table(io.BytesIO(
                    s3.get_object(Bucket=bucket, Key=key)["Body"].read()))["kind"].to_pylist()]
                counts = [None if broken["on"] else kinds.count(k) for k in sorted(set(kinds))]
                table = pa.table({"kind": sorted(set(kinds)),
                                  "n": pa.array(counts, type=pa.int64())})
                buf = io.BytesIO()
                pq.write_table(table, buf)
                obucket, _, oprefix = out[5:].partition("/")
                s3.put_object(Bucket=obucket, Key=oprefix + "part-00000.snappy.parquet",
                              Body=buf.getvalue())
                s3.put_object(Bucket=obucket, Key=oprefix + "_SUCCESS", Body=b"")

            made.meta.events.register("provide-client-params.glue.StartJobRun", start)
            made.meta.events.register("before-call.glue.GetJobRun", poll)
        return made

    monkeypatch.setattr(AwsSession, "client", client)
    return started


def test_a_pyspark_job_runs_as_a_glue_job_and_its_output_is_audited(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = {"on": False}
    started = play_glue(monkeypatch, broken)
    ws = Workspace.open(project)
    try:
        target = ws.target("dev")
        assert isinstance(target, AwsTarget)
        target.aws.client("iam").create_role(RoleName="glue", AssumeRolePolicyDocument="{}")
        target.load_objects(tmp_path / "data")
        manifest, _ = make_release(ws)
        outcome = deploy(ws, "dev", manifest.id, actor="ann")
        assert outcome.rows == {"staging.event_counts": 2}
        assert all(a.passed for a in outcome.audits)
        version = outcome.versions["staging.event_counts"]

        # the job: sluice's launcher runs the project's script, which is content-addressed
        job = target.aws.client("glue").get_job(JobName="sparky-dev-counts")["Job"]
        assert job["Command"]["ScriptLocation"].endswith("/sluice_glue_launcher.py")
        script = job["DefaultArguments"]["--sluice_script"]
        assert script.startswith("s3://sparky-dev/sluice/scripts/") and \
            script.endswith("/counts.py")
        assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.2X", 4)
        assert job["DefaultArguments"]["--threshold"] == "3"

        # the run: the script's own arguments, inputs as Parquet, output at the new version
        (run,) = started
        argv = json.loads(run["Arguments"]["--sluice_argv"])
        assert argv[0::2] == ["--input", "--output", "--param"]
        assert argv[1].startswith("raw.events=s3://sparky-dev/sluice/envs/dev/inputs/")
        assert argv[3] == (f"staging.event_counts=s3://sparky-dev/sluice/envs/dev/versions/"
                           f"staging.event_counts/{version}/")
        assert argv[5] == "threshold=3"
        assert run["Arguments"]["--sluice_script"] == script  # the release's, as a run argument
        assert (run["WorkerType"], run["NumberOfWorkers"]) == ("G.2X", 4)
        _, rows = target.engine().fetch("SELECT kind, n FROM staging.event_counts ORDER BY kind")
        assert rows == [("click", 2), ("view", 1)]
        glue_table = target.aws.client("glue").get_table(DatabaseName="dev_staging",
                                                          Name="event_counts")["Table"]
        assert glue_table["StorageDescriptor"]["Location"].endswith(f"/{version}/")

        # a second deploy of the same release runs nothing and writes no Glue job
        writes: list[str] = []
        target.aws.client("glue").meta.events.register(
            "before-call.glue", lambda event_name, **_: writes.append(event_name)
            if not event_name.rsplit(".", 1)[-1].startswith(("Get", "List")) else None)
        again = deploy(ws, "dev", manifest.id, actor="ann")
        assert again.versions == {} and writes == []

        # a new script whose output fails its audit: the run used it, the live job never did
        (project / "jobs" / "counts.py").write_text("print('v2')\n")
        subprocess.run(["git", "commit", "-qam", "v2"], cwd=project, check=True,
                       capture_output=True, env={"GIT_AUTHOR_NAME": "a", "PATH": "/usr/bin",
                                                 "GIT_AUTHOR_EMAIL": "a@x",
                                                 "GIT_COMMITTER_NAME": "a",
                                                 "GIT_COMMITTER_EMAIL": "a@x"})
        broken["on"] = True
        v2, _ = make_release(ws)
        from sluice.deploy.deployer import AuditFailed

        with pytest.raises(AuditFailed):
            deploy(ws, "dev", v2.id, actor="ann")
        assert started[-1]["Arguments"]["--sluice_script"] != script
        live = target.aws.client("glue").get_job(JobName="sparky-dev-counts")["Job"]
        assert live["DefaultArguments"]["--sluice_script"] == script
        assert target.catalog() == {"staging.event_counts": version}
    finally:
        ws.close()


def test_a_failed_glue_run_fails_the_job_with_glue_s_message(project: Path,
                                                             tmp_path: Path) -> None:
    ws = Workspace.open(project)
    try:
        target = ws.target("dev")
        assert isinstance(target, AwsTarget)
        target.load_objects(tmp_path / "data")
        cfg = ws.config("dev")
        graph = build_graph(project, cfg, "dev")
        resolver = Resolver(cfg, target, {}, {})
        glue = target.aws.client("glue")
        with Stubber(glue) as stub:
            stub.add_response("get_job", {"Job": {"Name": "sparky-dev-counts"}},
                              {"JobName": "sparky-dev-counts"})
            stub.add_response("start_job_run", {"JobRunId": "jr_1"}, {
                "JobName": "sparky-dev-counts", "WorkerType": "G.2X", "NumberOfWorkers": 4,
                "Arguments": ANY})
            stub.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState":
                                                         "RUNNING"}},
                              {"JobName": "sparky-dev-counts", "RunId": "jr_1"})
            stub.add_response("get_job_run", {"JobRun": {
                "Id": "jr_1", "JobRunState": "FAILED",
                "ErrorMessage": "AnalysisException: Path does not exist"}},
                {"JobName": "sparky-dev-counts", "RunId": "jr_1"})
            waits: list[float] = []
            with pytest.raises(JobError) as info:
                run_glue_job(graph.jobs["counts"], cfg, project, target, resolver, {},
                             "v1", "fp", sleep=waits.append)
            stub.assert_no_pending_responses()
        assert "Glue run jr_1 of sparky-dev-counts FAILED: AnalysisException" in \
            info.value.message
        assert info.value.tip is not None and "jr_1" in info.value.tip
        assert waits == [1.0]
        assert target.versions() == []  # nothing registered
    finally:
        ws.close()


def test_the_launcher_runs_the_script_with_its_local_arguments(aws: str,
                                                                tmp_path: Path) -> None:
    from sluice.targets.aws.session import AwsSettings

    s3 = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="t") \
        .client("s3")
    s3.create_bucket(Bucket="scripts-b", CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    out = tmp_path / "argv.json"
    s3.put_object(Bucket="scripts-b", Key="k/job.py", Body=(
        "import json, sys\n"
        f"json.dump(sys.argv[1:], open({str(out)!r}, 'w'))\n").encode())
    argv = ["--input", "a=s3://x/a/", "--output", "b=s3://x/b/"]
    env = {**os.environ, "AWS_ENDPOINT_URL": aws}
    subprocess.run([sys.executable, str(LAUNCHER), "--job-language", "python",
                    "--sluice_script", "s3://scripts-b/k/job.py",
                    "--sluice_argv", json.dumps(argv)], check=True, env=env, timeout=60)
    assert json.loads(out.read_text()) == argv
