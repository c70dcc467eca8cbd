"""Target kinds for the conformance suite: one entry per target, the same tests for all.

A kind knows how to build its target for an environment and the few things the contract does
not expose but the suite must observe or provoke: putting a file into the environment's object
storage, listing the physical storage of dataset versions (to prove that publish copies
nothing), and losing one version's storage behind the registry's back (to make a publish fail
half-way). A new target (``aws``) joins by adding one :class:`TargetKind` to ``KINDS``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sluice.targets import Target, create_target
from sluice.targets.aws.target import AwsTarget
from sluice.targets.local.postgres_warehouse import LocalPostgresTarget
from sluice.targets.local.target import SCHEMA, LocalTargetBase


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
    #: needs a real PostgreSQL server: ``make`` is bound to fresh databases by ``kind``
    postgres: bool = False
    #: needs moto's server: ``make`` is bound to it by ``kind``
    aws: bool = False


def _local(target: Target) -> LocalTargetBase:
    assert isinstance(target, LocalTargetBase)
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


def _pg(target: Target) -> LocalPostgresTarget:
    assert isinstance(target, LocalPostgresTarget)
    return target


def _pg_physical(target: Target) -> set[str]:
    rows = _pg(target).engine().con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "AND table_type = 'BASE TABLE' AND table_name NOT IN ('registry', 'catalog')",
        [SCHEMA],
    ).fetchall()
    return {r[0] for r in rows}


def _pg_lose(target: Target, dataset: str, version: str) -> None:
    _pg(target).engine().con.execute(f"DROP TABLE {target.version_table(dataset, version)}")


def _aws(target: Target) -> AwsTarget:
    assert isinstance(target, AwsTarget)
    return target


def _aws_put(target: Target, location: str, data: bytes) -> None:
    t = _aws(target)
    t.ensure_bucket()
    t.aws.client("s3").put_object(Bucket=t.bucket, Key=f"{t.root}/objects/{location}", Body=data)


def _aws_physical(target: Target) -> set[str]:
    return _aws(target).data.data_keys()


def _aws_lose(target: Target, dataset: str, version: str) -> None:
    t = _aws(target)
    t.aws.client("s3").delete_object(Bucket=t.bucket,
                                     Key=t.data.prefix(dataset, version) + "data.parquet")
    shutil.rmtree(t.data.local(dataset, version), ignore_errors=True)


def _unbound(env: str, home: Path) -> Target:
    raise AssertionError("the kind fixture binds make to a database")


KINDS = [
    TargetKind(
        name="local",
        make=lambda env, home: create_target("local", env, home),
        put_object=_local_put,
        physical=_local_physical,
        lose_storage=_local_lose,
    ),
    # the local target with a PostgreSQL warehouse: one fresh database per environment
    TargetKind(
        name="local",
        make=_unbound,
        put_object=_local_put,
        physical=_pg_physical,
        lose_storage=_pg_lose,
        postgres=True,
    ),
    # the aws target on moto's server: S3 for releases and versions, Glue for the catalog
    TargetKind(
        name="aws",
        make=_unbound,
        put_object=_aws_put,
        physical=_aws_physical,
        lose_storage=_aws_lose,
        aws=True,
    ),
]

AWS_BUCKET = "sluice-conformance"


@pytest.fixture(
    params=[
        pytest.param(k, id="local-postgres", marks=pytest.mark.postgres) if k.postgres
        else pytest.param(k, id=k.name, marks=pytest.mark.aws) if k.aws
        else pytest.param(k, id=k.name)
        for k in KINDS
    ]
)
def kind(request: pytest.FixtureRequest) -> Iterator[TargetKind]:
    k: TargetKind = request.param
    if k.aws:
        endpoint: str = request.getfixturevalue("aws")
        yield replace(k, make=lambda env, home: create_target(
            "aws", env, home, region="eu-west-1", bucket=AWS_BUCKET, endpoint_url=endpoint))
        return
    if not k.postgres:
        yield k
        return
    import psycopg
    from psycopg import sql

    url: str = request.getfixturevalue("postgres_db")
    prefix, _, dbname = url.rpartition("/")
    assert "?" not in dbname, "postgres_db URLs carry no query"
    extra: list[str] = []

    def url_for(env: str) -> str:
        if env == "dev":
            return url
        name = f"{dbname}_{env}"
        if name not in extra:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            extra.append(name)
        return f"{prefix}/{name}"

    try:
        yield replace(k, make=lambda env, home: create_target(
            "local", env, home, warehouse=url_for(env)))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for name in extra:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))


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
