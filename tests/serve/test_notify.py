"""Notifications end to end: real flows of the retail example (a failing deploy, a failed
audit, a gate refusal, an approval, a promotion) through the real CLI, received by a local
Slack-webhook stand-in, a generic webhook whose signature the test verifies, and a real SMTP
server (aiosmtpd) with a login; the outbox's retries, backoff, leases and give-up on the real
state store; and no secret anywhere in what was sent or stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sluice.config import load_project
from sluice.config.control import WebhookChannel
from sluice.deploy.deployer import deploy
from sluice.errors import ConfigError
from sluice.flow.releases import make_release
from sluice.notify import RetryPolicy, deliver_due, enqueue, list_notifications
from sluice.notify.outbox import _claim
from sluice.project.workspace import Workspace
from sluice.state import StateStore
from sluice.state.schema import notifications
from tests.flow.conftest import USER, Project, Result
from tests.retail import copy_retail
from tests.serve.notify_standins import Mailbox, Receiver, free_port, start_receiver, start_smtp

PASSWORD = "pw-" + secrets.token_hex(8)  # a parameter given through SLUICE_ENV_*
SLACK_TOKEN = "xoxb" + secrets.token_hex(8)  # the secret part of the Slack URL
HOOK_SECRET = "hs-" + secrets.token_hex(8)
SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-" + secrets.token_hex(8)
SECRETS = (PASSWORD, SLACK_TOKEN, HOOK_SECRET, SMTP_PASSWORD)
SLACK, HOOK = f"/slack/services/T01/B01/{SLACK_TOKEN}", "/hook"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG", "SLUICE_SERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_USER", USER)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = start_receiver()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = start_smtp(SMTP_USER, SMTP_PASSWORD)
    yield box
    assert box.controller is not None
    box.controller.stop()


def _channels(smtp_port: int) -> str:
    return f"""
server:
  url: https://sluice.example.com/
notifications:
  - type: slack
    url_env: TEST_SLACK_URL
  - type: webhook
    url_env: TEST_HOOK_URL
    secret_env: TEST_HOOK_SECRET
    events: [deploy_failed, audit_failed, approval_requested, deploy_succeeded]
  - type: email
    from: sluice@example.com
    to: [team@example.com]
    environments: [prod]
    smtp:
      host: 127.0.0.1
      port: {smtp_port}
      username_env: TEST_SMTP_USER
      password_env: TEST_SMTP_PASSWORD
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Path:
    """The retail example (no PySpark) with its first release live in dev, then the
    notification channels added to sluice.yaml and committed."""
    assert mailbox.controller is not None
    root = tmp_path_factory.mktemp("notify") / "retail"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG"):
            mp.delenv(name, raising=False)
        mp.setenv("SLUICE_USER", USER)
        copy_retail(root, spark=False)
        project = Project(root)
        project.edit("sluice.yaml", 'parameters: {min_amount: "0"}\n  staging:',
                     'parameters: {min_amount: "0", db_password: ""}\n  staging:')
        project.init_git()
        ws = Workspace.open(root)
        try:
            manifest, _ = make_release(ws)
            project.load("dev")
            deploy(ws, "dev", manifest.id, actor=USER)
        finally:
            ws.close()
        with (root / "sluice.yaml").open("a", encoding="utf-8") as fh:
            fh.write(_channels(mailbox.controller.port))
        project.commit("notify the team")
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path, receiver: Receiver, mailbox: Mailbox) -> Project:
    dest = tmp_path / "retail"
    shutil.copytree(template, dest, symlinks=True)
    receiver.clear()
    mailbox.messages.clear()
    return Project(dest)


def _environ(receiver: Receiver, **extra: str) -> dict[str, str]:
    return {"TEST_SLACK_URL": receiver.base + SLACK, "TEST_HOOK_URL": receiver.base + HOOK,
            "TEST_HOOK_SECRET": HOOK_SECRET, "TEST_SMTP_USER": SMTP_USER,
            "TEST_SMTP_PASSWORD": SMTP_PASSWORD, "SLUICE_ENV_DEV_DB_PASSWORD": PASSWORD,
            **extra}


def _sluice(p: Project, receiver: Receiver, *args: str, **extra: str) -> Result:
    return p.sluice(*args, env=_environ(receiver, **extra))


def _outbox(p: Project) -> list[dict[str, Any]]:
    with p.workspace() as ws:
        return [r.to_dict() for r in reversed(list_notifications(ws.state))]


def _state_dump(p: Project) -> str:
    con = sqlite3.connect(p.home / "state.db")
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def _assert_secret_free(p: Project, receiver: Receiver, mailbox: Mailbox) -> None:
    sent = [r.body.decode() + json.dumps(r.headers) for r in receiver.requests]
    sent += [m[2] for m in mailbox.messages]
    stored = _state_dump(p)
    for secret in SECRETS:
        assert not [s for s in sent if secret in s], f"{secret[:3]}… was sent"
        assert secret not in stored, f"{secret[:3]}… is in the state store"


def _verified(request: Any) -> dict[str, Any]:
    """The body of a generic webhook delivery, after checking its signature as a receiver
    would (HMAC-SHA256 of the raw body with the shared secret)."""
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), request.body,
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Sluice-Signature"], expected)
    body: dict[str, Any] = request.json()
    assert request.headers["X-Sluice-Delivery"] == str(body["id"])
    return body


# ---------------------------------------------------------------------- real flows


def test_a_failing_deploy_is_told_to_slack_and_the_webhook_with_secrets_masked(
        project: Project, receiver: Receiver, mailbox: Mailbox) -> None:
    p = project
    p.edit("jobs/product_sales.py", '    orders = ctx.read("staging.orders").df()',
           '    raise ValueError(f"cannot log in with {ctx.params[\'db_password\']}")')
    p.commit("product_sales fails")
    rid = _sluice(p, receiver, "release", "--message", "product_sales fails",
                  "--json").json()["id"]

    failed = _sluice(p, receiver, "deploy", "dev")
    assert failed.code == 1, failed.err

    [slack] = receiver.on(SLACK)
    body = slack.json()
    assert body["text"] == f"Deployment of release {rid} to dev failed <https://sluice" \
                           ".example.com|Open>"
    header, fields, lines, actions = body["blocks"]
    assert header == {"type": "header", "text": {
        "type": "plain_text", "text": f"Deployment of release {rid} to dev failed"}}
    assert {"type": "mrkdwn", "text": "*Environment*\ndev"} in fields["fields"]
    assert {"type": "mrkdwn", "text": f"*Release*\n{rid}"} in fields["fields"]
    assert {"type": "mrkdwn", "text": "*Message*\nproduct_sales fails"} in fields["fields"]
    assert "raised ValueError: cannot log in with ***" in lines["text"]["text"]
    assert actions["elements"][0]["url"] == "https://sluice.example.com"

    [hook] = receiver.on(HOOK)
    data = _verified(hook)
    assert (data["kind"], data["env"], data["release"]) == ("deploy_failed", "dev", rid)
    assert data["release_info"]["author"] == f"{USER} <{USER}@example.com>"
    assert "cannot log in with ***" in data["details"]["reason"]
    assert data["summary"] == f"Deployment of release {rid} to dev failed"
    assert mailbox.messages == []  # the email channel is for prod only
    assert {(r["channel"], r["kind"], r["status"], r["attempts"]) for r in _outbox(p)} == {
        ("slack:TEST_SLACK_URL", "deploy_failed", "sent", 1),
        ("webhook:TEST_HOOK_URL", "deploy_failed", "sent", 1)}
    _assert_secret_free(p, receiver, mailbox)


def test_a_rollback_is_told_to_slack_naming_both_releases(
        project: Project, receiver: Receiver, mailbox: Mailbox) -> None:
    p = project
    before = _sluice(p, receiver, "status", "--json").json()[0]["release"]
    rid = _sluice(p, receiver, "release", "--json").json()["id"]  # the channels' commit
    assert _sluice(p, receiver, "deploy", "dev").code == 0
    receiver.clear()

    back = _sluice(p, receiver, "rollback", "dev")
    assert back.code == 0, back.err
    [slack] = [r.json() for r in receiver.on(SLACK)]
    assert slack["text"].startswith(f"dev rolled back to release {before}")
    assert rid in json.dumps(slack["blocks"])  # the release it left
    assert [(r["kind"], r["status"]) for r in _outbox(p) if r["kind"] == "rolled_back"] == \
        [("rolled_back", "sent")]
    _assert_secret_free(p, receiver, mailbox)


def test_an_execution_that_fails_is_told(project: Project, receiver: Receiver,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's own notification: a pipeline execution of a commit the repository
    lacks fails, and the outbox holds an ``execution_failed`` naming it."""
    from sluice.serve.executions import start_execution
    from tests.serve.exec_fixtures import RunningEngine, wait_for

    for name, value in _environ(receiver).items():
        monkeypatch.setenv(name, value)
    with project.workspace() as ws:
        eid = start_execution(ws, commit="0" * 39 + "1", ref="refs/heads/main",
                              trigger="api", detail={}, actor=USER)
    running = RunningEngine(project.root, "engine-n")
    try:
        running.engine.wake()
        rows = wait_for(lambda: [r for r in _outbox(project) if r["kind"].startswith(
            "execution_")] or None, 120, "the execution's notification")
    finally:
        running.close()
    assert {(r["kind"], r["env"]) for r in rows} == {("execution_failed", "dev")}
    assert {r["payload"]["details"]["execution"] for r in rows} == {eid}


def test_a_failed_audit_names_the_failing_rules(project: Project, receiver: Receiver,
                                                mailbox: Mailbox) -> None:
    p = project
    p.edit("quality/orders.dqdl", 'ColumnValues "quantity" between 0 and 1000',
           'ColumnValues "quantity" between 0 and 1')
    p.commit("at most one of each")
    assert _sluice(p, receiver, "release").code == 0
    line = (p.root / "quality/orders.dqdl").read_text().splitlines().index(
        '    ColumnValues "quantity" between 0 and 1,') + 1

    failed = _sluice(p, receiver, "deploy", "dev")
    assert failed.code == 1 and "audit failed" in failed.err

    kinds = [r.json()["kind"] for r in receiver.on(HOOK)]
    assert sorted(kinds) == ["audit_failed", "deploy_failed"]
    [audit] = [_verified(r) for r in receiver.on(HOOK) if r.json()["kind"] == "audit_failed"]
    [bad] = audit["details"]["failed"]
    assert bad["dataset"] == "staging.orders"
    assert [(r["rule"], r["location"]) for r in bad["rules"]] == [
        ('ColumnValues "quantity" between 0 and 1', f"quality/orders.dqdl:{line}:5")]
    [slack] = [r.json() for r in receiver.on(SLACK)
               if r.json()["text"].startswith("Audit failed")]
    assert f'ColumnValues "quantity" between 0 and 1 at quality/orders.dqdl:{line}:5' \
           in slack["blocks"][2]["text"]["text"]
    _assert_secret_free(p, receiver, mailbox)


def test_a_gate_refusal_asks_for_approval_by_mail_and_the_approval_is_told(
        project: Project, receiver: Receiver, mailbox: Mailbox) -> None:
    p = project
    p.load("staging")
    p.load("prod")
    assert _sluice(p, receiver, "promote", "dev", "staging").code == 0
    [staged] = [_verified(r) for r in receiver.on(HOOK)]
    assert (staged["kind"], staged["env"]) == ("deploy_succeeded", "staging")  # "published"
    release = staged["release"]
    receiver.clear()

    refused = _sluice(p, receiver, "promote", "staging", "prod")
    assert refused.code == 1 and "needs an approval" in refused.error
    [asked] = [_verified(r) for r in receiver.on(HOOK)]
    assert asked["kind"] == "approval_requested" and asked["release"] == release
    assert asked["jobs_changed"] == ["customer_orders", "orders", "product_sales"]  # 1st time
    assert asked["link"] == "https://sluice.example.com"
    [(sender, to, text)] = mailbox.messages
    assert (sender, to) == ("sluice@example.com", ["team@example.com"])
    assert f"Subject: Approval needed: release {release} for prod" in text
    assert f"sluice approve prod --release {release}" in text
    assert "Jobs changed: customer_orders, orders, product_sales" in text
    assert "Message: initial" in text  # no release message: the commit's subject
    assert mailbox.logins == [SMTP_USER] * len(mailbox.logins) and mailbox.logins

    mailbox.messages.clear()
    assert _sluice(p, receiver, "approve", "prod", "--comment", "looks good").code == 0
    [(_, _, approved)] = mailbox.messages
    assert f"Subject: {USER} approved release {release} for prod" in approved
    assert "Comment: looks good" in approved
    assert any(r.json()["text"].startswith(f"{USER} approved release")
               for r in receiver.on(SLACK))

    mailbox.messages.clear()
    assert _sluice(p, receiver, "promote", "staging", "prod").code == 0
    [(_, _, live)] = mailbox.messages
    assert f"Subject: Release {release} is live in prod" in live
    assert all(r["status"] == "sent" for r in _outbox(p))
    _assert_secret_free(p, receiver, mailbox)


def test_an_unreachable_slack_never_fails_the_deploy_and_ends_failed(
        project: Project, receiver: Receiver, mailbox: Mailbox) -> None:
    p = project
    dead = f"http://127.0.0.1:{free_port()}{SLACK}"  # nothing listens there
    ran = _sluice(p, receiver, "run", "dev", TEST_SLACK_URL=dead)
    assert ran.code == 0, ran.err
    rows = {r["channel"]: r for r in _outbox(p)}
    slack = rows["slack:TEST_SLACK_URL"]
    assert (slack["kind"], slack["status"], slack["attempts"]) == ("deploy_succeeded",
                                                                   "pending", 1)
    assert "cannot reach the URL" in slack["last_error"]
    assert slack["next_at"] > slack["created_at"]  # retried later, with backoff
    assert rows["webhook:TEST_HOOK_URL"]["status"] == "sent"  # the others are not held up

    policy = RetryPolicy(max_attempts=4)
    later = dt.datetime.now(dt.UTC)
    with p.workspace() as ws:
        cfg = ws.config()
        for _ in range(10):
            later += dt.timedelta(hours=1)
            deliver_due(ws.state, cfg, later, "test", policy=policy,
                        environ=_environ(receiver, TEST_SLACK_URL=dead))
        [gave_up] = ws.state.events(kind="notify_failed")
    [row] = [r for r in _outbox(p) if r["channel"] == "slack:TEST_SLACK_URL"]
    assert (row["status"], row["attempts"]) == ("failed", 4)
    assert gave_up.payload["notification"] == row["id"] and gave_up.payload["attempts"] == 4
    with p.workspace() as ws:
        assert ws.state.live("dev") is not None
        assert ws.state.deployments("dev", limit=1)[0].status.value == "succeeded"
    history = p.json("history", "dev")
    assert any(row["detail"].startswith(
        "gave up sending the deploy_succeeded notification of dev to slack:TEST_SLACK_URL "
        "after 4 attempts: channel slack:TEST_SLACK_URL: cannot reach the URL")
        for row in history), history
    _assert_secret_free(p, receiver, mailbox)


# ---------------------------------------------------------------------- the outbox


def _only_webhook(cfg: Any) -> Any:
    """The config with one unfiltered generic webhook (its body carries the row id)."""
    return cfg.model_copy(update={"notifications": [WebhookChannel(
        type="webhook", url_env="TEST_HOOK_URL", secret_env="TEST_HOOK_SECRET")]})


def test_retries_back_off_then_send_once(project: Project, receiver: Receiver) -> None:
    receiver.fail, receiver.fail_path = 2, SLACK
    t0 = dt.datetime.now(dt.UTC)
    policy = RetryPolicy(base_seconds=10)
    env = _environ(receiver)
    with project.workspace() as ws:
        cfg = ws.config()
        # the webhook's events filter leaves rollbacks out; the email is for prod
        [slack_id] = enqueue(ws.state, cfg, "dev", "rolled_back",
                             {"release": "r1", "previous": "r0"}, now=t0)
        assert deliver_due(ws.state, cfg, t0, "a", policy=policy, environ=env) == 0
        [first] = [r for r in list_notifications(ws.state) if r.id == slack_id]
        wait1 = (first.next_at - t0).total_seconds()
        assert (first.status, first.attempts) == ("pending", 1) and 5 <= wait1 <= 10
        assert "HTTP 500" in (first.last_error or "")
        # not due yet: nothing is sent or tried
        assert deliver_due(ws.state, cfg, t0, "a", policy=policy, environ=env) == 0
        assert receiver.fail == 1
        deliver_due(ws.state, cfg, first.next_at, "a", policy=policy, environ=env)
        [second] = [r for r in list_notifications(ws.state) if r.id == slack_id]
        wait2 = (second.next_at - first.next_at).total_seconds()
        assert second.attempts == 2 and 10 <= wait2 <= 20  # doubled
        assert deliver_due(ws.state, cfg, second.next_at, "a", policy=policy,
                           environ=env) == 1
        [done] = [r for r in list_notifications(ws.state) if r.id == slack_id]
    assert (done.status, done.attempts, done.last_error) == ("sent", 3, None)
    [sent] = receiver.on(SLACK)
    assert sent.json()["text"].startswith("dev rolled back to release r1")


def test_a_permanent_refusal_gives_up_at_once(project: Project, receiver: Receiver) -> None:
    receiver.fail, receiver.fail_path, receiver.fail_status = 1, SLACK, 404
    try:
        with project.workspace() as ws:
            cfg = ws.config()
            enqueue(ws.state, cfg, "dev", "deploy_failed", {"release": "r1", "reason": "x"})
            deliver_due(ws.state, cfg, None, "a", environ=_environ(receiver))
            rows = {r.channel: r for r in list_notifications(ws.state)}
            [event] = ws.state.events(kind="notify_failed")
    finally:
        receiver.fail_status = 500
    assert (rows["slack:TEST_SLACK_URL"].status, rows["slack:TEST_SLACK_URL"].attempts) == (
        "failed", 1)
    assert "HTTP 404" in (rows["slack:TEST_SLACK_URL"].last_error or "")
    assert rows["webhook:TEST_HOOK_URL"].status == "sent"
    assert event.payload["channel"] == "slack:TEST_SLACK_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One state store for two servers: SQLite, and PostgreSQL (team mode)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    url: str = request.getfixturevalue("postgres_db")
    return "postgresql+psycopg://" + url.partition("://")[2]


def test_a_leased_row_is_not_claimed_by_another_server_until_its_lease_expires(
        project: Project, shared_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    policy = RetryPolicy(lease_seconds=60)
    with project.workspace() as ws:
        cfg = _only_webhook(ws.config())
    one, other = StateStore(shared_url), StateStore(shared_url)  # two servers, one store
    try:
        ids = enqueue(one, cfg, "dev", "deploy_failed", {"release": "r1"}, now=now)
        assert [r.id for r in _claim(one, "a", now, 10, policy, None)] == ids
        assert _claim(other, "b", now, 10, policy, None) == []
        later = now + dt.timedelta(seconds=61)  # a crashed; its lease ran out
        assert [r.id for r in _claim(other, "b", later, 10, policy, None)] == ids
    finally:
        one.close()
        other.close()


def test_a_row_leased_by_a_dead_server_on_this_host_is_taken_at_once(
        project: Project) -> None:
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    now = dt.datetime.now(dt.UTC)
    policy = RetryPolicy(lease_seconds=60)
    with project.workspace() as ws:
        cfg = _only_webhook(ws.config())
        ids = enqueue(ws.state, cfg, "dev", "deploy_failed", {"release": "r1"}, now=now)
        alive = f"server@{socket.gethostname()}:{os.getpid()}"  # this process: alive
        assert [r.id for r in _claim(ws.state, alive, now, 10, policy, None)] == ids
        assert _claim(ws.state, "b", now, 10, policy, None) == []  # a live lease holds
        with ws.state.transaction("pretend a server died", write=True) as conn:
            conn.execute(sa.update(notifications).values(
                lease_owner=f"server@{socket.gethostname()}:{dead}"))
        assert [r.id for r in _claim(ws.state, "b", now, 10, policy, None)] == ids


def test_two_dispatchers_on_one_store_send_each_row_exactly_once(
        project: Project, receiver: Receiver, shared_url: str) -> None:
    with project.workspace() as ws:
        cfg = _only_webhook(ws.config())
    with StateStore(shared_url) as store:
        ids = [i for n in range(24)
               for i in enqueue(store, cfg, "dev", "execution_succeeded", {"execution": n})]
    env = _environ(receiver)
    errors: list[BaseException] = []

    def dispatcher(owner: str) -> None:
        store = StateStore(shared_url)
        try:
            while any(r.status == "pending" for r in list_notifications(store)):
                deliver_due(store, cfg, None, owner, limit=3, environ=env)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=dispatcher, args=(o,)) for o in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    bodies = [_verified(r) for r in receiver.on(HOOK)]
    assert sorted(b["id"] for b in bodies) == sorted(ids)  # nothing lost, nothing twice
    assert sorted(b["details"]["execution"] for b in bodies) == list(range(24))


def test_filters_aliases_and_unknown_kinds(project: Project) -> None:
    with project.workspace() as ws:
        cfg = ws.config()

        def channels(env: str, kind: str) -> set[str]:
            ids = set(enqueue(ws.state, cfg, env, kind, {"release": "r1"}))
            return {r.channel for r in list_notifications(ws.state) if r.id in ids}

        everyone = {"slack:TEST_SLACK_URL", "webhook:TEST_HOOK_URL",
                    "email:team@example.com"}
        assert channels("prod", "published") == everyone  # published = deploy_succeeded
        assert channels("dev", "published") == everyone - {"email:team@example.com"}
        assert channels("prod", "rejected") == everyone - {"webhook:TEST_HOOK_URL"}
        # kinds sluice does not know yet go to the channels without an events filter
        assert channels("prod", "workflow_failed") == everyone - {"webhook:TEST_HOOK_URL"}
        kinds = {r.kind for r in list_notifications(ws.state)}
    assert "published" not in kinds and "deploy_succeeded" in kinds


def test_notify_never_fails_its_caller(project: Project, receiver: Receiver) -> None:
    with project.workspace() as ws:
        (project.root / "sluice.yaml").write_text("project: [broken\n", encoding="utf-8")
        ws.notify("dev", "deploy_failed", release="r1", reason="boom")  # no exception
        events = ws.state.events(kind="notify_failed")
        assert events and {e.payload["kind"] for e in events} == {"deploy_failed"}
        assert "sluice.yaml" in events[-1].payload["error"]  # the first: the config
        assert list_notifications(ws.state) == []


def test_an_sns_channel_for_a_local_environment_is_refused(tmp_path: Path) -> None:
    root = copy_retail(tmp_path / "retail", spark=False)
    with (root / "sluice.yaml").open("a", encoding="utf-8") as fh:
        fh.write("notifications:\n  - type: sns\n    environments: [prod]\n")
    with pytest.raises(ConfigError) as caught:
        load_project(root)
    assert "'prod' is on the local target, which has no SNS topic" in caught.value.message


@pytest.mark.aws
def test_an_sns_channel_publishes_to_the_environments_topic_with_its_filters(
        tmp_path: Path, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_ENV_DEV_DB_PASSWORD", PASSWORD)  # a secret of this process
    root = copy_retail(tmp_path / "retail", spark=False)
    p = Project(root)
    target = json.dumps({"type": "aws", "region": "eu-west-1", "bucket": "acme-retail-dev",
                         "endpoint_url": aws})
    p.edit("sluice.yaml", "  dev:\n    target: {type: local}", f"  dev:\n    target: {target}")
    with (root / "sluice.yaml").open("a", encoding="utf-8") as fh:
        fh.write("notifications:\n  - type: sns\n    events: [deploy_failed]\n")
    p.init_git()
    with p.workspace() as ws:
        ws.notify("dev", "deploy_failed", release="r1", reason=f"cannot log in: {PASSWORD}")
        ws.notify("dev", "approved", release="r1", actor=USER)  # not for this channel
        ws.notify("staging", "deploy_failed", release="r1")  # local: no topic, no row
        rows = list_notifications(ws.state)
        assert [(r.channel, r.kind, r.env) for r in rows] == [("sns", "deploy_failed", "dev")]
        from sluice.notify import Dispatcher

        assert Dispatcher(root, "test", workspace=ws).flush(10) == 1
        [row] = list_notifications(ws.state)
        assert row.status == "sent"
    from moto.sns.models import sns_backends

    account = "123456789012"  # moto's
    topic = f"arn:aws:sns:eu-west-1:{account}:sluice-retail-dev"
    sent = [(n[2], json.loads(n[1]))
            for n in sns_backends[account]["eu-west-1"].topics[topic].sent_notifications]
    # the channel took over the topic: the approval never went there, the failure once
    assert [(subject, m["kind"]) for subject, m in sent] == [
        ("sluice dev: deploy_failed", "deploy_failed")]
    body = sent[0][1]
    assert body["release"] == "r1" and body["details"]["reason"] == "cannot log in: ***"
    assert PASSWORD not in json.dumps(sent)


def test_the_documented_channels_are_valid_config(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text()
    section = doc.split("## Notifications", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    assert len(blocks) == 5  # slack, webhook, email, sns, server
    for i, block in enumerate(blocks):
        root = copy_retail(tmp_path / f"retail{i}", spark=False)
        with (root / "sluice.yaml").open("a", encoding="utf-8") as fh:
            fh.write(block)
        cfg = load_project(root)
        assert cfg.notifications or cfg.server.url


def test_the_servers_dispatcher_sends_what_is_queued_and_stops(
        project: Project, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.notify import Dispatcher

    for name, value in _environ(receiver).items():
        monkeypatch.setenv(name, value)
    stop = threading.Event()
    dispatcher = Dispatcher(project.root, "server-a")
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,))
    thread.start()
    try:
        with project.workspace() as ws:
            ws.notify("dev", "execution_failed", execution=7, message="stage deploy failed")
            assert ws.notified == 1  # slack only: the webhook's filter leaves executions out
        waited = threading.Event()
        for _ in range(200):  # until it arrives (bounded), not a timing assertion
            if receiver.on(SLACK):
                break
            waited.wait(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and dispatcher.last_error is None
    [sent] = receiver.on(SLACK)
    body = sent.json()
    assert body["text"] == "Execution 7 failed in dev " \
                           "<https://sluice.example.com/executions/7|Open>"
    assert "stage deploy failed" in json.dumps(body["blocks"])


# ---------------------------------------------------------------------- the notifier seam

RECORD = {"kind": "deploy_failed", "env": "dev", "release": "abc123", "actor": USER,
          "release_info": None, "details": {"release": "abc123", "reason": "boom: ***"}}


def _channel(kind: str, smtp_port: int) -> Any:
    from sluice.config.control import EmailChannel, SlackChannel, Smtp

    if kind == "slack":
        return SlackChannel(type="slack", url_env="TEST_SLACK_URL")
    if kind == "webhook":
        return WebhookChannel(type="webhook", url_env="TEST_HOOK_URL",
                              secret_env="TEST_HOOK_SECRET")
    return EmailChannel.model_validate({
        "type": "email", "from": "sluice@example.com", "to": ["team@example.com"],
        "smtp": Smtp(host="127.0.0.1", port=smtp_port, username_env="TEST_SMTP_USER",
                     password_env="TEST_SMTP_PASSWORD")})


@pytest.mark.parametrize("kind", ["slack", "webhook", "email"])
def test_every_notifier_delivers_and_maps_failures_to_notify_error(
        kind: str, receiver: Receiver, mailbox: Mailbox) -> None:
    """The conformance suite of the seam: one message arrives whole; an unreachable
    receiver, a missing variable, a refusal are each a NotifyError (never another
    exception), and only the refusal is permanent."""
    from sluice.errors import NotifyError
    from sluice.notify import make_notifier, render

    assert mailbox.controller is not None
    receiver.clear()
    mailbox.messages.clear()
    channel = _channel(kind, mailbox.controller.port)
    env = _environ(receiver)
    make_notifier(channel, env).send(render(RECORD), RECORD, delivery=41, timeout=5)
    received = [r.body.decode() for r in receiver.requests] + [m[2] for m in mailbox.messages]
    [text] = received
    assert "Deployment of release abc123 to dev failed" in text and "boom: ***" in text

    dead_port = free_port()
    unreachable = {**env, "TEST_SLACK_URL": f"http://127.0.0.1:{dead_port}/x",
                   "TEST_HOOK_URL": f"http://127.0.0.1:{dead_port}/x"}
    dead = _channel(kind, dead_port)
    with pytest.raises(NotifyError) as down:
        make_notifier(dead, unreachable).send(render(RECORD), RECORD, delivery=42, timeout=5)
    assert not down.value.permanent

    var = "TEST_SMTP_PASSWORD" if kind == "email" else "TEST_SLACK_URL" if kind == "slack" \
        else "TEST_HOOK_URL"
    with pytest.raises(NotifyError) as missing:
        make_notifier(channel, {k: v for k, v in env.items() if k != var})
    assert f"${var}" in missing.value.message and not missing.value.permanent

    refusing = {**env, "TEST_SMTP_PASSWORD": "wrong-password"}
    receiver.fail, receiver.fail_path, receiver.fail_status = 1, "/", 403
    try:
        with pytest.raises(NotifyError) as refused:
            make_notifier(channel, refusing).send(render(RECORD), RECORD, delivery=43,
                                                  timeout=5)
    finally:
        receiver.fail, receiver.fail_status = 0, 500
    assert refused.value.permanent
    for secret in (*SECRETS, "wrong-password"):
        assert secret not in str(down.value) + str(refused.value)
