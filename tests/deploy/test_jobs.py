"""Where SQL jobs run, their SQL is vetted again and every table must be a declared input."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.deploy.jobs import JobError, Resolver, release_file, rewrite_sql
from sluice.errors import ConfigError


class _Relations(Resolver):
    """Each dataset resolves to a version table named after it."""

    def __init__(self) -> None:  # no config or target: only relation() is used
        pass

    def relation(self, dataset: str) -> str:
        return f"v.{dataset.replace('.', '__')}"


def _rewrite(sql: str, inputs: tuple[str, ...] = ("raw.orders",)) -> str:
    return rewrite_sql(sql, "duckdb", "duckdb", _Relations(), inputs, source="jobs/j.sql")


def test_inputs_are_swapped_for_their_relations_and_ctes_are_left_alone() -> None:
    out = _rewrite("WITH o AS (SELECT * FROM raw.orders) SELECT * FROM o")
    assert "v.raw__orders" in out and "FROM o" in out


def test_a_table_that_is_not_an_input_is_refused_not_left_to_the_warehouse() -> None:
    # the CTE covers only the subquery: the outer `o` would read a warehouse table
    with pytest.raises(JobError) as caught:
        _rewrite("SELECT * FROM (WITH o AS (SELECT * FROM raw.orders) SELECT * FROM o) s, o")
    assert caught.value.message.startswith("jobs/j.sql:1:73: the job reads o, which is not")


def test_a_file_read_is_refused_where_the_job_runs() -> None:
    with pytest.raises(ConfigError) as caught:
        _rewrite("SELECT * FROM raw.orders, read_text('/etc/passwd')")
    assert caught.value.message.startswith("jobs/j.sql:1:27: table function read_text()")


def test_a_job_file_resolving_beside_the_release_is_outside_it(tmp_path: Path) -> None:
    """Python, PySpark and glue jobs share this rule: a symlink into a folder whose name
    merely starts like the release's (``v1`` / ``v1-other``) is outside it too."""
    release, beside = tmp_path / "v1", tmp_path / "v1-other"
    (release / "jobs").mkdir(parents=True)
    beside.mkdir()
    (beside / "steal.py").write_text("")
    (release / "jobs" / "steal.py").symlink_to(beside / "steal.py")
    with pytest.raises(JobError, match=r"job counts: jobs/steal\.py is outside the release"):
        release_file(release, "counts", "jobs/steal.py")
    (release / "jobs" / "ok.py").write_text("")
    assert release_file(release, "counts", "jobs/ok.py") == (release / "jobs" / "ok.py").resolve()
