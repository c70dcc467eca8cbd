"""The read-only readers of the local target (``Target.reader``): the second wall behind
sqlguard. Whatever SQL reaches them, they neither write the warehouse nor touch files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.errors import EngineError, SluiceError
from sluice.targets.local.target import LocalTarget, make_local_target
from sluice.targets.reader import SourceSpec

#: statements that would change the warehouse, the files or the session
WRITES = [
    "INSERT INTO _sluice_versions.catalog VALUES ('x', 'y')",
    "UPDATE _sluice_versions.catalog SET version = 'v2'",
    "CREATE TABLE s.t AS SELECT 1 AS x",
    "DROP VIEW s.d",
    "DELETE FROM _sluice_versions.registry",
]


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[LocalTarget]:
    t = LocalTarget("dev", tmp_path)
    t.create_version("s.d", "v1", "f1", "SELECT 1 AS x, 'a' AS y")
    t.publish({"s.d": "v1"})
    t.close()
    (t.objects / "raw").mkdir()
    (t.objects / "raw" / "d.csv").write_text("a,b\n1,2\n")
    yield t
    t.close()


def test_duckdb_reader_reads_versions_catalog_and_sources(duck: LocalTarget) -> None:
    reader = duck.reader()
    try:
        assert reader.catalog() == {"s.d": "v1"}
        assert [(v.dataset, v.version, v.rows) for v in reader.versions()] == [("s.d", "v1", 1)]
        relations = reader.attach_sources({"raw.d": SourceSpec("raw.d", "csv", "raw/d.csv")})
        assert reader.fetch(f"SELECT * FROM {relations['raw.d']}") == (["a", "b"], [(1, 2)])
        relation = reader.version_relation("s.d", "v1")
        assert reader.fetch(f"SELECT * FROM {relation}") == (["x", "y"], [(1, "a")])
        assert reader.column_count(relation) == 2
    finally:
        reader.close()


@pytest.mark.parametrize("sql", [
    *WRITES,
    "COPY (SELECT 1) TO '{tmp}/out.csv'",
    "COPY (SELECT 1) TO '{objects}/raw/d.csv'",  # overwriting a source
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '{objects}/raw/d.csv'",  # even the objects folder: only what was attached
    "ATTACH '{tmp}/other.duckdb' AS other",
    "SET enable_external_access = true",
    "LOAD httpfs",
])
def test_duckdb_reader_refuses_every_write_and_file_access(duck: LocalTarget, tmp_path: Path,
                                                           sql: str) -> None:
    reader = duck.reader()
    try:
        reader.attach_sources({})
        with pytest.raises(EngineError):
            reader.fetch(sql.format(tmp=tmp_path, objects=duck.objects))
    finally:
        reader.close()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()
    assert (duck.objects / "raw" / "d.csv").read_text() == "a,b\n1,2\n"
    assert duck.catalog() == {"s.d": "v1"} and len(duck.versions()) == 1


def test_duckdb_reader_of_a_never_deployed_environment_says_so(tmp_path: Path) -> None:
    with pytest.raises(SluiceError, match="nothing was ever deployed there"):
        LocalTarget("dev", tmp_path).reader()
    assert not (tmp_path / "envs" / "dev" / "warehouse.duckdb").exists()


@pytest.mark.postgres
def test_postgres_reader_runs_read_only_transactions(tmp_path: Path, postgres_db: str) -> None:
    target = make_local_target("dev", tmp_path, warehouse=postgres_db)
    target.create_version("s.d", "v1", "f1", "SELECT 1 AS x")
    target.publish({"s.d": "v1"})
    reader = target.reader()
    try:
        assert reader.catalog() == {"s.d": "v1"}
        assert reader.fetch(f"SELECT * FROM {reader.version_relation('s.d', 'v1')}") \
            == (["x"], [(1,)])
        for sql in [*WRITES, "SELECT nextval('nope')",
                    "SET transaction_read_only = off; INSERT INTO s.t VALUES (1)"]:
            with pytest.raises(EngineError):
                reader.fetch(sql)
        with pytest.raises(SluiceError, match="not loaded"):
            reader.attach_sources({"raw.d": SourceSpec("raw.d", "csv", "raw/d.csv")})
        # DQDL evaluation only registers temporary views: allowed in a read-only session
        from sluice.engines.base import DataRef

        engine = reader.engine()
        engine.register("primary_x", DataRef("_sluice_versions.s__d__v1", "table"))
        assert engine.fetch("SELECT count(*) FROM primary_x") == (["count"], [(1,)])
    finally:
        reader.close()
    assert target.catalog() == {"s.d": "v1"} and len(target.versions()) == 1
    target.close()
