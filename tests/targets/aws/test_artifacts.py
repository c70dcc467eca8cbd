"""Release bundles in S3 (moto's server): content-addressed, uploaded once per digest,
versioned bucket, role assumption with a session name that identifies the deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.errors import ReleaseError
from sluice.release import ArtifactStore, build_release
from sluice.targets.aws.artifacts import S3Artifacts
from sluice.targets.aws.session import AwsError, AwsSession, AwsSettings, session_name

pytestmark = pytest.mark.aws


def git_project(root: Path, files: dict[str, str]) -> Path:
    import subprocess

    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "c"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root


def test_a_release_is_uploaded_once_per_digest_into_a_versioned_bucket(
        aws: str, tmp_path: Path) -> None:
    session = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="ci")
    s3a = S3Artifacts(session, "acme-sluice", prefix="retail")
    s3a.ensure_bucket()
    s3 = session.client("s3")
    assert s3.get_bucket_versioning(Bucket="acme-sluice")["Status"] == "Enabled"

    store = ArtifactStore(tmp_path / "store")
    root = git_project(tmp_path / "p", {"a.sql": "SELECT 1", "b.sql": "SELECT 1",
                                        "c.py": "x = 1\n"})
    first, _ = build_release(root, store)
    report = s3a.upload_release(store, first)
    assert (report.uploaded, report.present) == (2, 0)  # a.sql and b.sql share one blob
    assert report.manifest_key == f"retail/releases/{first.id}.json"
    digest = first.files["c.py"]
    assert s3.head_object(Bucket="acme-sluice", Key=f"retail/blobs/{digest[:2]}/{digest}")

    (root / "c.py").write_text("x = 2\n")
    second, _ = build_release(root, store, allow_dirty=True)
    again = s3a.upload_release(store, second)
    assert (again.uploaded, again.present) == (1, 1)  # only the changed file

    fresh = ArtifactStore(tmp_path / "elsewhere")
    fetched = s3a.download_release(second.id, fresh)
    assert fetched.digest == second.digest and fresh.read(fetched.files["c.py"]) == b"x = 2\n"


def test_a_tampered_blob_in_s3_is_refused(aws: str, tmp_path: Path) -> None:
    session = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="ci")
    s3a = S3Artifacts(session, "acme-sluice")
    s3a.ensure_bucket()
    store = ArtifactStore(tmp_path / "store")
    release, _ = build_release(git_project(tmp_path / "p", {"a.sql": "SELECT 1"}), store)
    s3a.upload_release(store, release)
    digest = release.files["a.sql"]
    session.client("s3").put_object(Bucket="acme-sluice", Key=s3a.blob_key(digest),
                                    Body=b"DROP TABLE x")
    with pytest.raises(ReleaseError, match="does not match its digest"):
        s3a.download_release(release.id, ArtifactStore(tmp_path / "other"))


def test_cross_account_deploys_assume_the_environments_role(aws: str) -> None:
    settings = AwsSettings("eu-west-1", endpoint_url=aws,
                           role_arn="arn:aws:iam::222222222222:role/sluice-deployer",
                           external_id="acme")
    session = AwsSession(settings, env="prod", actor="dana@example.com", deployment=42)
    who = session.identity()
    assert who["account"] == "222222222222"
    assert who["arn"].endswith("assumed-role/sluice-deployer/sluice-prod-dana@example.com-d42")


def test_session_names_fit_sts_rules() -> None:
    assert session_name("prod", "Dana Smith (CI)", 7) == "sluice-prod-Dana-Smith--CI--d7"
    assert len(session_name("p", "x" * 200)) == 64


def test_access_denied_names_the_action_and_resource() -> None:
    from botocore.exceptions import ClientError

    from sluice.targets.aws.session import aws_errors

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": (
        "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: s3:PutObject "
        "on resource: arn:aws:s3:::acme-sluice/retail/blobs/ab/abc")}}, "PutObject")
    with pytest.raises(AwsError) as info, aws_errors("upload blob abc"):
        raise denied
    assert info.value.message == ("upload blob abc: access denied to s3:PutObject on "
                                  "arn:aws:s3:::acme-sluice/retail/blobs/ab/abc")
    assert "iam-policy" in (info.value.tip or "")
