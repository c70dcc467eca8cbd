"""status, history, plan, releases and migrate status at 80 columns (the width when piped):
whole ids, JSON fields named after the column headers, local timestamps, sentences."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from tests.flow.conftest import Project

from sluice.cli.render import json_key

NARROW = {"COLUMNS": "80"}
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:[A-Z]{2,5}|[+-]\d\d:\d\d)")
COMMANDS = [("status",), ("history",), ("releases",), ("plan", "dev"),
            ("migrate", "status", "dev")]


@pytest.fixture(scope="module")
def busy(deployed_template: Any, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Release 1 live in dev and staging, release 2 live in dev (waiting for staging), a
    migration applied in dev; read-only for the tests below."""
    import shutil

    dest = tmp_path_factory.mktemp("width") / "retail"
    shutil.copytree(deployed_template.root, dest, symlinks=True)
    p = Project(dest)
    p.load("staging")
    p.ok("promote", "dev", "staging")
    (p.root / "migrations").mkdir()
    (p.root / "migrations" / "V1__regions_of_the_world.sql").write_text(
        "CREATE TABLE regions (id INT, name VARCHAR);\n", encoding="utf-8")
    p.edit("jobs/orders.sql", "lower(status)", "lower(trim(status))")
    p.commit("second release")
    p.ok("release")
    p.ok("migrate", "apply", "dev")
    return p


def _words(p: Project) -> dict[tuple[str, ...], list[str]]:
    """What each command must show whole: ids, dataset names, versions, script names."""
    status = p.json("status")
    assert status[2]["pending_approval"]  # prod waits for the release live in staging
    releases = [r["id"] for r in p.json("releases")]
    versions = [f"{d} @ {v}" for row in status for d, v in row["versions"].items()]
    datasets = sorted({d for row in status for d in row["versions"]})
    return {
        ("status",): [r["release"] for r in status if r["release"]] + versions
        + [r["pending_approval"] for r in status if r["pending_approval"]],
        ("history",): releases + datasets,
        ("releases",): releases,
        ("plan", "dev"): releases[:1] + datasets,
        ("migrate", "status", "dev"): ["V1__regions_of_the_world.sql", "regions of the world"],
    }


def test_at_80_columns_nothing_is_cut_short(busy: Project) -> None:
    expected = _words(busy)
    for args in COMMANDS:
        shown = busy.sluice(*args, env=NARROW)
        assert shown.code == 0, shown.err
        assert "…" not in shown.out, shown.out
        assert all(len(line) <= 80 for line in shown.out.splitlines()), shown.out
        for word in expected[args]:
            if " @ " in word:  # "dataset @ version" may wrap at its spaces, never inside
                assert all(w in shown.out for w in word.split(" @ ")), (word, shown.out)
                continue
            assert word in shown.out, f"sluice {' '.join(args)}: {word!r} not whole in\n" \
                                      f"{shown.out}"


def _headers(out: str) -> list[list[str]]:
    """The column headers of every table in ``out`` (drawn wide: one line per header)."""
    return [[h.strip() for h in line.strip("┃").split("┃")]
            for line in out.splitlines() if line.startswith("┃")]


def test_json_fields_are_the_column_headers(busy: Project) -> None:
    for args in COMMANDS:
        tables = _headers(busy.ok(*args).out)  # cli_env: COLUMNS=400, one header line
        assert tables, f"no table in sluice {' '.join(args)}"
        data = busy.json(*args)
        records = data["jobs"] if args[0] == "plan" else data
        assert records, args
        keys = [json_key(h) for h in tables[0]]
        for record in records:
            assert [k for k in keys if k not in record] == [], (args, keys, record)


def test_tables_show_local_seconds_with_the_zone_and_json_iso_8601(busy: Project) -> None:
    for args in (("status",), ("history",), ("releases",), ("migrate", "status", "dev")):
        out = busy.ok(*args).out  # wide: a timestamp on one line
        assert STAMP.search(out), out
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", out), out  # no fractions of seconds
    for row, key in ((busy.json("status")[0], "since"), (busy.json("history")[0], "at"),
                     (busy.json("releases")[0], "created_at"),
                     (busy.json("migrate", "status", "dev")[0], "installed_on")):
        moment = dt.datetime.fromisoformat(row[key])
        assert moment.tzinfo is not None, (key, row[key])


def test_history_details_are_sentences(busy: Project) -> None:
    events = busy.json("history")
    by_kind = {e["kind"]: e for e in reversed(events)}  # the newest of each kind
    published = by_kind["published"]
    assert re.fullmatch(
        rf"promoted release {published['release_id']} \(commit [0-9a-f]{{10}}\) to staging: "
        r"\d+ jobs? run, 3 datasets published \(marts.customer_orders, marts.product_sales, "
        r"staging.orders\) \(deployment \d+\)", published["detail"]), published["detail"]
    assert by_kind["migrated"]["detail"] == \
        "applied 1 migration in dev: V1__regions_of_the_world.sql"
    assert by_kind["release_built"]["detail"].startswith("built release ")
    shown = busy.sluice("history", env=NARROW).out
    assert "{" not in shown and "promoted release" in shown


def test_deploy_shows_each_step_with_its_elapsed_time(busy: Project, tmp_path: Any) -> None:
    import shutil

    p = Project(tmp_path / "retail")
    shutil.copytree(busy.root, p.root, symlinks=True)
    done = p.sluice("deploy", "dev")  # piped: one line per finished step, no live line
    assert done.code == 0, done.err
    lines = done.err.splitlines()
    for step in ("verify", "install", "run:orders", "audit:staging.orders",
                 "publish"):
        assert any(re.fullmatch(rf"  ✓ {re.escape(step)}  \d+(\.\d+s|m\d\ds)", ln)
                   for ln in lines), (step, done.err)
    assert "release" in done.out and "is live" in done.out
