"""Environment locks: atomic across processes, waiting, expiry and takeover."""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

import pytest

from sluice.state import LockError, StateStore


def test_acquire_release_and_current(store: StateStore) -> None:
    assert store.current_lock("dev") is None
    held = store.acquire_lock("dev", "ada@host:1", ttl_seconds=60)
    assert (held.env, held.owner) == ("dev", "ada@host:1")
    assert (held.expires_at - held.acquired_at).total_seconds() == pytest.approx(60)
    assert store.current_lock("dev") == held
    assert store.current_lock("prod") is None
    other_env = store.acquire_lock("prod", "bob")  # locks are per environment
    assert store.release_lock("dev", "ada@host:1") is True
    assert store.current_lock("dev") is None
    assert store.release_lock("dev", "ada@host:1") is False  # nothing to release
    assert store.current_lock("prod") == other_env


def test_a_held_lock_names_its_holder(store: StateStore) -> None:
    held = store.acquire_lock("dev", "ada")
    with pytest.raises(LockError, match=r"'dev' is locked by ada since \d{4}-\d\d-\d\d") as info:
        store.acquire_lock("dev", "bob")
    assert info.value.tip is not None and "--wait" in info.value.tip
    with pytest.raises(LockError, match=r"after waiting 0\.2s"):
        store.acquire_lock("dev", "bob", wait_seconds=0.2)
    with pytest.raises(LockError, match="locked by ada"):
        store.acquire_lock("dev", "ada")  # not re-entrant
    assert store.current_lock("dev") == held
    assert store.events(kind="lock.taken_over") == []


def test_waiting_gets_the_lock_once_released(store: StateStore, state_url: str) -> None:
    store.acquire_lock("dev", "ada")

    def release_soon() -> None:
        time.sleep(0.3)
        with StateStore(state_url) as other:
            other.release_lock("dev", "ada")

    thread = threading.Thread(target=release_soon)
    thread.start()
    started = time.monotonic()
    got = store.acquire_lock("dev", "bob", wait_seconds=10)
    thread.join()
    assert got.owner == "bob"
    assert 0.2 < time.monotonic() - started < 5


def test_an_expired_lock_is_taken_over_and_logged(store: StateStore) -> None:
    old = store.acquire_lock("dev", "crashed", ttl_seconds=0.05)
    time.sleep(0.1)
    assert store.current_lock("dev") is None  # expired counts as free
    new = store.acquire_lock("dev", "bob")
    assert store.current_lock("dev") == new
    [event] = store.events(kind="lock.taken_over")
    assert (event.env, event.actor) == ("dev", "bob")
    assert event.payload["previous_owner"] == "crashed"
    assert event.payload["previous_expires_at"] == old.expires_at.isoformat(timespec="microseconds")
    # The old owner learns it lost the lock instead of silently releasing someone else's.
    with pytest.raises(LockError, match="held by bob") as info:
        store.release_lock("dev", "crashed")
    assert info.value.tip is not None and "taken over" in info.value.tip
    assert store.current_lock("dev") == new


def test_ttl_must_be_positive(store: StateStore) -> None:
    with pytest.raises(Exception, match="must be positive"):
        store.acquire_lock("dev", "ada", ttl_seconds=0)


# --------------------------------------------------------------------------- across processes


def _race(url: str, owner: str, go: Event, results: Queue[tuple[str, str]]) -> None:
    with StateStore(url) as store:
        go.wait(30)
        try:
            store.acquire_lock("prod", owner, ttl_seconds=60)
        except LockError as exc:
            results.put((owner, f"lost: {exc.message}"))
        else:
            results.put((owner, "won"))


def _run_race(url: str, n: int) -> list[tuple[str, str]]:
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    results: Queue[tuple[str, str]] = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(url, f"p{i}", go, results)) for i in range(n)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let every child import and open its store before the gun
    go.set()
    outcome = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * n
    return outcome


@pytest.mark.parametrize("expired_first", [False, True], ids=["free", "expired"])
def test_racing_processes_exactly_one_wins(
    store: StateStore, state_url: str, expired_first: bool
) -> None:
    if expired_first:
        store.acquire_lock("prod", "crashed", ttl_seconds=0.01)
        time.sleep(0.05)
    outcome = _run_race(state_url, 4)
    winners = [owner for owner, result in outcome if result == "won"]
    assert len(winners) == 1, outcome
    held = store.current_lock("prod")
    assert held is not None and held.owner == winners[0]
    for owner, result in outcome:
        if owner != winners[0]:
            assert result.startswith(f"lost: environment 'prod' is locked by {winners[0]}")
    takeovers = store.events(kind="lock.taken_over")
    assert len(takeovers) == (1 if expired_first else 0)
    if expired_first:
        assert takeovers[0].actor == winners[0]
