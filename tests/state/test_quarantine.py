"""The state store's record of versions an audit refused (schema v4, ``quarantine``)."""

from __future__ import annotations

import datetime as dt

import pytest

from sluice.state import QuarantineRecord, StateError, StateStore

from .conftest import release


def test_quarantined_versions_round_trip_per_environment(store: StateStore) -> None:
    store.add_release(release())
    dep = store.start_deployment("dev", "abc123def456", "deploy", "ada")
    old = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    first = QuarantineRecord("dev", "s.orders", "v1", dep, "f1", "RowCount > 0 failed", old)
    second = QuarantineRecord("dev", "s.orders", "v2", dep, "f1", "again")
    store.record_quarantine(first)
    store.record_quarantine(second)
    store.record_quarantine(first)  # once per version
    store.record_quarantine(QuarantineRecord("prod", "s.orders", "v9", dep, "f1", "prod"))
    assert [q.version for q in store.quarantined("dev")] == ["v2", "v1"]  # newest first
    assert store.quarantined("dev", "s.orders")[1] == first
    assert store.quarantined("dev", "other") == []
    store.release_quarantine("dev", "s.orders", "v1")
    assert [q.version for q in store.quarantined("dev")] == ["v2"]
    assert [q.version for q in store.quarantined("prod")] == ["v9"]


def test_a_quarantine_record_needs_its_deployment(store: StateStore) -> None:
    with pytest.raises(StateError, match="unknown deployment 42"):
        store.record_quarantine(QuarantineRecord("dev", "s.orders", "v1", 42, "f", "x"))
