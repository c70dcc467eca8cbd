"""The content-addressed artifact store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sluice.errors import ReleaseError
from sluice.release import ArtifactStore
from sluice.release.artifacts import CHUNK_SIZE


def test_put_bytes_is_content_addressed_and_stored_once(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_bytes(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert store.path_of(digest) == tmp_path / "a" / "blobs" / digest[:2] / digest[2:]
    assert store.read(digest) == b"hello"
    assert store.put_bytes(b"hello") == digest
    assert store.blob_count() == 1
    assert store.has(digest)
    assert store.verify_blob(digest)


def test_put_file_streams_large_files(tmp_path: Path) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 256 * 3 + 7)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_file(src)
    assert digest == hashlib.sha256(data).hexdigest()
    with store.open(digest) as fh:
        assert fh.read() == data
    # No temporary files are left beside the blob.
    assert [p.name for p in store.path_of(digest).parent.iterdir()] == [digest[2:]]


def test_existing_blob_is_never_rewritten(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_bytes(b"x")
    before = store.path_of(digest).stat().st_mtime_ns
    store.put_bytes(b"x")
    assert store.path_of(digest).stat().st_mtime_ns == before


def test_blob_count_ignores_temporary_files(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_bytes(b"x")
    (store.path_of(digest).parent / ".tmp-leftover").write_bytes(b"partial")
    assert store.blob_count() == 1


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "ab", "A" * 64, "g" * 64, "0" * 63, "/" + "0" * 63, ""]
)
def test_digests_are_validated_before_building_paths(tmp_path: Path, bad: str) -> None:
    store = ArtifactStore(tmp_path / "a")
    with pytest.raises(ReleaseError, match="is not a SHA-256 digest"):
        store.path_of(bad)
    with pytest.raises(ReleaseError):
        store.read(bad)


def test_verify_blob_detects_tampering_and_absence(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_bytes(b"original")
    path = store.path_of(digest)
    path.chmod(0o644)
    path.write_bytes(b"evil")
    assert not store.verify_blob(digest)
    missing = hashlib.sha256(b"nope").hexdigest()
    assert not store.verify_blob(missing)
    with pytest.raises(ReleaseError, match=f"blob {missing} is missing"):
        store.read(missing)


def test_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ArtifactStore.default_root(tmp_path) == tmp_path / ".sluice" / "artifacts"
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    assert ArtifactStore.for_project(tmp_path).root == tmp_path / "home" / "artifacts"


def test_release_ids_are_validated(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    with pytest.raises(ReleaseError, match="is not a release id"):
        store.release_path("../../x")
    with pytest.raises(ReleaseError, match="release 0123456789ab not found"):
        store.read_release("0123456789ab")
