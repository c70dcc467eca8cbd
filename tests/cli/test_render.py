"""Tables at 80 columns: whole ids, JSON keys from headers, local timestamps with the zone."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from sluice.cli.render import Column, View, column_widths, iso_time, json_key, local_time

RELEASE = "930c6c10ea76"
VERSION = "v20261202161802_d0d9b1"
DATASETS = ["marts.customer_orders", "marts.product_sales", "staging.orders"]


def _render(view: View, width: int, detail: str | None = None) -> str:
    buf = io.StringIO()
    view.print(Console(file=buf, width=width, no_color=True, highlight=False),
               detail=detail)
    return buf.getvalue()


def _status_like() -> View:
    view = View([Column(h) for h in ("env", "release", "since", "versions",
                                     "last deployment", "pending approval")])
    versions = "\n".join(f"{d} @ {VERSION}" for d in DATASETS)
    view.add(["dev", RELEASE, "2026-12-02 16:04:05 UTC", versions, "deploy succeeded",
              "b" * 12], {})
    view.add(["staging", "-", "-", "", "-", ""], {})
    return view


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_json_key_is_the_header_in_snake_case() -> None:
    assert json_key("Live release") == "live_release"
    assert json_key("pending approval") == "pending_approval"
    assert json_key("env") == "env"
    assert json_key("re-audit  reason") == "re_audit_reason"


def test_local_time_is_to_the_second_with_the_zone(paris: None) -> None:
    moment = dt.datetime(2026, 12, 2, 15, 4, 5, 123456, tzinfo=dt.UTC)
    assert local_time(moment) == "2026-12-02 16:04:05 CET"
    assert local_time(moment.isoformat()) == "2026-12-02 16:04:05 CET"
    assert local_time(dt.datetime(2026, 7, 1, 12, 0, 0)) == "2026-07-01 14:00:00 CEST"  # UTC
    assert local_time(dt.datetime(2026, 7, 1, 12, 0, 0), naive_local=True) == \
        "2026-07-01 12:00:00 CEST"
    assert local_time(None) == "-"
    assert local_time("not a time") == "not a time"


def test_local_time_without_a_zone_name_shows_the_offset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "<+0530>-5:30")  # POSIX TZ with a numeric "name"
    time.tzset()
    try:
        assert local_time(dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)) == \
            "2026-01-01 05:30:00 +05:30"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_iso_time_keeps_the_offset() -> None:
    moment = dt.datetime(2026, 12, 2, 15, 4, 5, tzinfo=dt.UTC)
    assert iso_time(moment) == "2026-12-02T15:04:05+00:00"
    assert iso_time("2026-12-02 15:04:05") == "2026-12-02T15:04:05+00:00"  # naive is UTC
    assert iso_time(None) is None


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_ids_are_never_cut_at_any_width(width: int) -> None:
    out = _render(_status_like(), width)
    assert "…" not in out
    for word in (RELEASE, VERSION, *DATASETS, "b" * 12):
        assert word in out, f"{word} not whole at {width} columns:\n{out}"
    assert all(len(line) <= width for line in out.splitlines()), out
    assert all(line == line.rstrip() for line in out.splitlines() if "│" not in line), out


def test_a_table_that_fits_is_a_table_else_one_block_per_row() -> None:
    wide = _render(_status_like(), 200)
    assert "┃ env" in wide and "pending approval" in wide
    narrow = _render(_status_like(), 80)
    assert "┃" not in narrow
    assert "env: dev" in narrow and f"  release:          {RELEASE}" in narrow
    assert "env: staging" in narrow and "pending approval" not in narrow.split("env: staging")[1]


def test_column_widths_give_every_column_its_longest_word() -> None:
    cols = [Column("id"), Column("text")]
    rows = [[RELEASE, "a few short words and one " + "x" * 30]]
    sizes = column_widths(cols, rows, 60)
    assert sizes is not None and sizes[0] >= len(RELEASE) and sizes[1] >= 30
    assert column_widths(cols, rows, 40) is None  # 12 + 30 + borders + padding > 40


def test_a_log_too_wide_for_a_table_puts_its_detail_below_each_entry() -> None:
    view = View([Column("seq"), Column("at"), Column("kind"), Column("release id"),
                 Column("detail")])
    sentence = (f"deployed release {RELEASE} to dev: 3 jobs run, 3 datasets published "
                f"({', '.join(DATASETS)})")
    view.add(["3", "2026-12-02 16:04:05 UTC", "protection_changed", RELEASE, sentence], {})
    out = _render(view, 60, detail="detail")
    lines = out.splitlines()
    assert lines[0] == f"3  2026-12-02 16:04:05 UTC  protection_changed  {RELEASE}"
    assert all(line.startswith("    ") for line in lines[1:]), out
    assert " ".join(line.strip() for line in lines[1:]) == sentence


def test_check_names_a_record_without_a_column() -> None:
    view = View([Column("live release")])
    view.add([RELEASE], {"live_release": RELEASE})
    view.check()
    view.add([RELEASE], {"release": RELEASE})
    with pytest.raises(AssertionError, match="live_release"):
        view.check()
