"""One deployment at a time per environment: a held lock refuses or queues the next one."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from tests.flow.conftest import Project, Template, cli_env

from sluice.flow.gates import promote, rollback
from sluice.state import StateStore
from sluice.state.locks import TAKEOVER_EVENT

# another host, so that sluice cannot tell whether the holder is alive: it must wait
HOLDER = "carol@ci-runner-7:4242"


@pytest.fixture
def held(deployed: Project) -> Iterator[StateStore]:
    with StateStore(f"sqlite:///{deployed.home / 'state.db'}") as store:
        store.acquire_lock("dev", HOLDER, ttl_seconds=600)
        yield store


def test_a_held_lock_refuses_deploys_and_names_its_holder(
    deployed: Project, held: StateStore
) -> None:
    p = deployed
    before = p.snapshot("dev")
    for command in (("deploy", "dev"), ("run", "dev"), ("rollback", "dev")):
        result = p.sluice(*command)
        assert result.code == 1, command
        assert re.fullmatch(
            rf"Error: environment 'dev' is locked by {HOLDER} since \d{{4}}-\d\d-\d\d "
            r"\d\d:\d\d:\d\d UTC \(the lock expires at .* UTC\)",
            result.error,
        ), result.error
        assert "--wait" in result.tip
    assert p.snapshot("dev") == before
    lock = held.current_lock("dev")
    assert lock is not None and lock.owner == HOLDER
    with p.workspace() as ws:
        assert len(ws.state.deployments("dev")) == 1  # none was started
    # other environments are not locked
    p.load("staging")
    with p.workspace() as ws:
        assert promote(ws, "dev", "staging").env == "staging"


def test_wait_queues_behind_the_holder(deployed: Project, held: StateStore) -> None:
    p = deployed
    p.edit(
        "jobs/customer_orders.sql",
        "coalesce(sum(o.amount), 0) AS revenue",
        "round(coalesce(sum(o.amount), 0), 2) AS revenue",
    )
    p.commit("round revenue")
    rid = p.release()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sluice.cli", "deploy", "dev", "--wait", "60", "--json"],
        cwd=p.root,
        env=cli_env("alice"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2.0)
        assert proc.poll() is None, proc.communicate()  # still queued
        lock = held.current_lock("dev")
        assert lock is not None and lock.owner == HOLDER
        released_at = time.time()
        assert held.release_lock("dev", HOLDER)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    result = json.loads(out)
    assert (result["release"], list(result["new_versions"])) == (rid, ["marts.customer_orders"])
    assert held.current_lock("dev") is None  # released by the deploy when done
    started = held.get_deployment(result["deployment"]).started_at.timestamp()
    assert released_at <= started < released_at + 30  # it started once the lock was free


def test_rollback_takes_over_the_lock_of_a_dead_local_process(
    deployed: Project, deployed_template: Template
) -> None:
    p = deployed
    first = p.snapshot("dev")
    p.deploy("dev", deployed_template.release, kind="run", force_all=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = f"ghost@{socket.gethostname()}:{dead.pid}"
    with StateStore(f"sqlite:///{p.home / 'state.db'}") as store:
        store.acquire_lock("dev", ghost, ttl_seconds=600)
    with p.workspace() as ws:
        back = rollback(ws, "dev")
        assert back.versions == first["catalog"]
        assert ws.state.current_lock("dev") is None
        taken = ws.state.events("dev", kind=TAKEOVER_EVENT)
    assert [e.payload["previous_owner"] for e in taken] == [ghost]
