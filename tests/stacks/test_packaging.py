"""Templates packaged at release time as ``aws cloudformation package`` does: local artifacts
become release files (folders zipped deterministically), their references placeholders; the
same tree gives the same release digest; paths out of the project are refused at their line."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice.config import load_project
from sluice.errors import ConfigError, ReleaseError
from sluice.release import ArtifactStore, build_release
from sluice.stacks.build import build_stacks
from tests.release.conftest import Repo

SAM = """\
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Resources:
  Ingest:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./src
      Handler: app.handler
      Runtime: python3.11
      Role: !GetAtt Role.Arn
      Environment:
        Variables: {BUCKET: !Sub "landing-${AWS::Region}", ZONE: !Select [0, !GetAZs ""]}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: flow.asl.json
  Deps:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      DefinitionUri: s3://shared-specs/api.yaml
  Nightly:
    Type: AWS::Glue::Job
    Properties:
      Role: !Ref GlueRole
      Command: {Name: glueetl, ScriptLocation: glue/nightly.py}
  Role: {Type: AWS::IAM::Role, Properties: {AssumeRolePolicyDocument: {}}}
  GlueRole: {Type: AWS::IAM::Role, Properties: {AssumeRolePolicyDocument: {}}}
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: nested/child.json
"""
CHILD = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
    "Code": "../src", "Handler": "app.handler", "Runtime": "python3.11",
    "Role": "arn:aws:iam::123456789012:role/x"}}}}
CONFIG = """\
project: shop
stacks:
  ingest: {template: infra/ingest.yaml}
  plain: {template: infra/plain.yaml}
environments:
  dev: {target: {type: local}}
"""


def project(root: Path) -> Repo:
    repo = Repo(root)
    repo.write("sluice.yaml", CONFIG)
    repo.write("infra/ingest.yaml", SAM)
    repo.write("infra/plain.yaml", "Resources:\n  B: {Type: AWS::S3::Bucket}\n")
    repo.write("infra/src/app.py", "def handler(event, context):\n    return 1\n")
    repo.write("infra/src/lib/util.py", "X = 1\n")
    repo.write("infra/flow.asl.json", '{"StartAt": "A", "States": {"A": {"Type": "Pass", '
                                      '"End": true}}}\n')
    repo.write("infra/layer/requirements.txt", "requests\n")
    repo.write("infra/glue/nightly.py", "import sys\n")
    repo.write("infra/nested/child.json", json.dumps(CHILD, indent=2))
    repo.commit("init")
    return repo


def release(root: Path, store: ArtifactStore) -> Any:
    cfg = load_project(root)
    manifest, _ = build_release(root, store, project="shop",
                                generate=lambda files: build_stacks(root, cfg, files))
    return manifest


def blob(store: ArtifactStore, digest: str) -> bytes:
    return store.path_of(digest).read_bytes()


def test_local_artifacts_become_release_files_and_placeholders(tmp_path: Path) -> None:
    root = tmp_path / "p"
    project(root)
    store = ArtifactStore(tmp_path / "store")
    manifest = release(root, store)
    files = manifest.files
    # a template without local artifacts deploys as written: nothing built for it
    assert "_sluice_build/stacks/plain/template.yaml" not in files
    packaged = yaml.safe_load(blob(store, files["_sluice_build/stacks/ingest/template.yaml"]))
    res = packaged["Resources"]
    # short-form tags come back in their long form, the rest untouched
    assert res["Ingest"]["Properties"]["Role"] == {"Fn::GetAtt": ["Role", "Arn"]}
    assert res["Ingest"]["Properties"]["Environment"]["Variables"] == {
        "BUCKET": {"Fn::Sub": "landing-${AWS::Region}"},
        "ZONE": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}
    assert packaged["AWSTemplateFormatVersion"] == "2010-09-09"
    assert res["Api"]["Properties"]["DefinitionUri"] == "s3://shared-specs/api.yaml"

    code = res["Ingest"]["Properties"]["CodeUri"]
    assert code.startswith("s3://%%sluice:bucket%%/%%sluice:key:") and code.endswith(".zip%%")
    asset = code.split("sluice:key:")[1].removesuffix("%%")
    with zipfile.ZipFile(io.BytesIO(blob(store, files[f"_sluice_build/assets/{asset}"]))) as z:
        assert z.namelist() == ["app.py", "lib/util.py"]
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    flow = res["Flow"]["Properties"]["DefinitionUri"]
    assert set(flow) == {"Bucket", "Key"} and flow["Key"].endswith(".json%%")
    layer = res["Deps"]["Properties"]["ContentUri"]
    assert layer.endswith(".zip%%")
    script = res["Nightly"]["Properties"]["Command"]["ScriptLocation"]
    assert script.endswith(".py%%")  # a file property: the script as it is
    assert blob(store, files["_sluice_build/assets/" + script.split("key:")[1][:-2]]) == \
        b"import sys\n"

    child_url = res["Child"]["Properties"]["TemplateURL"]
    assert child_url.startswith("%%sluice:url:") and child_url.endswith(".template%%")
    child = json.loads(blob(store, files["_sluice_build/assets/" + child_url[13:-2]]))
    # JSON stays JSON, its own paths (relative to it) packaged the same way: one artifact
    assert child["Resources"]["Fn"]["Properties"]["Code"] == {
        "S3Bucket": "%%sluice:bucket%%", "S3Key": f"%%sluice:key:{asset}%%"}


def test_the_same_tree_gives_the_same_bytes_and_release_digest(tmp_path: Path) -> None:
    root = tmp_path / "p"
    project(root)
    first = release(root, ArtifactStore(tmp_path / "one"))
    for path in (root / "infra" / "src").rglob("*"):  # other timestamps, same content
        os.utime(path, (1_000_000, 1_000_000))
    second = release(root, ArtifactStore(tmp_path / "two"))
    assert first.digest == second.digest
    assert {k: v for k, v in first.files.items() if k.startswith("_sluice_build/")} == \
        {k: v for k, v in second.files.items() if k.startswith("_sluice_build/")}


@pytest.mark.parametrize("path", ["../../outside", "/etc", "escape"])
def test_a_path_out_of_the_project_is_refused_at_its_line(tmp_path: Path, path: str) -> None:
    root = tmp_path / "p"
    repo = project(root)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.py").write_text("TOKEN = 1\n")
    if path == "escape":  # a link out, ignored by git (a committed one is refused anyway)
        os.symlink(tmp_path / "outside", root / "infra" / "escape")
        repo.write(".gitignore", "infra/escape\n")
    repo.write("infra/ingest.yaml", SAM.replace("CodeUri: ./src", f"CodeUri: {path}"))
    repo.commit("escape")
    with pytest.raises(ReleaseError) as info:
        release(root, ArtifactStore(tmp_path / "store"))
    assert info.value.message == (f"infra/ingest.yaml:7: Ingest (AWS::Serverless::Function) "
                                  f"CodeUri: {path!r} is outside the project")
    assert "relative to the template" in (info.value.tip or "")


def test_an_uncommitted_or_missing_artifact_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "p"
    repo = project(root)
    repo.write("infra/ingest.yaml", SAM.replace("glue/nightly.py", "glue/missing.py"))
    repo.commit("typo")
    with pytest.raises(ReleaseError) as info:
        release(root, ArtifactStore(tmp_path / "store"))
    assert info.value.message.startswith("infra/ingest.yaml:30: Nightly (AWS::Glue::Job) "
                                         "Command.ScriptLocation: 'glue/missing.py'")
    assert "not a file of the release" in info.value.message


def test_nested_templates_that_include_each_other_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "p"
    repo = project(root)
    loop = {"Resources": {"Again": {"Type": "AWS::CloudFormation::Stack",
                                    "Properties": {"TemplateURL": "child.json"}}}}
    repo.write("infra/nested/child.json", json.dumps(loop))
    repo.commit("loop")
    with pytest.raises(ReleaseError, match=re.escape(
            "nested templates include each other: infra/ingest.yaml → infra/nested/child.json"
            " → infra/nested/child.json")):
        release(root, ArtifactStore(tmp_path / "store"))


def test_the_build_folder_is_reserved(tmp_path: Path) -> None:
    root = tmp_path / "p"
    repo = project(root)
    repo.write("_sluice_build/stacks/ingest/template.yaml", "Resources: {}\n")
    repo.commit("collide")
    with pytest.raises(ReleaseError, match="_sluice_build/ is reserved"):
        release(root, ArtifactStore(tmp_path / "store"))


def test_a_stack_is_a_template_or_a_cdk_app_never_both(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(
        "project: shop\nstacks:\n  both:\n    template: a.yaml\n"
        "    cdk: {app: node app.js, stack: Both}\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("Resources: {}\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert "sluice.yaml:4" in str(info.value) and "exactly one of the two" in str(info.value)
