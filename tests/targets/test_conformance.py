"""The target contract (``sluice.targets.base.Target``), run against every target in ``KINDS``.

Write-audit-publish, promotion and rollback are built on these operations alone, so a target
that passes this suite supports them. The suite observes targets through the contract, plus
the three hooks of :class:`tests.targets.conftest.TargetKind`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.errors import DataSourceError, ReleaseError, SluiceError
from sluice.release import ArtifactStore, Manifest
from sluice.targets import Capabilities, Target
from tests.targets.conftest import TargetKind


def select_rows(tag: str, n: int) -> str:
    """A portable SELECT of ``n`` rows ``(id, tag)``."""
    return " UNION ALL ".join(f"SELECT {i} AS id, '{tag}' AS tag" for i in range(1, n + 1))


def read(target: Target, relation: str) -> list[tuple[object, ...]]:
    _, rows = target.engine().fetch(f"SELECT id, tag FROM {relation} ORDER BY id")
    return rows


def make_release(store: ArtifactStore, files: dict[str, str]) -> Manifest:
    digests = {rel: store.put_bytes(text.encode()) for rel, text in files.items()}
    manifest = Manifest.create(
        project="conformance",
        commit="c0ffee",
        author="ada",
        committed_at="2024-05-01T12:00:00Z",
        created_at="2024-05-01T12:00:00.000000Z",
        message="",
        dirty=False,
        files=digests,
    )
    store.write_release(manifest.id, manifest.to_json())
    return manifest


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


# ---------------------------------------------------------------------------------------- code


def test_capabilities_are_data(kind: TargetKind, target: Target) -> None:
    assert target.name == kind.name
    assert isinstance(target.capabilities, Capabilities)


def test_install_and_activate_releases(target: Target, store: ArtifactStore) -> None:
    r1 = make_release(store, {"sluice.yaml": "project: a\n", "jobs/a.sql": "select 1\n"})
    r2 = make_release(store, {"sluice.yaml": "project: a\n", "jobs/a.sql": "select 2\n"})
    assert target.current_release() is None

    path = target.install_release(store, r1)
    assert path == target.release_dir(r1.id)
    assert (path / "jobs" / "a.sql").read_text() == "select 1\n"
    assert target.current_release() is None  # installed beside, not yet current
    assert target.install_release(store, r1) == path  # idempotent

    target.activate_release(r1.id)
    assert target.current_release() == r1.id
    target.install_release(store, r2)
    assert target.current_release() == r1.id
    target.activate_release(r2.id)
    assert target.current_release() == r2.id
    # the previous release stays installed: going back is a pointer swap
    assert (target.release_dir(r1.id) / "jobs" / "a.sql").read_text() == "select 1\n"
    target.activate_release(r1.id)
    assert target.current_release() == r1.id


def test_activating_a_release_that_is_not_installed_is_refused(
    target: Target, store: ArtifactStore
) -> None:
    r1 = make_release(store, {"a.txt": "a"})
    target.install_release(store, r1)
    target.activate_release(r1.id)
    with pytest.raises(ReleaseError, match="not installed"):
        target.activate_release("0123456789ab")
    assert target.current_release() == r1.id
    with pytest.raises(ReleaseError, match="invalid release id"):
        target.release_dir("../../etc")


def test_current_release_survives_reopening(
    kind: TargetKind, target: Target, home: Path, store: ArtifactStore
) -> None:
    r1 = make_release(store, {"a.txt": "a"})
    target.install_release(store, r1)
    target.activate_release(r1.id)
    again = kind.make("dev", home)
    try:
        assert again.current_release() == r1.id
    finally:
        again.close()


# ---------------------------------------------------------------------------------------- data


def test_source_sql_reads_the_object_store(kind: TargetKind, target: Target) -> None:
    kind.put_object(target, "raw/orders/a.csv", b"id,tag\n1,x\n2,y\n")
    kind.put_object(target, "raw/orders/b.csv", b"id,tag\n3,z\n")
    relation = target.source_sql("raw.orders", "csv", "raw/orders/*.csv")
    assert read(target, relation) == [(1, "x"), (2, "y"), (3, "z")]
    one = target.source_sql("raw.orders", "csv", "raw/orders/b.csv")
    assert read(target, one) == [(3, "z")]


@pytest.mark.parametrize("location", ["raw/missing/orders.csv", "raw/missing/*.csv"])
def test_a_missing_source_names_the_place_and_the_fix(target: Target, location: str) -> None:
    with pytest.raises(DataSourceError, match=r"raw\.orders") as info:
        target.source_sql("raw.orders", "csv", location)
    assert info.value.tip and "sluice load dev" in info.value.tip


def test_a_source_cannot_point_outside_the_object_store(target: Target) -> None:
    with pytest.raises(DataSourceError, match="outside"):
        target.source_sql("raw.orders", "csv", "../../secrets.csv")


def test_version_tables_are_distinct_and_validated(target: Target) -> None:
    a1 = target.version_table("staging.orders", "v1")
    assert a1 == target.version_table("staging.orders", "v1")
    assert (
        len(
            {
                a1,
                target.version_table("staging.orders", "v2"),
                target.version_table("marts.orders", "v1"),
            }
        )
        == 3
    )
    with pytest.raises(SluiceError, match="invalid version"):
        target.version_table("staging.orders", "v1; DROP TABLE x")


def test_create_version_registers_an_immutable_version(kind: TargetKind, target: Target) -> None:
    assert target.versions() == []
    assert target.create_version("staging.orders", "v1", "fp1", select_rows("one", 3)) == 3
    assert target.create_version("staging.orders", "v2", "fp2", select_rows("two", 2)) == 2
    assert target.create_version("marts.sales", "v1", "fp3", select_rows("s", 1)) == 1

    orders = target.versions("staging.orders")
    assert [(v.dataset, v.version, v.fingerprint, v.rows) for v in orders] == [
        ("staging.orders", "v2", "fp2", 2),  # newest first
        ("staging.orders", "v1", "fp1", 3),
    ]
    assert all(v.created_at for v in orders)
    assert {(v.dataset, v.version) for v in target.versions()} == {
        ("staging.orders", "v1"),
        ("staging.orders", "v2"),
        ("marts.sales", "v1"),
    }
    assert read(target, target.version_table("staging.orders", "v1")) == [
        (1, "one"),
        (2, "one"),
        (3, "one"),
    ]

    before = kind.physical(target)
    with pytest.raises(SluiceError, match="immutable"):
        target.create_version("staging.orders", "v1", "fp-other", select_rows("new", 5))
    assert kind.physical(target) == before
    assert read(target, target.version_table("staging.orders", "v1")) == [
        (1, "one"),
        (2, "one"),
        (3, "one"),
    ]
    assert target.versions("staging.orders")[1].fingerprint == "fp1"


def test_a_failed_create_leaves_nothing_behind(kind: TargetKind, target: Target) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the engine's own error; jobs wrap it
        target.create_version("staging.orders", "v1", "fp", "SELECT * FROM no_such_table")
    assert target.versions() == []
    assert kind.physical(target) == set()
    # and the version id is still free
    assert target.create_version("staging.orders", "v1", "fp", select_rows("a", 1)) == 1


def test_drop_version_refuses_the_published_one(kind: TargetKind, target: Target) -> None:
    target.create_version("staging.orders", "v1", "fp1", select_rows("one", 1))
    only_v1 = kind.physical(target)
    target.create_version("staging.orders", "v2", "fp2", select_rows("two", 1))
    target.publish({"staging.orders": "v1"})
    with pytest.raises(SluiceError, match="published"):
        target.drop_version("staging.orders", "v1")
    assert read(target, "staging.orders") == [(1, "one")]

    target.drop_version("staging.orders", "v2")
    assert [v.version for v in target.versions("staging.orders")] == ["v1"]
    assert kind.physical(target) == only_v1  # its storage is gone too


# ------------------------------------------------------------------------------------- catalog


def test_publish_points_the_catalog_at_versions_without_copying(
    kind: TargetKind, target: Target
) -> None:
    target.create_version("staging.orders", "v1", "fp1", select_rows("one", 3))
    target.create_version("marts.sales", "v1", "fp2", select_rows("sales", 2))
    physical = kind.physical(target)
    assert target.catalog() == {}

    target.publish({"staging.orders": "v1", "marts.sales": "v1"})
    assert target.catalog() == {"staging.orders": "v1", "marts.sales": "v1"}
    assert read(target, "staging.orders") == [(1, "one"), (2, "one"), (3, "one")]
    assert read(target, "marts.sales") == [(1, "sales"), (2, "sales")]
    assert kind.physical(target) == physical  # a pointer, not a copy
    assert len(target.versions()) == 2


def test_rollback_is_a_pointer_swap(kind: TargetKind, target: Target) -> None:
    target.create_version("staging.orders", "v1", "fp1", select_rows("one", 3))
    target.create_version("marts.sales", "v1", "fp1", select_rows("sales", 1))
    target.publish({"staging.orders": "v1", "marts.sales": "v1"})
    earlier = target.catalog()
    target.create_version("staging.orders", "v2", "fp2", select_rows("two", 2))
    physical = kind.physical(target)

    target.publish({"staging.orders": "v2", "marts.sales": "v1"})
    assert target.catalog() == {"staging.orders": "v2", "marts.sales": "v1"}
    assert read(target, "staging.orders") == [(1, "two"), (2, "two")]

    target.publish(earlier)  # roll back
    assert target.catalog() == earlier
    assert read(target, "staging.orders") == [(1, "one"), (2, "one"), (3, "one")]
    assert kind.physical(target) == physical
    assert {(v.version, v.rows) for v in target.versions("staging.orders")} == {
        ("v1", 3),
        ("v2", 2),
    }


def test_publish_leaves_entries_it_does_not_name(target: Target) -> None:
    target.create_version("staging.orders", "v1", "fp", select_rows("one", 1))
    target.create_version("marts.sales", "v1", "fp", select_rows("s", 1))
    target.create_version("marts.sales", "v2", "fp", select_rows("s2", 1))
    target.publish({"staging.orders": "v1", "marts.sales": "v1"})
    target.publish({"marts.sales": "v2"})
    assert target.catalog() == {"staging.orders": "v1", "marts.sales": "v2"}


def test_exact_publish_removes_entries_it_does_not_name(target: Target) -> None:
    target.create_version("staging.orders", "v1", "fp", select_rows("one", 1))
    target.create_version("marts.sales", "v1", "fp", select_rows("s", 1))
    target.publish({"staging.orders": "v1", "marts.sales": "v1"})
    target.publish({"staging.orders": "v1"}, exact=True)
    assert target.catalog() == {"staging.orders": "v1"}
    with pytest.raises(Exception, match="sales"):
        read(target, "marts.sales")
    assert len(target.versions("marts.sales")) == 1  # the version itself is kept for rollback
    target.publish({}, exact=True)
    assert target.catalog() == {}


def test_publish_is_all_or_nothing(kind: TargetKind, target: Target) -> None:
    for ds in ("marts.a", "marts.b", "marts.c"):
        target.create_version(ds, "v1", "fp1", select_rows(f"{ds}-1", 1))
        target.create_version(ds, "v2", "fp2", select_rows(f"{ds}-2", 1))
    target.publish({"marts.a": "v1", "marts.b": "v1", "marts.c": "v1"})
    before = target.catalog()
    # the middle entry fails once the first has been swapped
    kind.lose_storage(target, "marts.b", "v2")

    with pytest.raises(SluiceError, match=r"publish.*nothing was published") as info:
        target.publish({"marts.a": "v2", "marts.b": "v2", "marts.c": "v2"})
    assert "marts.b" in info.value.message
    assert target.catalog() == before
    for ds in ("marts.a", "marts.b", "marts.c"):
        assert read(target, ds) == [(1, f"{ds}-1")]


def test_publishing_an_unknown_version_is_refused(target: Target) -> None:
    target.create_version("staging.orders", "v1", "fp1", select_rows("one", 1))
    target.publish({"staging.orders": "v1"})
    with pytest.raises(SluiceError, match="v9") as info:
        target.publish({"staging.orders": "v9"})
    assert "staging.orders" in info.value.message
    assert target.catalog() == {"staging.orders": "v1"}
    assert read(target, "staging.orders") == [(1, "one")]


def test_the_catalog_survives_reopening(kind: TargetKind, target: Target, home: Path) -> None:
    target.create_version("staging.orders", "v1", "fp1", select_rows("one", 2))
    target.publish({"staging.orders": "v1"})
    target.close()
    again = kind.make("dev", home)
    try:
        assert again.catalog() == {"staging.orders": "v1"}
        assert read(again, "staging.orders") == [(1, "one"), (2, "one")]
        assert [v.version for v in again.versions()] == ["v1"]
    finally:
        again.close()


def test_environments_are_isolated(kind: TargetKind, target: Target, home: Path) -> None:
    target.create_version("staging.orders", "v1", "fp1", select_rows("dev", 1))
    target.publish({"staging.orders": "v1"})
    staging = kind.make("staging", home)
    try:
        assert staging.catalog() == {}
        assert staging.versions() == []
        assert staging.current_release() is None
        staging.create_version("staging.orders", "v1", "fp1", select_rows("staging", 2))
        staging.publish({"staging.orders": "v1"})
        assert read(staging, "staging.orders") == [(1, "staging"), (2, "staging")]
    finally:
        staging.close()
    assert read(target, "staging.orders") == [(1, "dev")]
