"""Verifying stored releases and materialising them safely."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import pytest

from sluice.errors import ReleaseError
from sluice.release import (
    MARKER_NAME,
    ArtifactStore,
    Manifest,
    build_release,
    materialize,
    verify_release,
)

from .conftest import Repo


@pytest.fixture
def built(repo: Repo, store: ArtifactStore) -> Manifest:
    return build_release(repo.root, store, project="demo")[0]


def _tamper(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def test_intact_release_verifies(store: ArtifactStore, built: Manifest) -> None:
    assert verify_release(store, built.id[:6]) == built


def test_tampered_blob_is_named(store: ArtifactStore, built: Manifest) -> None:
    digest = built.files["jobs/orders.sql"]
    blob = store.path_of(digest)
    _tamper(blob, b"drop table orders\n")
    evil = hashlib.sha256(b"drop table orders\n").hexdigest()
    with pytest.raises(ReleaseError) as info:
        verify_release(store, built.id)
    assert info.value.message == (
        f"release {built.id} failed verification (1 problem(s)):\n"
        f"  - file 'jobs/orders.sql': blob {digest} is tampered: its content hashes to {evil} "
        f"({blob})"
    )
    assert info.value.tip == (
        f"delete the tampered blob files, then rebuild it: check out commit {built.commit} "
        "and run `sluice release`"
    )


def test_missing_blob_is_named(store: ArtifactStore, built: Manifest) -> None:
    digest = built.files["sluice.yaml"]
    blob = store.path_of(digest)
    blob.unlink()
    with pytest.raises(ReleaseError) as info:
        verify_release(store, built.id)
    assert info.value.message == (
        f"release {built.id} failed verification (1 problem(s)):\n"
        f"  - file 'sluice.yaml': blob {digest} is missing (expected at {blob})"
    )
    assert info.value.tip == (
        f"rebuild it: check out commit {built.commit} and run `sluice release`"
    )


def test_missing_blob_is_restored_by_rebuilding(
    repo: Repo, store: ArtifactStore, built: Manifest
) -> None:
    store.path_of(built.files["sluice.yaml"]).unlink()
    assert build_release(repo.root, store, project="demo") == (built, False)
    assert verify_release(store, built.id) == built


def test_tampered_manifest_is_detected(store: ArtifactStore, built: Manifest) -> None:
    path = store.release_path(built.id)
    data = json.loads(path.read_text())
    evil = hashlib.sha256(b"evil").hexdigest()
    data["files"]["jobs/orders.sql"] = evil
    _tamper(path, json.dumps(data).encode())
    actual = dataclasses.replace(built, files={**built.files, "jobs/orders.sql": evil})
    with pytest.raises(ReleaseError) as info:
        verify_release(store, built.id)
    assert info.value.message == (
        f"release {built.id}: manifest {path} has been tampered with: its content hashes "
        f"to {actual.compute_digest()}, but it records digest {built.digest} and id {built.id}"
    )
    assert info.value.tip == f"rebuild it: check out commit {built.commit} and run `sluice release`"


def test_tampered_manifest_is_repaired_by_rebuilding(
    repo: Repo, store: ArtifactStore, built: Manifest
) -> None:
    path = store.release_path(built.id)
    _tamper(path, path.read_bytes().replace(b'"dirty":false', b'"dirty":true'))
    with pytest.raises(ReleaseError, match="has been tampered with"):
        verify_release(store, built.id)
    build_release(repo.root, store, project="demo")
    assert verify_release(store, built.id).digest == built.digest


def test_corrupt_manifest_is_reported(store: ArtifactStore, built: Manifest) -> None:
    path = store.release_path(built.id)
    _tamper(path, b"{not json")
    with pytest.raises(
        ReleaseError,
        match=f"release {built.id}: manifest .* is corrupt: manifest is not valid JSON",
    ):
        verify_release(store, built.id)


def test_materialize_writes_every_file_atomically(
    store: ArtifactStore, built: Manifest, tmp_path: Path
) -> None:
    dest = tmp_path / "envs" / "dev" / "releases" / built.id
    materialize(store, built, dest)
    assert (dest / "jobs" / "orders.sql").read_text() == "select * from raw.orders\n"
    assert (dest / MARKER_NAME).read_text().strip() == built.id
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert written == sorted([*built.files, MARKER_NAME])
    assert os.listdir(dest.parent) == [built.id]  # no .tmp-* left behind

    # Idempotent: a second call leaves the directory alone.
    stamp = (dest / MARKER_NAME).stat().st_mtime_ns
    materialize(store, built, dest)
    assert (dest / MARKER_NAME).stat().st_mtime_ns == stamp


def test_materialize_refuses_a_foreign_destination(
    store: ArtifactStore, built: Manifest, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "precious.txt").write_text("keep me")
    with pytest.raises(ReleaseError, match="already exists and does not hold this release"):
        materialize(store, built, dest)
    assert (dest / "precious.txt").read_text() == "keep me"


def _forged(built: Manifest, files: dict[str, str]) -> Manifest:
    """A manifest whose digest is consistent but whose paths are hostile."""
    return Manifest.create(
        project=built.project,
        commit=built.commit,
        author=built.author,
        committed_at=built.committed_at,
        created_at=built.created_at,
        message="",
        dirty=False,
        files=files,
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../escaped.txt", "escapes the release directory"),
        ("jobs/../../escaped.txt", "escapes the release directory"),
        ("/tmp/escaped.txt", "it is absolute"),
        (".sluice-release", "collides with the .sluice-release marker"),
    ],
)
def test_materialize_refuses_path_traversal(
    store: ArtifactStore, built: Manifest, tmp_path: Path, path: str, reason: str
) -> None:
    digest = built.files["sluice.yaml"]
    forged = _forged(built, {"ok.txt": digest, path: digest})
    dest = tmp_path / "out" / "dest"
    with pytest.raises(ReleaseError, match=f"file path '{path}' is unsafe because .*{reason}"):
        materialize(store, forged, dest)
    assert not (tmp_path / "out" / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()
    assert not dest.exists()


def test_materialize_does_not_follow_symlinks_out(
    store: ArtifactStore, built: Manifest, tmp_path: Path
) -> None:
    # Paths are created inside a fresh directory, so a link planted in the destination's
    # parent cannot redirect writes.
    outside = tmp_path / "outside"
    outside.mkdir()
    parent = tmp_path / "envs"
    parent.mkdir()
    os.symlink(outside, parent / "jobs")
    materialize(store, built, parent / "rel")
    assert list(outside.iterdir()) == []
    assert (parent / "rel" / "jobs" / "orders.sql").is_file()


def test_materialize_refuses_tampered_manifest(
    store: ArtifactStore, built: Manifest, tmp_path: Path
) -> None:
    forged = dataclasses.replace(built, files={**built.files, "../x": built.files["sluice.yaml"]})
    with pytest.raises(ReleaseError, match="does not match its digest"):
        materialize(store, forged, tmp_path / "dest")


def test_materialize_detects_a_tampered_blob_and_leaves_nothing(
    store: ArtifactStore, built: Manifest, tmp_path: Path
) -> None:
    digest = built.files["jobs/orders.sql"]
    _tamper(store.path_of(digest), b"drop table orders\n")
    dest = tmp_path / "envs" / "dest"
    with pytest.raises(ReleaseError, match=f"file 'jobs/orders.sql': blob {digest} is tampered"):
        materialize(store, built, dest)
    assert os.listdir(dest.parent) == []


def test_materialize_reports_a_missing_blob(
    store: ArtifactStore, built: Manifest, tmp_path: Path
) -> None:
    digest = built.files["sluice.yaml"]
    store.path_of(digest).unlink()
    with pytest.raises(ReleaseError, match=f"blob {digest} is missing"):
        materialize(store, built, tmp_path / "out" / "dest")
    assert os.listdir(tmp_path / "out") == []
