"""Release bundles in S3: blobs under content-addressed keys (uploaded once per digest, in
parallel), manifests under ``releases/``, in a bucket with versioning on and SSE-KMS when a
key is configured."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sluice.release import ArtifactStore, Manifest
from sluice.targets.aws.session import AwsSession, aws_errors, sse_kms

UPLOAD_WORKERS = 8


@dataclass
class UploadReport:
    uploaded: int  # blobs written
    present: int  # blobs already in S3 (same digest): not written again
    manifest_key: str


class S3Artifacts:
    def __init__(self, aws: AwsSession, bucket: str, prefix: str = "sluice",
                 kms_key_id: str | None = None) -> None:
        self.aws, self.bucket = aws, bucket
        self.prefix = prefix.strip("/")
        self.kms_key_id = kms_key_id

    def blob_key(self, digest: str) -> str:
        return f"{self.prefix}/blobs/{digest[:2]}/{digest}"

    def manifest_key(self, release_id: str) -> str:
        return f"{self.prefix}/releases/{release_id}.json"

    def _extra(self) -> dict[str, Any]:
        return sse_kms(self.kms_key_id)

    def ensure_bucket(self) -> None:
        """Create the bucket if needed; versioning on (and default SSE-KMS when configured)."""
        s3 = self.aws.client("s3")
        from botocore.exceptions import ClientError

        with aws_errors(f"look up bucket {self.bucket}"):
            try:
                s3.head_bucket(Bucket=self.bucket)
                exists = True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket",
                                                                      "NotFound"}:
                    raise  # 403: not ours to use, or no permission: named by aws_errors
                exists = False
        if not exists:
            params: dict[str, Any] = {"Bucket": self.bucket}
            region = self.aws.settings.region
            if region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            with aws_errors(f"create bucket {self.bucket}"):
                s3.create_bucket(**params)
        with aws_errors(f"turn on versioning of {self.bucket}"):
            state = s3.get_bucket_versioning(Bucket=self.bucket).get("Status")
            if state != "Enabled":
                s3.put_bucket_versioning(Bucket=self.bucket,
                                         VersioningConfiguration={"Status": "Enabled"})
        if self.kms_key_id and not self._encrypted_by_default(s3):
            with aws_errors(f"set default encryption of {self.bucket}"):
                s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.kms_key_id}}]})

    def _encrypted_by_default(self, s3: Any) -> bool:
        """Whether the bucket's default encryption is already SSE-KMS with our key."""
        from botocore.exceptions import ClientError

        try:
            rules = s3.get_bucket_encryption(Bucket=self.bucket)[
                "ServerSideEncryptionConfiguration"]["Rules"]
        except ClientError:
            return False
        return any(r.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
                   == self.kms_key_id for r in rules)

    def has_blob(self, digest: str) -> bool:
        return self._exists(self.blob_key(digest))

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.aws.client("s3").head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def upload_release(self, store: ArtifactStore, manifest: Manifest) -> UploadReport:
        """Upload the blobs S3 does not have yet (in parallel), then the manifest, which
        therefore never names a blob that is missing."""
        digests = sorted(set(manifest.files.values()))
        s3 = self.aws.client("s3")

        def upload(digest: str) -> bool:
            with aws_errors(f"upload blob {digest[:12]}"):
                if self.has_blob(digest):
                    return False
                s3.put_object(Bucket=self.bucket, Key=self.blob_key(digest),
                              Body=store.read(digest), **self._extra())
                return True

        with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
            written = list(pool.map(upload, digests))
        key = self.manifest_key(manifest.id)
        if not any(written) and self._exists(key):
            return UploadReport(0, len(written), key)  # installed before: no write call
        with aws_errors(f"upload release {manifest.id}"):
            s3.put_object(Bucket=self.bucket, Key=key, Body=manifest.to_json().encode(),
                          ContentType="application/json", **self._extra())
        return UploadReport(sum(written), len(written) - sum(written), key)

    def download_release(self, release_id: str, store: ArtifactStore) -> Manifest:
        """Fetch a release (manifest and blobs) into a local store, verifying digests."""
        s3 = self.aws.client("s3")
        with aws_errors(f"download release {release_id}"):
            text = s3.get_object(Bucket=self.bucket,
                                 Key=self.manifest_key(release_id))["Body"].read()
        manifest = Manifest.from_json(text.decode())
        if manifest.id != release_id or manifest.compute_digest() != manifest.digest:
            from sluice.errors import ReleaseError

            raise ReleaseError(f"the manifest stored as release {release_id} in "
                               f"s3://{self.bucket} is not that release",
                               tip="the bucket was tampered with; rebuild the release")
        for digest in sorted(set(manifest.files.values())):
            if store.has(digest):
                continue
            with aws_errors(f"download blob {digest[:12]}"):
                body = s3.get_object(Bucket=self.bucket, Key=self.blob_key(digest))["Body"]
                data = body.read()
            if store.put_bytes(data) != digest:
                from sluice.errors import ReleaseError

                raise ReleaseError(f"blob {digest[:12]} of release {release_id} in "
                                   f"s3://{self.bucket} does not match its digest",
                                   tip="the bucket was tampered with; rebuild the release")
        store.write_release(manifest.id, manifest.to_json())
        return manifest
