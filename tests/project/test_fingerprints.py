"""Job fingerprints: a SQL job's comments and layout do not count, what it says does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.config import load_project
from sluice.project.graph import build_graph, canonical_sql
from sluice.project.scaffold import scaffold
from tests.flow.conftest import Project

JOB = "signups_by_country"
SQL = Path("jobs") / f"{JOB}.sql"


def _fingerprint(root: Path) -> str:
    return build_graph(root, load_project(root)).fingerprints[JOB]


@pytest.fixture
def blank(tmp_path: Path) -> Path:
    scaffold(tmp_path / "p", "blank")
    return tmp_path / "p"


def _rewrite(root: Path, text: str) -> None:
    (root / SQL).write_text(text, encoding="utf-8")


ORIGINAL = """\
-- One row per country
SELECT upper(trim(country)) AS country, count(*) AS signups,
       min(CAST(signed_up_at AS TIMESTAMP)) AS first_signup
FROM raw.signups WHERE country IS NOT NULL
GROUP BY upper(trim(country))
"""

SAME = [
    pytest.param("/* counted per country */\n" + ORIGINAL + "-- the end\n", id="comments"),
    pytest.param(ORIGINAL.replace(" AS signups,", " AS signups,   -- how many\n"),
                 id="trailing-comment"),
    pytest.param(" ".join(ORIGINAL.split("\n", 1)[1].split()), id="one-line"),
    pytest.param(ORIGINAL.replace("SELECT", "select").replace("FROM", "from"),
                 id="keyword-case"),
    pytest.param("\n\n" + ORIGINAL.replace("\n", "\r\n") + "\n\n", id="blank-lines-crlf"),
]

DIFFERENT = [
    pytest.param(ORIGINAL.replace("IS NOT NULL", "IS NULL"), id="predicate"),
    pytest.param(ORIGINAL.replace("count(*)", "count(DISTINCT user_id)"), id="aggregate"),
    pytest.param(ORIGINAL.replace("FROM raw.signups WHERE",
                                  "FROM raw.signups WHERE signed_up_at > '2026-01-01' AND"),
                 id="filter"),
]


@pytest.mark.parametrize("edited", SAME)
def test_comments_and_whitespace_keep_the_fingerprint(blank: Path, edited: str) -> None:
    _rewrite(blank, ORIGINAL)
    before = _fingerprint(blank)
    _rewrite(blank, edited)
    assert _fingerprint(blank) == before


@pytest.mark.parametrize("edited", DIFFERENT)
def test_a_change_in_what_the_sql_says_changes_it(blank: Path, edited: str) -> None:
    _rewrite(blank, ORIGINAL)
    before = _fingerprint(blank)
    _rewrite(blank, edited)
    assert _fingerprint(blank) != before


def test_a_comment_inside_a_string_is_data() -> None:
    a = canonical_sql("SELECT '-- a' AS note", "duckdb")
    b = canonical_sql("SELECT '-- b' AS note", "duckdb")
    assert a != b


def test_parameters_stay_placeholders_named_after_them() -> None:
    base = "SELECT * FROM t WHERE x >= ${min_amount}"
    assert canonical_sql(base + " -- floor", "duckdb") == canonical_sql(base, "duckdb")
    assert canonical_sql(base, "duckdb") != canonical_sql(
        base.replace("min_amount", "max_amount"), "duckdb")
    assert "${" not in canonical_sql(base, "duckdb")


def test_sql_that_does_not_parse_is_hashed_as_written() -> None:
    broken = "SELECT FROM WHERE (( -- note"
    assert canonical_sql(broken, "duckdb") == broken


def test_a_comment_only_change_leaves_the_job_unchanged_in_the_plan(blank: Path) -> None:
    p = Project(blank)
    p.init_git()
    p.load("dev")
    p.deploy("dev", p.release())

    p.edit(str(SQL), "-- One row per country:", "-- Signups per country (comment only):")
    sql = p.root / SQL
    sql.write_text(sql.read_text(encoding="utf-8").replace("    ", "\t") + "\n-- end\n",
                   encoding="utf-8")
    p.commit("reword the comment, tabs")
    p.ok("release")
    plan = p.json("plan", "dev")
    assert [(j["job"], j["status"]) for j in plan["jobs"]] == [(JOB, "unchanged")]
    assert plan["datasets"] == []

    p.edit(str(SQL), "WHERE country IS NOT NULL", "WHERE country IS NOT NULL AND user_id > 1")
    p.commit("drop the first user")
    p.ok("release")
    plan = p.json("plan", "dev")
    assert [(j["job"], j["status"]) for j in plan["jobs"]] == [(JOB, "changed")]
    assert plan["datasets"] == ["marts.signups_by_country"]
