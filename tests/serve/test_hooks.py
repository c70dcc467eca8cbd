"""Push webhooks: GitHub, GitLab and generic payloads as the providers send them, signatures
right and wrong, replays, the branch filter, deletions and pings (sluice.serve.hooks)."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.errors import AuthError, UsageError
from sluice.project.workspace import Workspace
from sluice.serve.hooks import (
    Push,
    claim_commit,
    receive,
    record_delivery,
    sign,
    sign_standard,
    verify_and_parse,
)
from sluice.state.schema import deliveries
from tests.serve.trigger_fixtures import Recorder, git, make_project

SECRET = "s3cret-shared-with-the-provider"
AFTER = "a" * 40
BEFORE = "b" * 40
ZERO = "0" * 40
NOW = 1_780_000_000.0


def github_push(ref: str = "refs/heads/main", after: str = AFTER, **extra: Any) -> bytes:
    """A push event as GitHub sends it (the fields sluice reads, and some it does not)."""
    payload = {
        "ref": ref, "before": BEFORE, "after": after, "created": False,
        "deleted": after == ZERO, "forced": False, "base_ref": None,
        "compare": f"https://github.com/acme/retail/compare/{BEFORE[:12]}...{after[:12]}",
        "commits": [{"id": after, "message": "orders: dedupe", "distinct": True}],
        "head_commit": None if after == ZERO else {"id": after, "message": "orders: dedupe"},
        "repository": {"id": 1296269, "name": "retail", "full_name": "acme/retail",
                       "default_branch": "main"},
        "pusher": {"name": "priya", "email": "priya@example.com"},
        "sender": {"login": "priya", "id": 1},
        **extra,
    }
    return json.dumps(payload).encode()


def github_headers(body: bytes, event: str = "push", delivery: str | None = None,
                   secret: str = SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(secret, body), "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/044aadd"}


def gitlab_push(ref: str = "refs/heads/main", after: str = AFTER) -> bytes:
    payload = {
        "object_kind": "push", "event_name": "push", "before": BEFORE, "after": after,
        "ref": ref, "ref_protected": True, "checkout_sha": None if after == ZERO else after,
        "user_id": 4, "user_name": "Priya Raman", "user_username": "priya",
        "user_email": "", "project_id": 15,
        "project": {"id": 15, "name": "retail", "path_with_namespace": "acme/retail",
                    "default_branch": "main"},
        "commits": [], "total_commits_count": 0,
        "repository": {"name": "retail", "homepage": "https://gitlab.example.com/acme/retail"},
    }
    return json.dumps(payload).encode()


SIGNING_TOKEN = "whsec_" + base64.b64encode(b"k" * 32).decode()


def gitlab_signed(body: bytes, *, token: str = SIGNING_TOKEN, at: float = NOW,
                  webhook_id: str | None = None) -> dict[str, str]:
    """Headers of a delivery signed with a GitLab signing token (Standard Webhooks)."""
    wid = webhook_id or str(uuid.uuid4())
    stamp = str(int(at))
    return {"X-Gitlab-Event": "Push Hook", "Idempotency-Key": wid, "webhook-id": wid,
            "webhook-timestamp": stamp,
            "webhook-signature": sign_standard(token, wid, stamp, body),
            "X-Gitlab-Event-UUID": str(uuid.uuid4())}


# ------------------------------------------------------------------ GitHub


def test_github_push_is_verified_and_parsed() -> None:
    body = github_push()
    push = verify_and_parse("github", github_headers(body, delivery="d-1"), body, SECRET)
    assert push == Push("github", "d-1", "push", "refs/heads/main", AFTER, BEFORE, "priya",
                        "acme/retail")
    assert push.branch == "main"


@pytest.mark.parametrize("tamper", ["no signature", "wrong secret", "body changed",
                                    "sha1 only", "not hex"])
def test_github_bad_signature_is_refused(tamper: str) -> None:
    body = github_push()
    headers = github_headers(body)
    if tamper == "no signature":
        del headers["X-Hub-Signature-256"]
    elif tamper == "wrong secret":
        headers = github_headers(body, secret="guessed")
    elif tamper == "body changed":
        body = github_push(after="c" * 40)
    elif tamper == "sha1 only":
        del headers["X-Hub-Signature-256"]
        headers["X-Hub-Signature"] = "sha1=" + "0" * 40
    else:
        headers["X-Hub-Signature-256"] = "sha256=ä"
    with pytest.raises(AuthError) as info:
        verify_and_parse("github", headers, body, SECRET)
    assert info.value.status == 401
    assert "github webhook refused" in info.value.message
    assert SECRET not in info.value.message and SECRET not in (info.value.tip or "")


def test_github_ping_and_other_events_start_nothing() -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1,
                       "hook": {"events": ["push"]}}).encode()
    assert verify_and_parse("github", github_headers(body, "ping"), body, SECRET).kind == "ping"
    body = json.dumps({"action": "opened", "number": 2}).encode()
    other = verify_and_parse("github", github_headers(body, "pull_request"), body, SECRET)
    assert other.kind == "ignored" and "pull_request" in other.reason


def test_github_branch_delete_and_tag_push_are_ignored() -> None:
    body = github_push(after=ZERO)
    deleted = verify_and_parse("github", github_headers(body), body, SECRET)
    assert deleted.kind == "ignored" and "deleted" in deleted.reason
    body = github_push(ref="refs/tags/v1.0")
    tag = verify_and_parse("github", github_headers(body), body, SECRET)
    assert tag.kind == "ignored" and "not a branch" in tag.reason


def test_github_malformed_payloads_are_usage_errors() -> None:
    form = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"
    with pytest.raises(UsageError, match="form-encoded"):
        verify_and_parse("github", github_headers(form), form, SECRET)
    for body in (b"{not json", b"[1, 2]", json.dumps({"ref": "refs/heads/main"}).encode(),
                 github_push(after="not-a-sha"), github_push(ref="main")):
        with pytest.raises(UsageError):
            verify_and_parse("github", github_headers(body), body, SECRET)
    body = github_push()
    headers = github_headers(body)
    del headers["X-GitHub-Delivery"]
    with pytest.raises(UsageError, match="delivery id"):
        verify_and_parse("github", headers, body, SECRET)


def test_signature_is_checked_before_the_payload_is_read() -> None:
    # a forged request learns nothing about what the server would accept
    with pytest.raises(AuthError):
        verify_and_parse("github", {"X-GitHub-Event": "push"}, b"{not json", SECRET)


# ------------------------------------------------------------------ GitLab


def test_gitlab_secret_token() -> None:
    body = gitlab_push()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET,
               "X-Gitlab-Event-UUID": "62fb8f2c-6a77-4f2c-b0c3-6d1e2a3c4b5d"}
    push = verify_and_parse("gitlab", headers, body, SECRET)
    assert (push.kind, push.commit, push.pusher, push.repository, push.delivery_id) == (
        "push", AFTER, "priya", "acme/retail", "62fb8f2c-6a77-4f2c-b0c3-6d1e2a3c4b5d")
    for bad in ({**headers, "X-Gitlab-Token": "guessed"},
                {k: v for k, v in headers.items() if k != "X-Gitlab-Token"}):
        with pytest.raises(AuthError):
            verify_and_parse("gitlab", bad, body, SECRET)


def test_gitlab_signing_token() -> None:
    body = gitlab_push()
    headers = gitlab_signed(body, webhook_id="idem-1")
    push = verify_and_parse("gitlab", headers, body, SIGNING_TOKEN, now=NOW + 10)
    assert push.delivery_id == "idem-1" and push.commit == AFTER
    # during a rotation GitLab sends several signatures: one valid one is enough
    rotated = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    assert verify_and_parse("gitlab", rotated, body, SIGNING_TOKEN, now=NOW).kind == "push"


@pytest.mark.parametrize("tamper", ["other token", "old timestamp", "body changed",
                                    "id changed", "no timestamp"])
def test_gitlab_bad_signing_is_refused(tamper: str) -> None:
    body = gitlab_push()
    headers = gitlab_signed(body)
    now = NOW
    if tamper == "other token":
        headers = gitlab_signed(body, token="whsec_" + base64.b64encode(b"x" * 32).decode())
    elif tamper == "old timestamp":
        now = NOW + 301
    elif tamper == "body changed":
        body = gitlab_push(after="c" * 40)
    elif tamper == "id changed":
        headers["webhook-id"] = "another-id"
    else:
        del headers["webhook-timestamp"]
    with pytest.raises(AuthError):
        verify_and_parse("gitlab", headers, body, SIGNING_TOKEN, now=now)


def test_gitlab_delete_tag_and_other_hooks_are_ignored() -> None:
    token = {"X-Gitlab-Token": SECRET, "X-Gitlab-Event-UUID": "u-1"}
    body = gitlab_push(after=ZERO)
    deleted = verify_and_parse("gitlab", {**token, "X-Gitlab-Event": "Push Hook"}, body, SECRET)
    assert deleted.kind == "ignored" and "deleted" in deleted.reason
    tag = json.loads(gitlab_push(ref="refs/tags/v1"))
    tag["object_kind"] = "tag_push"
    body = json.dumps(tag).encode()
    pushed = verify_and_parse("gitlab", {**token, "X-Gitlab-Event": "Tag Push Hook"}, body,
                              SECRET)
    assert pushed.kind == "ignored"
    with pytest.raises(UsageError, match="delivery id"):
        verify_and_parse("gitlab", {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Push Hook"},
                         gitlab_push(), SECRET)


# ------------------------------------------------------------------ generic and unknown


def test_generic_payload() -> None:
    body = json.dumps({"ref": "main", "commit": "ABCDEF12" * 5, "pusher": "ci"}).encode()
    headers = {"X-Sluice-Signature": sign(SECRET, body), "X-Sluice-Delivery": "build-7"}
    push = verify_and_parse("generic", headers, body, SECRET)
    assert (push.ref, push.commit, push.pusher, push.branch) == (
        "refs/heads/main", "abcdef12" * 5, "ci", "main")
    short = json.dumps({"ref": "main", "commit": "abcdef1"}).encode()
    with pytest.raises(UsageError, match="full commit sha"):
        verify_and_parse("generic", {"X-Sluice-Signature": sign(SECRET, short),
                                     "X-Sluice-Delivery": "build-short"}, short, SECRET)
    body = json.dumps({"ref": "refs/heads/main", "after": AFTER, "before": BEFORE}).encode()
    headers = {"X-Sluice-Signature": sign(SECRET, body), "X-Sluice-Delivery": "build-8"}
    assert verify_and_parse("generic", headers, body, SECRET).before == BEFORE
    body = json.dumps({"ref": "main"}).encode()
    with pytest.raises(UsageError, match="commit"):
        verify_and_parse("generic", {"X-Sluice-Signature": sign(SECRET, body),
                                     "X-Sluice-Delivery": "b-9"}, body, SECRET)
    with pytest.raises(AuthError):
        verify_and_parse("generic", {"X-Sluice-Delivery": "b-9"}, body, SECRET)


def test_unknown_provider_and_missing_secret() -> None:
    with pytest.raises(UsageError, match="unknown webhook provider 'bitbucket'") as info:
        verify_and_parse("bitbucket", {}, b"{}", SECRET)
    assert "github|gitlab|generic" in (info.value.tip or "")
    body = github_push()
    with pytest.raises(AuthError, match="no webhook secret"):
        verify_and_parse("github", github_headers(body, secret=""), body, "")


# ------------------------------------------------------------------ deliveries and receive


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("hooks") / "retail",
                        "pipeline:\n  branch: main\n"
                        "triggers:\n  webhook:\n    secret_env: RETAIL_HOOK_SECRET\n")


@pytest.fixture
def ws(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.delenv("SLUICE_HOME", raising=False)
    monkeypatch.delenv("SLUICE_STATE_URL", raising=False)
    monkeypatch.setenv("RETAIL_HOOK_SECRET", SECRET)
    workspace = Workspace.open(project)
    try:
        yield workspace
    finally:
        workspace.close()


def _deliveries(ws: Workspace) -> list[tuple[Any, ...]]:
    with ws.state.transaction("read") as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(deliveries.c.provider, deliveries.c.delivery_id,
                      deliveries.c.execution_id).order_by(deliveries.c.received_at))]


def test_record_delivery_refuses_a_replay(ws: Workspace) -> None:
    assert record_delivery(ws.state, "github", "rd-1") is True
    assert record_delivery(ws.state, "github", "rd-1", execution_id=9) is False
    assert record_delivery(ws.state, "gitlab", "rd-1") is True  # ids are per provider
    assert [d for d in _deliveries(ws) if d[1] == "rd-1"] == [
        ("github", "rd-1", None), ("gitlab", "rd-1", None)]


def test_receive_starts_one_execution_and_refuses_the_replay(ws: Workspace) -> None:
    head = git(ws.root, "rev-parse", "HEAD")
    body = github_push(after=head)
    headers = github_headers(body, delivery="rcv-1")
    start = Recorder()
    outcome = receive(ws, "github", headers, body, start)
    assert (outcome.status, outcome.execution_id) == ("started", 1)
    assert start.calls == [{
        "commit": head, "ref": "refs/heads/main", "trigger": "webhook",
        "detail": {"provider": "github", "delivery": "rcv-1", "repository": "acme/retail",
                   "pusher": "priya", "before": BEFORE},
        "actor": "priya", "action": "pipeline", "env": None}]
    assert ("github", "rcv-1", 1) in _deliveries(ws)
    before = _deliveries(ws)
    replay = receive(ws, "github", headers, body, start)
    assert replay.status == "replayed" and len(start.calls) == 1
    assert _deliveries(ws) == before
    refused = ws.state.events(kind="auth_refused", limit=1)[0]
    assert refused.payload["delivery"] == "rcv-1" and "replay" in refused.payload["reason"]


def test_receive_ignores_other_branches_pings_and_deletes(ws: Workspace) -> None:
    start = Recorder()
    body = github_push(ref="refs/heads/feature/x")
    outcome = receive(ws, "github", github_headers(body, delivery="rcv-branch"), body, start)
    assert outcome.status == "ignored" and "pipeline.branch" in outcome.reason
    ping = json.dumps({"zen": "Design for failure.", "hook_id": 3}).encode()
    assert receive(ws, "github", github_headers(ping, "ping"), ping, start).status == "ping"
    body = github_push(after=ZERO)
    assert receive(ws, "github", github_headers(body), body, start).status == "ignored"
    assert start.calls == []
    # an ignored delivery is recorded all the same: replaying it changes nothing either
    again = receive(ws, "github", github_headers(github_push(ref="refs/heads/feature/x"),
                                                 delivery="rcv-branch"),
                    github_push(ref="refs/heads/feature/x"), start)
    assert again.status == "replayed"
    logged = ws.state.events(kind="webhook", limit=3)
    assert {e.payload["status"] for e in logged} == {"ignored", "ping"}


def test_receive_refuses_forgeries_and_logs_them_without_secrets(ws: Workspace) -> None:
    start = Recorder()
    body = github_push()
    forged = github_headers(body, delivery="rcv-forged", secret="guessed")
    before = _deliveries(ws)
    with pytest.raises(AuthError):
        receive(ws, "github", forged, body, start)
    assert start.calls == [] and _deliveries(ws) == before
    refused = ws.state.events(kind="auth_refused", limit=1)[0]
    assert refused.payload["path"] == "/api/hooks/github"
    assert "does not match" in refused.payload["reason"]
    stored = json.dumps([e.payload for e in ws.state.events(limit=1000)])
    assert SECRET not in stored and forged["X-Hub-Signature-256"] not in stored


def test_receive_without_a_configured_secret_refuses(ws: Workspace,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETAIL_HOOK_SECRET")
    body = github_push()
    with pytest.raises(AuthError, match="RETAIL_HOOK_SECRET is not set") as info:
        receive(ws, "github", github_headers(body), body, Recorder())
    assert "RETAIL_HOOK_SECRET" in (info.value.tip or "")


def test_a_failed_start_forgets_the_delivery(ws: Workspace) -> None:
    body = github_push(after="f" * 40)
    headers = github_headers(body, delivery="rcv-fail")
    with pytest.raises(UsageError, match="cannot start"):
        receive(ws, "github", headers, body, Recorder(fail=True))
    assert not [d for d in _deliveries(ws) if d[1] == "rcv-fail"]
    start = Recorder()
    assert receive(ws, "github", headers, body, start).status == "started"  # the redelivery


def test_concurrent_copies_of_one_delivery_start_once(project: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAIL_HOOK_SECRET", SECRET)
    body = gitlab_push(after="e" * 40)
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET,
               "Idempotency-Key": "rcv-concurrent"}
    start = Recorder()
    statuses: list[str] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        workspace = Workspace.open(project)  # one store connection pool per "server"
        try:
            barrier.wait()
            statuses.append(receive(workspace, "gitlab", headers, body, start).status)
        finally:
            workspace.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == ["replayed"] * 3 + ["started"]
    assert len(start.calls) == 1


def test_one_commit_delivered_twice_starts_one_execution(ws: Workspace) -> None:
    # two hooks on one repository (GitHub's and a CI job's generic one) send the same push
    start = Recorder()
    commit = "d" * 40
    body = github_push(after=commit)
    first = receive(ws, "github", github_headers(body, delivery="rcv-twice-1"), body, start)
    generic = json.dumps({"ref": "refs/heads/main", "commit": commit}).encode()
    second = receive(ws, "generic", {"X-Sluice-Signature": sign(SECRET, generic),
                                     "X-Sluice-Delivery": "rcv-twice-2"}, generic, start)
    assert (first.status, second.status) == ("started", "ignored")
    assert second.reason == f"commit {commit} already has execution {first.execution_id}"
    assert second.execution_id == first.execution_id and len(start.calls) == 1


@pytest.mark.postgres
def test_one_delivery_and_one_commit_win_once_on_postgresql(postgres_db: str) -> None:
    from sluice.state import StateStore

    stores = [StateStore(postgres_db) for _ in range(4)]
    results: list[tuple[bool, bool]] = []
    barrier = threading.Barrier(len(stores))

    def race(store: StateStore) -> None:
        barrier.wait()
        results.append((record_delivery(store, "github", "pg-1"),
                        claim_commit(store, "9" * 40)[0]))

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(r[0] for r in results) == [False, False, False, True]
    assert sorted(r[1] for r in results) == [False, False, False, True]
