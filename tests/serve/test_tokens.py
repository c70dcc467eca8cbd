"""Tokens: issued once, verified against a salted hash, revoked at once, never stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sluice.errors import AuthError, UsageError
from sluice.secrecy import mask
from sluice.serve.tokens import (
    TOKEN,
    added_principal,
    issue_token,
    list_tokens,
    revoke,
    verify_token,
)
from sluice.state import StateStore, utcnow
from tests.state.conftest import sqlalchemy_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """The same behaviour on SQLite and on a real PostgreSQL (team mode)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = sqlalchemy_url(request.getfixturevalue("postgres_db"))
    store = StateStore(url)
    yield store
    store.close()


def test_a_token_is_issued_once_and_verifies_to_its_principal(state: StateStore) -> None:
    token = issue_token(state, "priya", "user", ["approver:prod"], "admin")
    assert TOKEN.match(token), token
    assert verify_token(state, token) == "priya"
    other = issue_token(state, "priya", "user", ["viewer:*"], "admin")
    assert other != token
    assert verify_token(state, other) == "priya"
    recorded = added_principal(state, "priya")
    assert recorded is not None
    assert recorded.roles == ("approver:prod", "viewer:*")  # the union, sorted
    assert recorded.created_by == "admin"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret, right id
    lambda t: "slc_000000000000_" + t.split("_", 2)[2],  # unknown id
    lambda t: t[:-3],  # malformed: too short
    lambda t: t.replace("slc_", "sk_"),  # not a sluice token at all
], ids=["wrong-secret", "unknown-id", "truncated", "other-prefix"])
def test_a_wrong_token_is_refused_without_repeating_it(state: StateStore,
                                                       mangle: Callable[[str], str]) -> None:
    token = issue_token(state, "priya", "user", ["viewer"], "admin")
    bad = mangle(token)
    with pytest.raises(AuthError) as info:
        verify_token(state, bad)
    secret = bad.split("_", 2)[-1]
    assert secret not in info.value.message and secret not in (info.value.tip or "")
    assert info.value.status == 401


def test_revoking_by_id_revokes_one_token_and_by_name_all(state: StateStore) -> None:
    one = issue_token(state, "priya", "user", ["viewer"], "admin")
    two = issue_token(state, "priya", "user", ["viewer"], "admin")
    three = issue_token(state, "priya", "user", ["viewer"], "admin")
    ci = issue_token(state, "ci", "service", ["deployer:dev"], "admin")
    one_id = one.split("_")[1]
    assert revoke(state, one_id) == 1
    with pytest.raises(AuthError, match="revoked"):
        verify_token(state, one)
    assert verify_token(state, two) == "priya"
    assert revoke(state, two) == 1  # the token itself names its id
    assert revoke(state, one_id) == 0  # already revoked
    assert revoke(state, "priya") == 1  # the one left
    for token in (two, three):
        with pytest.raises(AuthError, match="revoked"):
            verify_token(state, token)
    assert verify_token(state, ci) == "ci"  # others untouched
    assert revoke(state, "nobody") == 0
    assert [t.active for t in list_tokens(state, "priya")] == [False, False, False]


def test_a_revocation_by_another_process_counts_on_the_next_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    server, cli = StateStore(url), StateStore(url)
    try:
        token = issue_token(cli, "priya", "user", ["viewer"], "admin")
        assert verify_token(server, token) == "priya"
        revoke(cli, "priya")
        with pytest.raises(AuthError, match="revoked"):
            verify_token(server, token)
    finally:
        server.close()
        cli.close()


def test_last_used_is_written_at_most_once_a_minute(state: StateStore) -> None:
    token = issue_token(state, "priya", "user", ["viewer"], "admin")
    [info] = list_tokens(state)
    assert info.last_used_at is None
    start = utcnow()
    verify_token(state, token, now=start)
    first = list_tokens(state)[0].last_used_at
    assert first == start
    verify_token(state, token, now=start + dt.timedelta(seconds=30))
    assert list_tokens(state)[0].last_used_at == first  # no write within the minute
    later = start + dt.timedelta(seconds=61)
    verify_token(state, token, now=later)
    assert list_tokens(state)[0].last_used_at == later


def test_a_user_is_never_also_a_service(state: StateStore) -> None:
    issue_token(state, "ci", "service", ["deployer:dev"], "admin")
    with pytest.raises(UsageError, match="ci is a service, not a user"):
        issue_token(state, "ci", "user", ["viewer"], "admin")
    with pytest.raises(UsageError):
        issue_token(state, "x", "robot", [], "admin")


def test_the_secret_is_stored_nowhere_only_a_salted_hash(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = StateStore(f"sqlite:///{path}")
    tokens = [issue_token(state, "priya", "user", ["viewer"], "admin") for _ in range(3)]
    for token in tokens:
        verify_token(state, token)
    state.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.db"))
    for token in tokens:
        secret = token.split("_", 2)[2]
        assert secret.encode() not in raw
        assert token.encode() not in raw
        # salted: the plain hash of the secret is not what is stored either
        assert hashlib.sha256(secret.encode()).hexdigest().encode() not in raw
        assert token.split("_")[1].encode() in raw  # the public id is


def test_a_token_pasted_anywhere_is_masked_in_output_and_in_the_store(
        state: StateStore) -> None:
    token = issue_token(state, "priya", "user", ["viewer"], "admin")
    token_id, secret = token.split("_")[1], token.split("_", 2)[2]
    assert mask(f"oops: {token} !") == f"oops: slc_{token_id}_*** !"
    event = state.event("approved", payload={"comment": f"my token is {token}"})
    assert secret not in json.dumps(event.payload)
    assert secret not in json.dumps([e.payload for e in state.events()])
