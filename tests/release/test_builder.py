"""Building releases from real git repositories."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sluice.errors import ReleaseError
from sluice.release import (
    ArtifactStore,
    Manifest,
    build_release,
    list_releases,
    load_release,
)

from .conftest import Repo


def test_build_records_files_and_git_provenance(repo: Repo, store: ArtifactStore) -> None:
    manifest, created = build_release(
        repo.root, store, jobs={"orders": "f1"}, project="demo", message="first"
    )
    assert created
    assert sorted(manifest.files) == [
        ".gitignore",
        "jobs/customers.sql",
        "jobs/orders.sql",
        "sluice.yaml",
    ]
    digest = manifest.files["jobs/orders.sql"]
    assert digest == hashlib.sha256(b"select * from raw.orders\n").hexdigest()
    assert store.read(digest) == b"select * from raw.orders\n"
    assert manifest.commit == repo.git("rev-parse", "HEAD").strip()
    assert manifest.author == "Ada Lovelace <ada@example.com>"
    assert manifest.committed_at == "2024-05-01T12:00:00+00:00"
    assert manifest.project == "demo"
    assert manifest.message == "first"
    assert manifest.jobs == {"orders": "f1"}
    assert manifest.dirty is False
    assert manifest.checks is None
    stored = store.release_path(manifest.id)
    assert Manifest.from_json(stored.read_text()) == manifest


def test_unchanged_files_are_stored_once_across_releases(repo: Repo, store: ArtifactStore) -> None:
    first, _ = build_release(repo.root, store)
    blobs_before = store.blob_count()
    assert blobs_before == 4
    repo.write("jobs/orders.sql", "select id from raw.orders\n")
    repo.commit("narrow orders")
    second, created = build_release(repo.root, store)
    assert created
    assert second.id != first.id
    assert store.blob_count() == blobs_before + 1
    changed = {p for p in first.files if first.files[p] != second.files[p]}
    assert changed == {"jobs/orders.sql"}


def test_same_tree_gives_the_same_digest(repo: Repo, store: ArtifactStore, tmp_path: Path) -> None:
    first, created1 = build_release(repo.root, store, jobs={"j": "1"}, project="demo")
    second, created2 = build_release(repo.root, store, jobs={"j": "1"}, project="demo")
    assert (created1, created2) == (True, False)
    assert second == first  # the stored release, with its original created_at
    assert len(list_releases(store)) == 1

    # A clone elsewhere, with its own store, gives the very same release.
    clone = tmp_path / "clone"
    repo.git("clone", "-q", str(repo.root), str(clone))
    other, created = build_release(
        clone, ArtifactStore(tmp_path / "other-store"), jobs={"j": "1"}, project="demo"
    )
    assert created
    assert other.digest == first.digest


def test_dirty_tree_is_refused_naming_the_files(repo: Repo, store: ArtifactStore) -> None:
    repo.write("jobs/orders.sql", "select 1\n")
    repo.write("jobs/new.sql", "select 2\n")
    repo.write("debug.log", "ignored\n")
    with pytest.raises(ReleaseError) as info:
        build_release(repo.root, store)
    assert info.value.message == (
        f"{repo.root.resolve()} has 2 uncommitted change(s): jobs/new.sql, jobs/orders.sql"
    )
    assert info.value.tip == "commit first or pass --allow-dirty"
    assert info.value.exit_code == 2
    assert store.blob_count() == 0


def test_uncommitted_paths_leave_out_the_sluice_home(repo: Repo, store: ArtifactStore) -> None:
    """What team-mode `ship` warns about is what a release would call uncommitted: the
    .sluice home (not in this .gitignore) and the artifact store are never counted."""
    from sluice.release.builder import uncommitted_paths

    repo.write(".sluice/state.db", "x")
    build_release(repo.root, store)  # fills the artifact store: still clean
    assert uncommitted_paths(repo.root, store) == []
    repo.write("jobs/new.sql", "select 2\n")
    assert uncommitted_paths(repo.root, store) == ["jobs/new.sql"]


def test_dirty_refusal_lists_at_most_ten_files(repo: Repo, store: ArtifactStore) -> None:
    for i in range(13):
        repo.write(f"new/{i:02d}.sql", "select 1\n")
    with pytest.raises(ReleaseError) as info:
        build_release(repo.root, store)
    assert "has 13 uncommitted change(s): new/00.sql, " in info.value.message
    assert info.value.message.endswith("new/09.sql and 3 more")


def test_staged_changes_count_as_dirty(repo: Repo, store: ArtifactStore) -> None:
    repo.write("jobs/orders.sql", "select 1\n")
    repo.git("add", "jobs/orders.sql")
    with pytest.raises(ReleaseError, match="1 uncommitted change"):
        build_release(repo.root, store)


def test_allow_dirty_bundles_the_work_tree(repo: Repo, store: ArtifactStore) -> None:
    repo.write("jobs/orders.sql", "select 1\n")
    repo.write("jobs/new.sql", "select 2\n")
    repo.write("debug.log", "ignored\n")
    (repo.root / "jobs/customers.sql").unlink()
    manifest, created = build_release(repo.root, store, allow_dirty=True)
    assert created
    assert manifest.dirty is True
    assert sorted(manifest.files) == [
        ".gitignore",
        "jobs/new.sql",
        "jobs/orders.sql",
        "sluice.yaml",
    ]
    assert store.read(manifest.files["jobs/orders.sql"]) == b"select 1\n"


def test_allow_dirty_on_a_clean_tree_is_not_dirty(repo: Repo, store: ArtifactStore) -> None:
    clean, _ = build_release(repo.root, store)
    again, created = build_release(repo.root, store, allow_dirty=True)
    assert not again.dirty
    assert (again.digest, created) == (clean.digest, False)


def test_store_inside_the_project_is_never_released(repo: Repo, tmp_path: Path) -> None:
    # .sluice/ is not git-ignored here: it must neither make the tree dirty nor be bundled.
    store = ArtifactStore.for_project(repo.root)
    build_release(repo.root, store)
    (repo.root / ".sluice" / "state.db").write_bytes(b"x")
    custom = ArtifactStore(repo.root / "build" / "store")
    custom.put_bytes(b"pre-existing")
    manifest, _ = build_release(repo.root, custom, allow_dirty=True)
    assert not manifest.dirty
    assert not any(p.startswith((".sluice/", "build/")) for p in manifest.files)


def test_not_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "sluice.yaml").write_text("project: x\n")
    with pytest.raises(ReleaseError) as info:
        build_release(plain, ArtifactStore(tmp_path / "store"))
    assert "is not in a git repository" in info.value.message
    assert info.value.tip is not None and "git init" in info.value.tip


def test_repository_without_commits(tmp_path: Path) -> None:
    r = Repo(tmp_path / "empty")
    r.write("sluice.yaml", "project: x\n")
    with pytest.raises(ReleaseError, match="has no commit yet"):
        build_release(r.root, ArtifactStore(tmp_path / "store"), allow_dirty=True)


def test_project_in_a_subdirectory_of_the_repository(tmp_path: Path) -> None:
    r = Repo(tmp_path / "mono")
    r.write("other/x.txt", "x\n")
    r.write("pipelines/sales/sluice.yaml", "project: sales\n")
    r.write("pipelines/sales/jobs/a.sql", "select 1\n")
    r.commit()
    root = r.root / "pipelines" / "sales"
    store = ArtifactStore.for_project(root)
    manifest, _ = build_release(root, store)
    assert sorted(manifest.files) == ["jobs/a.sql", "sluice.yaml"]
    r.write("other/x.txt", "changed\n")  # outside the project: not our business
    assert build_release(root, store)[1] is False
    r.write("pipelines/sales/jobs/a.sql", "select 2\n")
    with pytest.raises(ReleaseError, match=r"1 uncommitted change\(s\): jobs/a.sql$"):
        build_release(root, store)


def test_symlink_out_of_the_project_is_refused(
    repo: Repo, store: ArtifactStore, tmp_path: Path
) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key=hunter2\n")
    os.symlink(secret, repo.root / "creds")
    repo.commit("oops")
    with pytest.raises(ReleaseError, match="cannot release creds: it is a symbolic link"):
        build_release(repo.root, store)
    assert all(b"hunter2" not in store.read(d) for d in store.iter_blobs())


def test_symlink_inside_the_project_is_followed(repo: Repo, store: ArtifactStore) -> None:
    os.symlink("jobs/orders.sql", repo.root / "alias.sql")
    repo.commit("alias")
    manifest, _ = build_release(repo.root, store)
    assert manifest.files["alias.sql"] == manifest.files["jobs/orders.sql"]


def _fake(store: ArtifactStore, message: str, created_at: str = "2024-01-01T00:00:00Z") -> Manifest:
    m = Manifest.create(
        project="p",
        commit="c",
        author="a",
        committed_at="t",
        created_at=created_at,
        message=message,
        dirty=False,
        files={},
    )
    store.write_release(m.id, m.to_json())
    return m


def test_prefix_lookup(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    made = [_fake(store, f"m{i}") for i in range(17)]  # 17 ids: two share a first hex digit
    target = made[0]
    assert load_release(store, target.id) == target
    assert load_release(store, target.digest) == target
    assert load_release(store, target.id[:8].upper()) == target
    by_first: dict[str, list[str]] = {}
    for m in made:
        by_first.setdefault(m.id[0], []).append(m.id)
    shared = next(ids for ids in by_first.values() if len(ids) > 1)
    with pytest.raises(ReleaseError, match=f"'{shared[0][0]}' is ambiguous") as info:
        load_release(store, shared[0][0])
    assert all(i in info.value.message for i in shared)
    unused = (
        next(c for c in "0123456789abcdef" if c not in by_first) if len(by_first) < 16 else None
    )
    if unused is not None:
        with pytest.raises(ReleaseError, match="no release matches"):
            load_release(store, unused)
    with pytest.raises(ReleaseError, match="no release has digest"):
        load_release(store, target.id + "0" * 52)
    with pytest.raises(ReleaseError, match="not a release id or prefix"):
        load_release(store, "../x")
    with pytest.raises(ReleaseError, match="not a release id or prefix"):
        load_release(store, "")


def test_list_releases_newest_first(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    assert list_releases(store) == []
    old = _fake(store, "old", "2024-01-01T00:00:00Z")
    new = _fake(store, "new", "2024-03-01T00:00:00Z")
    mid = _fake(store, "mid", "2024-02-01T00:00:00Z")
    assert [m.id for m in list_releases(store)] == [new.id, mid.id, old.id]
