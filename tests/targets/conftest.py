"""Target kinds for the conformance suite: one entry per target, the same tests for all.

A kind knows how to build its target for an environment and the few things the contract does
not expose but the suite must observe or provoke: putting a file into the environment's object
storage, listing the physical storage of dataset versions (to prove that publish copies
nothing), and losing one version's storage behind the registry's back (to make a publish fail
half-way). A new target (``aws``) joins by adding one :class:`TargetKind` to ``KINDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice.targets import Target, create_target
from sluice.targets.local.target import SCHEMA, LocalTarget


@dataclass(frozen=True)
class TargetKind:
    name: str
    #: build the target of environment ``env`` whose home is ``home``
    make: Callable[[str, Path], Target]
    #: write ``data`` at ``location`` (relative) in the environment's object storage
    put_object: Callable[[Target, str, bytes], None]
    #: the physical storage objects behind every dataset version (tables, prefixes)
    physical: Callable[[Target], set[str]]
    #: destroy the storage of one version but keep its registry entry (a fault to inject)
    lose_storage: Callable[[Target, str, str], None]


def _local(target: Target) -> LocalTarget:
    assert isinstance(target, LocalTarget)
    return target


def _local_put(target: Target, location: str, data: bytes) -> None:
    path = _local(target).objects / location
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _local_physical(target: Target) -> set[str]:
    _, rows = target.engine().fetch(
        "SELECT table_name FROM duckdb_tables() "
        f"WHERE schema_name = '{SCHEMA}' AND table_name NOT IN ('registry', 'catalog')"
    )
    return {r[0] for r in rows}


def _local_lose(target: Target, dataset: str, version: str) -> None:
    target.engine().fetch(f"DROP TABLE {target.version_table(dataset, version)}")


KINDS = [
    TargetKind(
        name="local",
        make=lambda env, home: create_target("local", env, home),
        put_object=_local_put,
        physical=_local_physical,
        lose_storage=_local_lose,
    ),
]


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
def kind(request: pytest.FixtureRequest) -> TargetKind:
    k: TargetKind = request.param
    return k


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def target(kind: TargetKind, home: Path) -> Iterator[Target]:
    t = kind.make("dev", home)
    try:
        yield t
    finally:
        t.close()
