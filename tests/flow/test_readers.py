"""Readers and deploys: a real second process holds a read-only DuckDB session on an
environment's warehouse (what a BI tool or ``duckdb -readonly`` does) while deploy, run,
promote, rollback, plan and gc run through the real CLI.

DuckDB lets one process write a file or many read it, never both, so sluice cannot change a
warehouse someone reads. Each command must then refuse with a clear error naming the file
and the holder's PID (never exit 3, never a traceback), leave the environment exactly as it
was, and with ``--wait`` go ahead once the reader has gone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from tests.flow.conftest import Project, cli_env

from sluice.state import StateStore

QUERY = "SELECT count(*), round(sum(revenue), 2) FROM marts.customer_orders"

# holds a read-only session: queries once, then waits for a line on stdin (or HOLD seconds),
# queries again through the same session and prints both answers
READER = """
import json, os, sys, time
import duckdb
path, query, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
con = duckdb.connect(path, read_only=True)
print(json.dumps({"pid": os.getpid(), "first": con.execute(query).fetchone()}), flush=True)
if hold > 0:
    time.sleep(hold)
else:
    sys.stdin.readline()
print(json.dumps({"again": con.execute(query).fetchone()}), flush=True)
con.close()
"""


@dataclass
class Reader:
    proc: subprocess.Popen[str]
    pid: int
    first: list[Any]

    def finish(self) -> list[Any]:
        """Let the reader query once more through its session, then end; that answer."""
        out, err = self.proc.communicate("done\n", timeout=30)
        assert self.proc.returncode == 0, err
        return list(json.loads(out.splitlines()[-1])["again"])


@contextmanager
def reading(path: Path, *, hold: float = 0.0) -> Iterator[Reader]:
    """A second process with a read-only session on ``path`` (until ``finish`` or, with
    ``hold``, for that many seconds)."""
    proc = subprocess.Popen([sys.executable, "-c", READER, str(path), QUERY, str(hold)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.communicate(timeout=30)
        opened = json.loads(line)
        yield Reader(proc, opened["pid"], list(opened["first"]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def warehouse(p: Project, env: str) -> Path:
    return p.home / "envs" / env / "warehouse.duckdb"


def change_revenue(p: Project, old: str = "coalesce(sum(o.amount), 0)",
                   new: str = "round(coalesce(sum(o.amount), 0), 2)") -> str:
    """Commit and release a change to marts.customer_orders; its id."""
    p.edit("jobs/customer_orders.sql", f"{old} AS revenue", f"{new} AS revenue")
    p.commit("change revenue")
    return p.release()


def assert_busy(p: Project, result: Any, env: str, reader: Reader) -> None:
    assert result.code == 1, (result.args, result.err)
    assert str(warehouse(p, env)) in result.error, result.error
    assert f"(PID {reader.pid}" in result.error, result.error
    assert "internal error" not in result.err
    assert "--wait" in result.tip and f"PID {reader.pid}" in result.tip


def test_a_reader_on_the_warehouse_gets_every_writing_command_a_clear_refusal(
    deployed: Project,
) -> None:
    p = deployed
    p.load("staging")
    p.ok("promote", "dev", "staging")
    change_revenue(p)
    p.ok("deploy", "dev")  # an earlier release to roll back to
    change_revenue(p, "round(coalesce(sum(o.amount), 0), 2)",
                   "round(coalesce(sum(o.amount), 0), 1)")
    before = {env: p.snapshot(env) for env in ("dev", "staging")}
    with reading(warehouse(p, "dev")) as reader:
        for command in (("deploy", "dev"), ("run", "dev"), ("rollback", "dev"),
                        ("gc", "dev"), ("plan", "dev")):
            assert_busy(p, p.sluice(*command), "dev", reader)
        assert reader.finish() == reader.first  # its session saw nothing change
    with reading(warehouse(p, "staging")) as reader:
        p.ok("deploy", "dev")  # other environments are not held
        result = p.sluice("promote", "dev", "staging")
        assert_busy(p, result, "staging", reader)
        assert reader.finish() == reader.first
    assert p.snapshot("staging") == before["staging"]
    after = p.snapshot("dev")
    assert after["live"] != before["dev"]["live"]  # the deploy made with no reader holding
    with p.workspace() as ws:
        locks = [ws.state.current_lock(env) for env in ("dev", "staging")]
    assert locks == [None, None]  # every refusal released the environment's lock


def test_a_refused_deploy_changes_nothing(deployed: Project) -> None:
    p = deployed
    change_revenue(p)
    before = p.snapshot("dev")
    with reading(warehouse(p, "dev")) as reader:
        assert_busy(p, p.sluice("deploy", "dev"), "dev", reader)
        reader.finish()
    assert p.snapshot("dev") == before
    with p.workspace() as ws:  # the history says why it did not happen
        last = ws.state.deployments("dev", limit=1)[0]
    assert last.status.value == "failed" and f"(PID {reader.pid}" in last.message


def test_deploy_wait_goes_ahead_once_the_reader_has_gone(deployed: Project) -> None:
    p = deployed
    rid = change_revenue(p)
    with reading(warehouse(p, "dev"), hold=3.0) as reader:
        started = time.monotonic()
        result = p.sluice("deploy", "dev", "--wait", "60", "--json")
        waited = time.monotonic() - started
        reader.proc.communicate(timeout=30)
    assert result.code == 0, result.err
    assert result.json()["release"] == rid
    assert waited >= 1.5  # it did wait for the reader (which held for 3s after opening)
    assert p.snapshot("dev")["live"][0] == rid


def test_promote_wait_goes_ahead_once_the_reader_has_gone(deployed: Project) -> None:
    p = deployed
    p.load("staging")
    p.ok("promote", "dev", "staging")
    rid = change_revenue(p)
    p.ok("deploy", "dev")
    with reading(warehouse(p, "staging"), hold=3.0) as reader:
        result = p.sluice("promote", "dev", "staging", "--wait", "60", "--json")
        reader.proc.communicate(timeout=30)
    assert result.code == 0, result.err
    assert p.snapshot("staging")["live"][0] == rid


def test_a_short_wait_runs_out_with_the_same_clear_error(deployed: Project) -> None:
    p = deployed
    change_revenue(p)
    before = p.snapshot("dev")
    with reading(warehouse(p, "dev")) as reader:
        result = p.sluice("deploy", "dev", "--wait", "1")
        assert_busy(p, result, "dev", reader)
        reader.finish()
    assert p.snapshot("dev") == before
    with p.workspace() as ws:  # it waited once (the undo that followed did not wait again)
        last = ws.state.deployments("dev", limit=1)[0]
    assert "after waiting 1s" in last.message


def test_a_queued_promote_does_not_hold_the_warehouse_while_it_waits(deployed: Project) -> None:
    p = deployed
    p.load("staging")
    p.ok("promote", "dev", "staging")
    rid = change_revenue(p)
    p.ok("deploy", "dev")
    holder = "carol@ci-runner-7:4242"  # another host: sluice must wait for it
    with StateStore(f"sqlite:///{p.home / 'state.db'}") as store:
        store.acquire_lock("staging", holder, ttl_seconds=600)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sluice.cli", "promote", "dev", "staging", "--wait", "60",
             "--json"], cwd=p.root, env=cli_env("alice"), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(3.0)
            assert proc.poll() is None, proc.communicate()  # still queued
            # the queued promote has not opened staging's warehouse: a writer can
            duckdb.connect(str(warehouse(p, "staging"))).close()
            assert store.release_lock("staging", holder)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert json.loads(out)["release"] == rid
