"""Triggers without a webhook (sluice.serve.triggers): polling a second real git repository,
cron schedules on an injected clock, new files in a local object store, and two servers on
one state store that never fire one slot, sha or file set twice."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sluice.serve.hooks import claim_commit
from sluice.serve.triggers import Triggers, objects_fingerprint, source_prefix
from sluice.state.schema import trigger_state
from tests.serve.trigger_fixtures import Recorder, git, make_project

UTC = dt.UTC
CONFIG = """\
pipeline:
  branch: main
triggers:
  poll:
    remote: ../upstream
  data:
    - source: raw.orders
      env: dev
schedules:
  prod: "0 6 * * *"
"""


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project and, next to it, ``upstream``: a clone the poll trigger watches."""
    base = tmp_path_factory.mktemp("triggers")
    project = make_project(base / "retail", CONFIG)
    git(base, "clone", "-q", str(project), str(base / "upstream"))
    return base


@pytest.fixture
def base(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template (project, upstream, no state yet) per test."""
    monkeypatch.delenv("SLUICE_HOME", raising=False)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    shutil.copytree(template, tmp_path / "t", symlinks=True)
    return tmp_path / "t"


@pytest.fixture
def triggers(base: Path) -> Iterator[tuple[Triggers, Recorder]]:
    start = Recorder()
    t = Triggers(base / "retail", "server-a", start)
    try:
        yield t, start
    finally:
        t.close()


def upstream_commit(base: Path, message: str) -> str:
    up = base / "upstream"
    (up / "NOTES.md").write_text(f"{message}\n", encoding="utf-8")
    git(up, "add", "-A")
    git(up, "commit", "-q", "-m", message)
    return git(up, "rev-parse", "HEAD")


def orders(base: Path) -> Path:
    folder = base / "retail" / ".sluice" / "envs" / "dev" / "objects" / "raw" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rows_of(t: Triggers) -> dict[str, tuple[str | None, str | None]]:
    with t.ws.state.transaction("read") as conn:
        return {r.name: (r.lease_owner, r.next_at) for r in conn.execute(sa.select(trigger_state))}


def baseline(t: Triggers, name: str) -> str | None:
    with t.ws.state.transaction("read") as conn:
        return conn.execute(sa.select(trigger_state.c.last_value)
                            .where(trigger_state.c.name == name)).scalar()


# ------------------------------------------------------------------ schedules


def test_schedule_fires_at_its_slot_once(triggers: tuple[Triggers, Recorder]) -> None:
    t, start = triggers
    t.tick(at(1, 5))  # the first look schedules 06:00 and fires nothing
    assert [c for c in start.calls if c["trigger"] == "schedule"] == []
    t.tick(at(1, 5, 59, 59))
    assert [c for c in start.calls if c["trigger"] == "schedule"] == []
    t.tick(at(1, 6))
    t.tick(at(1, 6, 0, 30))
    t.tick(at(1, 23))
    fired = [c for c in start.calls if c["trigger"] == "schedule"]
    assert fired == [{"commit": None, "ref": None, "trigger": "schedule",
                      "detail": {"action": "run", "env": "prod", "schedule": "0 6 * * *",
                                 "slot": "2026-03-01T06:00:00.000000+00:00", "missed": 1},
                      "actor": "trigger:schedule", "action": "run", "env": "prod"}]
    assert rows_of(t)["schedule:prod"][1] == "2026-03-02T06:00:00.000000+00:00"
    t.tick(at(2, 6, 0, 1))
    assert len([c for c in start.calls if c["trigger"] == "schedule"]) == 2


def test_slots_missed_while_down_fire_once_on_start(base: Path) -> None:
    first = Triggers(base / "retail", "server-a", Recorder())
    first.tick(at(1, 5))
    first.release()
    first.close()
    start = Recorder()
    later = Triggers(base / "retail", "server-b", start)  # a restart, days later
    try:
        later.tick(at(5, 12))
        later.tick(at(5, 12, 1))
        fired = [c for c in start.calls if c["trigger"] == "schedule"]
        assert len(fired) == 1
        assert fired[0]["detail"]["slot"] == "2026-03-01T06:00:00.000000+00:00"
        assert fired[0]["detail"]["missed"] == 5  # 1st to 5th at 06:00, covered by one run
        assert rows_of(later)["schedule:prod"][1] == "2026-03-06T06:00:00.000000+00:00"
    finally:
        later.close()


def test_a_changed_expression_reschedules_without_firing(base: Path) -> None:
    start = Recorder()
    t = Triggers(base / "retail", "server-a", start)
    try:
        t.tick(at(1, 5))
        config = base / "retail" / "sluice.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace("0 6 * * *", "30 7 * * 1"),
                          encoding="utf-8")
        t.tick(at(1, 6, 30))  # past the old slot: the new expression applies, nothing fires
        assert [c for c in start.calls if c["trigger"] == "schedule"] == []
        assert rows_of(t)["schedule:prod"][1] == "2026-03-02T07:30:00.000000+00:00"  # Monday
    finally:
        t.close()


# ------------------------------------------------------------------ polling


def test_poll_starts_a_pipeline_for_each_new_sha(base: Path,
                                                 triggers: tuple[Triggers, Recorder]) -> None:
    t, start = triggers
    t.tick(at(1, 1))  # baseline: what upstream's main points at now starts nothing
    assert [c for c in start.calls if c["trigger"] == "poll"] == []
    sha = upstream_commit(base, "first change")
    t.tick(at(1, 1, 1))
    t.tick(at(1, 1, 2))  # the same sha again: nothing
    before = git(base / "upstream", "rev-parse", "HEAD~1")
    assert [c for c in start.calls if c["trigger"] == "poll"] == [{
        "commit": sha, "ref": "refs/heads/main", "trigger": "poll",
        "detail": {"remote": "../upstream", "branch": "main", "before": before},
        "actor": "trigger:poll", "action": "pipeline", "env": None}]
    # the commit was fetched into the project's repository
    git(base / "retail", "cat-file", "-e", f"{sha}^{{commit}}")
    upstream_commit(base, "second change")
    newest = upstream_commit(base, "third change")
    t.tick(at(1, 1, 3))
    polled = [c["commit"] for c in start.calls if c["trigger"] == "poll"]
    assert polled == [sha, newest]  # two commits between polls: the newest runs


def test_poll_skips_a_commit_a_webhook_started(base: Path,
                                               triggers: tuple[Triggers, Recorder]) -> None:
    t, start = triggers
    t.tick(at(1, 1))
    sha = upstream_commit(base, "pushed and polled")
    assert claim_commit(t.ws.state, sha) == (True, None)  # what receive() does first
    t.tick(at(1, 1, 1))
    assert [c for c in start.calls if c["trigger"] == "poll"] == []
    skipped = t.ws.state.events(kind="trigger_skipped", limit=1)[0]
    assert skipped.payload["commit"] == sha


def test_poll_failures_are_logged_once_and_start_nothing(base: Path) -> None:
    config = base / "retail" / "sluice.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "    remote: ../upstream\n", "    remote: ../upstream\n    branch: release\n"),
        encoding="utf-8")
    start = Recorder()
    t = Triggers(base / "retail", "server-a", start)
    try:
        t.tick(at(1, 1))
        t.tick(at(1, 1, 1))
        failed = [e for e in t.ws.state.events(kind="trigger_failed")
                  if e.payload["trigger"] == "poll:../upstream:release"]
        assert len(failed) == 1 and "no branch 'release'" in failed[0].payload["error"]
        assert [c for c in start.calls if c["trigger"] == "poll"] == []
    finally:
        t.close()


# ------------------------------------------------------------------ new data


def test_new_files_under_the_source_prefix_start_a_run(base: Path,
                                                       triggers: tuple[Triggers, Recorder]) -> None:
    t, start = triggers
    folder = orders(base)
    (folder / "2026-03-01.csv").write_text("order_id\n1\n", encoding="utf-8")
    t.tick(at(1, 1))  # baseline: files already there start nothing
    assert [c for c in start.calls if c["trigger"] == "data"] == []
    (folder / "2026-03-02.csv").write_text("order_id\n2\n", encoding="utf-8")
    (folder / ".2026-03-03.csv.tmp").write_text("partial", encoding="utf-8")  # hidden
    customers = folder.parent / "customers"
    customers.mkdir()
    (customers / "c.json").write_text("{}", encoding="utf-8")  # another source's prefix
    t.tick(at(1, 1, 1))
    data = [c for c in start.calls if c["trigger"] == "data"]
    assert data == [{"commit": None, "ref": None, "trigger": "data",
                     "detail": {"action": "run", "env": "dev", "source": "raw.orders",
                                "prefix": "raw/orders/", "files": ["raw/orders/2026-03-02.csv"],
                                "count": 1},
                     "actor": "trigger:data", "action": "run", "env": "dev"}]
    t.tick(at(1, 1, 2))  # nothing new
    (folder / "2026-03-01.csv").write_text("order_id\n1\n3\n", encoding="utf-8")  # rewritten
    (folder / "2026-03-02.csv").unlink()
    t.tick(at(1, 1, 3))
    data = [c for c in start.calls if c["trigger"] == "data"]
    assert [c["detail"]["files"] for c in data] == [["raw/orders/2026-03-02.csv"],
                                                    ["raw/orders/2026-03-01.csv"]]
    (folder / "2026-03-01.csv").unlink()  # removals alone start nothing
    t.tick(at(1, 1, 4))
    assert len([c for c in start.calls if c["trigger"] == "data"]) == 2


def test_fingerprint_and_prefix() -> None:
    assert source_prefix("raw/orders/*.csv") == "raw/orders/"
    assert source_prefix("raw/orders/part-?.csv") == "raw/orders/part-"
    assert source_prefix("raw/orders.csv") == "raw/orders.csv"


def test_fingerprint_matches_key_prefixes(tmp_path: Path) -> None:
    (tmp_path / "raw" / "orders").mkdir(parents=True)
    (tmp_path / "raw" / "orders" / "part-1.csv").write_text("x", encoding="utf-8")
    (tmp_path / "raw" / "orders" / "other.csv").write_text("yy", encoding="utf-8")
    found = objects_fingerprint(tmp_path, "raw/orders/part-")
    assert list(found) == ["raw/orders/part-1.csv"] and found["raw/orders/part-1.csv"][0] == 1
    assert objects_fingerprint(tmp_path, "missing/") == {}


# ------------------------------------------------------------------ two servers


def _race(base: Path, owners: tuple[str, str]) -> list[dict[str, object]]:
    """Two servers tick the same clock in threads, step after step; leases expire between
    steps (a step is an hour, a lease lasts a minute), so every step is a real race."""
    start = Recorder()
    servers = [Triggers(base / "retail", owner, start) for owner in owners]
    folder = orders(base)
    try:
        for step in range(12):
            now = at(1, 0) + dt.timedelta(hours=13 * step)
            if step % 3 == 1:
                (folder / f"batch-{step}.csv").write_text("order_id\n1\n", encoding="utf-8")
            if step % 4 == 2:
                upstream_commit(base, f"change {step}")
            barrier = threading.Barrier(len(servers))
            errors: list[BaseException] = []

            def tick(server: Triggers, now: dt.datetime = now,
                     barrier: threading.Barrier = barrier,
                     errors: list[BaseException] = errors) -> None:
                try:
                    barrier.wait()
                    server.tick(now)
                except BaseException as exc:  # surfaced below, in the test's thread
                    errors.append(exc)

            threads = [threading.Thread(target=tick, args=(s,)) for s in servers]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            assert not errors, errors
        for server in servers:
            failed = server.ws.state.events(kind="trigger_failed")
            assert failed == [], [e.payload for e in failed]
    finally:
        for server in servers:
            server.close()
    return start.calls


def _check_race(calls: list[dict[str, object]]) -> None:
    slots = [c["detail"]["slot"] for c in calls if c["trigger"] == "schedule"]  # type: ignore[index]
    # 12 steps of 13 hours from March 1st 00:00: a 06:00 slot is due at steps 1, 3, 5, 6, 8, 10
    assert len(slots) == 6 and len(set(slots)) == 6
    polled = [c["commit"] for c in calls if c["trigger"] == "poll"]
    assert len(polled) == 3 and len(set(polled)) == 3  # commits at steps 2, 6, 10
    landed = [c["detail"]["files"] for c in calls if c["trigger"] == "data"]  # type: ignore[index]
    assert landed == [[f"raw/orders/batch-{s}.csv"] for s in (1, 4, 7, 10)]


def test_two_servers_never_fire_twice(base: Path) -> None:
    _check_race(_race(base, ("server-a", "server-b")))


@pytest.mark.postgres
def test_two_servers_never_fire_twice_on_postgresql(base: Path, postgres_db: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_STATE_URL", postgres_db)
    _check_race(_race(base, ("server-a", "server-b")))


def test_a_live_lease_is_respected_and_a_dead_local_one_taken_over(
        base: Path, triggers: tuple[Triggers, Recorder]) -> None:
    t, _ = triggers
    gone = subprocess.Popen(["true"])
    gone.wait()  # a server process on this host that died holding its leases
    dead = f"alice@{socket.gethostname()}:{gone.pid}"
    elsewhere = "bob@another-host:4242"  # alive as far as anyone here can tell
    until = "2099-01-01T00:00:00.000000+00:00"
    with t.ws.state.transaction("seed", write=True) as conn:
        conn.execute(trigger_state.insert(), [
            {"name": "data:dev:raw.orders", "lease_owner": dead, "lease_expires": until},
            {"name": "poll:../upstream:main", "lease_owner": elsewhere,
             "lease_expires": until}])
    t.tick(at(1, 1))
    assert rows_of(t)["data:dev:raw.orders"][0] == "server-a"
    assert rows_of(t)["poll:../upstream:main"][0] == elsewhere


# ------------------------------------------------------------------ the loop


def test_run_forever_fires_and_gives_up_its_leases(base: Path) -> None:
    config = base / "retail" / "sluice.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "      env: dev\n", "      env: dev\n      interval_seconds: 0.1\n"), encoding="utf-8")
    started = threading.Event()
    calls: list[dict[str, object]] = []

    def start(**kwargs: object) -> int:
        calls.append(kwargs)
        started.set()
        return len(calls)

    t = Triggers(base / "retail", "server-loop", start)
    stop = threading.Event()
    loop = threading.Thread(target=t.run_forever, args=(stop,))
    loop.start()
    try:
        # the data trigger's first look is over once its row holds the baseline
        deadline = 600
        while baseline(t, "data:dev:raw.orders") is None and deadline:
            stop.wait(0.05)
            deadline -= 1
        (orders(base) / "new.csv").write_text("order_id\n9\n", encoding="utf-8")
        assert started.wait(30), "the data trigger never fired"
    finally:
        stop.set()
        loop.join(30)
    assert not loop.is_alive()
    assert [c["trigger"] for c in calls] == ["data"]
    probe = Triggers(base / "retail", "probe", Recorder())
    try:
        assert all(owner is None for owner, _ in rows_of(probe).values())
    finally:
        probe.close()

