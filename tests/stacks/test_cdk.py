"""A CDK app (tests/fixtures/cdk_app: a Node app on aws-cdk-lib) synthesised at release time:
its template and zipped asset become release files; deployed to moto, the asset goes to the
environment's bucket content-addressed and the function is made from it; the cfn check lints
the synthesised template."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import boto3
import pytest

from sluice.check.context import CheckOptions
from sluice.check.kinds.cfn import CfnCheck
from sluice.check.runner import run_checks
from sluice.config import load_project
from sluice.deploy.deployer import deploy
from sluice.errors import ReleaseError
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace
from sluice.stacks.cdk import find_cdk, synthesised_template
from sluice.stacks.packaging import Build
from tests.release.conftest import Repo

FIXTURE = Path(__file__).parents[1] / "fixtures" / "cdk_app"


def config(endpoint: str, stack: str = "Ingest", lint: str = "") -> str:
    target = {"type": "aws", "region": "eu-west-1", "bucket": "shop-dev",
              "endpoint_url": endpoint}
    return ("project: shop\nstacks:\n  ingest:\n    cdk:\n      app: node app.js\n"
            f"      stack: {stack}\n      context: {{bucket: shop-dev-landing}}\n{lint}"
            f"environments:\n  dev:\n    target: {json.dumps(target)}\n")


def project(root: Path, endpoint: str) -> Repo:
    shutil.copytree(FIXTURE, root)
    repo = Repo(root)
    repo.write("sluice.yaml", config(endpoint))
    repo.commit("init")
    return repo


@pytest.mark.aws
@pytest.mark.cdk
def test_a_cdk_app_is_synthesised_at_release_time_and_deploys(
        aws: str, tmp_path: Path, cdk_cli: Path) -> None:
    repo = project(tmp_path / "shop", aws)
    ws = Workspace.open(repo.root)
    try:
        manifest, _ = make_release(ws)
        template = json.loads(ws.artifacts.path_of(
            manifest.files["_sluice_build/stacks/ingest/template.json"]).read_bytes())
        (asset,) = [p for p in manifest.files if p.startswith("_sluice_build/assets/")]
        # no bootstrap bucket, version parameter or rule: sluice uploads the assets itself
        assert "Parameters" not in template and "Rules" not in template
        (code,) = [r["Properties"]["Code"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function"]
        assert code == {"S3Bucket": "%%sluice:bucket%%",
                        "S3Key": f"%%sluice:key:{asset.rsplit('/', 1)[1]}%%"}
        deploy(ws, "dev", manifest.id, actor="ann")
    finally:
        ws.close()
    s3 = boto3.client("s3", endpoint_url=aws, region_name="eu-west-1")
    key = f"sluice/assets/{manifest.files[asset]}.zip"
    body = s3.get_object(Bucket="shop-dev", Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == manifest.files[asset]
    assert "shop-dev-landing" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    lam = boto3.client("lambda", endpoint_url=aws, region_name="eu-west-1")
    assert [f["Handler"] for f in lam.list_functions()["Functions"]] == ["index.handler"]


@pytest.mark.cdk
def test_synth_failures_and_a_missing_cli_are_clear_errors(
        tmp_path: Path, cdk_cli: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    (root / "sluice.yaml").write_text(config("http://127.0.0.1:1", stack="Nope"))
    cfg = load_project(root)
    assert cfg.stacks["ingest"].cdk is not None
    with pytest.raises(ReleaseError) as info:
        synthesised_template(root, "ingest", cfg.stacks["ingest"].cdk, 120, Build())
    assert info.value.message.startswith("stack ingest: cdk synth --app 'node app.js' Nope "
                                         "failed (exit status 1):")
    assert "Nope" in info.value.message.split("\n", 1)[1]

    monkeypatch.delenv("SLUICE_CDK")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ReleaseError) as missing:
        find_cdk(root)
    assert "npm install -g aws-cdk" in (missing.value.tip or "")


@pytest.mark.cdk
def test_the_cfn_check_lints_the_synthesised_template(tmp_path: Path, cdk_cli: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURE, root)
    (root / "sluice.yaml").write_text(config("http://127.0.0.1:1",
                                             lint="    lint: {include_checks: [I]}\n"))
    report = run_checks(root, root / ".sluice", CheckOptions(use_cache=False), [CfnCheck()])
    (result,) = report.results
    assert result.name == "ingest@dev"
    # informational findings (include_checks: [I]) on the template cdk made, named as such
    assert result.findings and {f.path for f in result.findings} == {
        "ingest (synthesised by cdk)"}
    assert "I" in {f.code[0] for f in result.findings}
    assert result.status.value == "passed"
