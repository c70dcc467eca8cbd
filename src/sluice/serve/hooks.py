"""Push webhooks: who sent one, whether its signature holds, and what it asks for.

``POST /api/hooks/{provider}`` carries no bearer token; the shared secret (the environment
variable that ``triggers.webhook.secret_env`` names, ``SLUICE_WEBHOOK_SECRET`` by default)
is its only credential, checked over the *raw* body before anything is parsed:

- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``, delivery id
  ``X-GitHub-Delivery``, ``X-GitHub-Event`` ``push`` (``ping`` is answered, starts nothing).
- ``gitlab``: GitLab's *signing token* (Standard Webhooks: ``webhook-signature: v1,<base64
  HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>``, the key being the
  base64 after ``whsec_``, the timestamp within five minutes), or else its *secret token*,
  sent as is in ``X-Gitlab-Token``. Delivery id: ``webhook-id`` / ``Idempotency-Key`` (the
  same across GitLab's retries), else ``X-Gitlab-Event-UUID``. ``X-Gitlab-Event: Push Hook``.
- ``generic``: ``X-Sluice-Signature: sha256=<hex>`` and ``X-Sluice-Delivery``, body
  ``{"ref", "commit" | "after", "before"?, "pusher"?, "repository"?}`` (what
  :class:`~sluice.config.control.WebhookChannel` notifications of another sluice sign too).

A delivery id is recorded once (:func:`record_delivery`, the primary key of ``deliveries``):
a replayed delivery changes nothing. :func:`receive` is the whole route: verify, refuse a
replay, start a pipeline execution for a push to ``pipeline.branch``, record and ignore the
rest (other branches, tags, branch deletions, pings). Refusals are logged as ``auth_refused``
events (never the signature or the secret).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from sluice import secrecy
from sluice.config.control import Webhook
from sluice.errors import AuthError, SluiceError, UsageError
from sluice.notify.channels import signature as sign  # one HMAC for both ends
from sluice.state import rows
from sluice.state.records import utcnow
from sluice.state.schema import deliveries

if TYPE_CHECKING:
    from sluice.config import ProjectConfig
    from sluice.project.workspace import Workspace
    from sluice.state import StateStore

__all__ = [
    "COMMIT_KEY",
    "PROVIDERS",
    "HookOutcome",
    "Push",
    "StartFn",
    "claim_commit",
    "forget_delivery",
    "receive",
    "record_delivery",
    "set_delivery_execution",
    "sign",
    "sign_standard",
    "verify_and_parse",
    "webhook_secret",
]

#: ``start(commit=, ref=, trigger=, detail=, actor=, action=, env=) -> execution id``: the
#: exec helper's ``start_execution`` with its workspace bound (``functools.partial``).
StartFn = Callable[..., int]

PROVIDERS = ("github", "gitlab", "generic")
#: ``deliveries.provider`` of the rows that claim a commit (:func:`claim_commit`)
COMMIT_KEY = "commit"
#: how far a signed GitLab timestamp may be from our clock (the Standard Webhooks default)
TOLERANCE_SECONDS = 300
ZERO_SHA = re.compile(r"0{40}(0{24})?")
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_DELIVERY = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")

PushKind = Literal["push", "ping", "ignored"]


@dataclass(frozen=True)
class Push:
    """A verified delivery. ``kind`` ``push`` is a branch update that may start an execution;
    ``ping`` (GitHub's hello) and ``ignored`` (another event, a tag, a branch deletion)
    never do; ``reason`` says why."""

    provider: str
    delivery_id: str
    kind: PushKind = "push"
    ref: str = ""
    commit: str = ""
    before: str = ""
    pusher: str = ""
    repository: str = ""
    reason: str = ""

    @property
    def branch(self) -> str | None:
        """The branch ``ref`` names, or None for a tag or anything else."""
        prefix = "refs/heads/"
        return self.ref[len(prefix):] if self.ref.startswith(prefix) else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "branch": self.branch}


@dataclass(frozen=True)
class HookOutcome:
    """What :func:`receive` did: ``started`` an execution, ``ignored`` a verified delivery
    that asks for none, answered a ``ping``, or refused a ``replayed`` delivery (the route
    answers 409; nothing changed)."""

    status: Literal["started", "ignored", "ping", "replayed"]
    push: Push
    reason: str = ""
    execution_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "execution": self.execution_id,
                "delivery": self.push.delivery_id, "provider": self.push.provider,
                "ref": self.push.ref, "commit": self.push.commit}


# ------------------------------------------------------------------ signatures


def _standard_key(secret: str) -> bytes:
    """A Standard Webhooks key: ``whsec_<base64>`` decoded, any other string as its bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the string itself is the key
    return secret.encode()


def sign_standard(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The ``webhook-signature`` entry GitLab's signing token produces (``v1,<base64>``)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _equal(a: str, b: str) -> bool:
    # bytes: compare_digest refuses non-ASCII str, and a header may hold anything
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"),
                               b.encode("utf-8", "surrogateescape"))


def _refuse(provider: str, why: str) -> AuthError:
    return AuthError(f"{provider} webhook refused: {why}",
                     tip="use the same secret in the webhook's settings and in the server's "
                         "environment (triggers.webhook.secret_env, docs/serve.md#triggers)")


def _check_hex(provider: str, header: str, value: str | None, secret: str,
               body: bytes) -> None:
    if not value:
        raise _refuse(provider, f"no {header} header (is the webhook's secret set?)")
    if not _equal(value.strip(), sign(secret, body)):
        raise _refuse(provider, f"the {header} signature does not match the body")


def _check_gitlab(h: Mapping[str, str], secret: str, body: bytes, now: float) -> None:
    signature = h.get("webhook-signature")
    if signature is not None:
        webhook_id, stamp = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
        if not webhook_id or not stamp.isdigit():
            raise _refuse("gitlab", "webhook-signature without webhook-id and webhook-timestamp")
        if abs(now - int(stamp)) > TOLERANCE_SECONDS:
            raise _refuse("gitlab", f"webhook-timestamp is more than {TOLERANCE_SECONDS} s "
                                    "from the server's clock (a replay, or a wrong clock)")
        expected = sign_standard(secret, webhook_id, stamp, body)
        # several space-separated entries while GitLab rotates a token: one must match
        if not any(_equal(entry, expected) for entry in signature.split()):
            raise _refuse("gitlab", "the webhook-signature does not match the body")
        return
    token = h.get("x-gitlab-token")
    if not token:
        raise _refuse("gitlab", "neither webhook-signature nor X-Gitlab-Token "
                                "(set the webhook's signing token or secret token)")
    if not _equal(token, secret):
        raise _refuse("gitlab", "X-Gitlab-Token is not the shared secret")


# ------------------------------------------------------------------ payloads


def _bad(provider: str, why: str) -> UsageError:
    return UsageError(f"{provider} webhook: {why}",
                      tip="send the provider's push payload with content type "
                          "application/json (docs/serve.md#triggers)")


def _json(provider: str, body: bytes) -> dict[str, Any]:
    if body.startswith(b"payload="):
        raise _bad(provider, "the body is form-encoded; set the content type to "
                             "application/json")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(provider, f"the body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _bad(provider, "the body is not a JSON object")
    return data


def _text(provider: str, data: Mapping[str, Any], *path: str, required: bool = True) -> str:
    value: Any = data
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _bad(provider, f"{'.'.join(path)} is missing or not a string")
    return value


def _delivery(provider: str, h: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = h.get(name, "").strip()
        if value:
            if not _DELIVERY.fullmatch(value):
                raise _bad(provider, f"{name} {value[:40]!r} is not a delivery id")
            return value
    raise _bad(provider, f"no delivery id ({' or '.join(names)})")


def _branch_update(provider: str, delivery: str, *, ref: str, commit: str, before: str,
                   pusher: str, repository: str) -> Push:
    if not ref.startswith("refs/"):
        raise _bad(provider, f"ref {ref!r} is not a git ref (refs/heads/BRANCH)")
    push = Push(provider, delivery, "push", ref, commit, before, pusher, repository)
    if ZERO_SHA.fullmatch(commit):
        return replace(push, kind="ignored", reason=f"{ref} was deleted")
    if not _SHA.fullmatch(commit):
        raise _bad(provider, f"{commit[:80]!r} is not a full commit sha (40 or 64 hex digits)")
    if push.branch is None:
        return replace(push, kind="ignored", reason=f"{ref} is not a branch")
    return push


def _github(h: Mapping[str, str], body: bytes, secret: str) -> Push:
    _check_hex("github", "X-Hub-Signature-256", h.get("x-hub-signature-256"), secret, body)
    delivery = _delivery("github", h, "x-github-delivery")
    event = h.get("x-github-event", "")
    data = _json("github", body)
    if event == "ping":
        return Push("github", delivery, "ping", reason="ping: the webhook reaches the server")
    if event != "push":
        return Push("github", delivery, "ignored", reason=f"event {event or '(none)'!r} is "
                                                           "not a push")
    if data.get("deleted") is True:
        ref = _text("github", data, "ref")
        return Push("github", delivery, "ignored", ref=ref, reason=f"{ref} was deleted")
    return _branch_update(
        "github", delivery, ref=_text("github", data, "ref"),
        commit=_text("github", data, "after"),
        before=_text("github", data, "before", required=False),
        pusher=_text("github", data, "pusher", "name", required=False),
        repository=_text("github", data, "repository", "full_name", required=False))


def _gitlab(h: Mapping[str, str], body: bytes, secret: str, now: float) -> Push:
    _check_gitlab(h, secret, body, now)
    delivery = _delivery("gitlab", h, "webhook-id", "idempotency-key", "x-gitlab-event-uuid")
    event = h.get("x-gitlab-event", "")
    data = _json("gitlab", body)
    kind = data.get("object_kind")
    if event not in ("Push Hook", "System Hook") or kind != "push":
        what = event or "(no X-Gitlab-Event)"
        return Push("gitlab", delivery, "ignored",
                    reason=f"event {what!r} ({kind or 'no object_kind'}) is not a branch push")
    commit = data.get("checkout_sha") or _text("gitlab", data, "after")
    if not isinstance(commit, str):
        raise _bad("gitlab", "checkout_sha is not a string")
    return _branch_update(
        "gitlab", delivery, ref=_text("gitlab", data, "ref"), commit=commit,
        before=_text("gitlab", data, "before", required=False),
        pusher=_text("gitlab", data, "user_username", required=False),
        repository=_text("gitlab", data, "project", "path_with_namespace", required=False))


def _generic(h: Mapping[str, str], body: bytes, secret: str) -> Push:
    _check_hex("generic", "X-Sluice-Signature", h.get("x-sluice-signature"), secret, body)
    delivery = _delivery("generic", h, "x-sluice-delivery")
    data = _json("generic", body)
    ref = _text("generic", data, "ref")
    commit = data.get("commit") or data.get("after")
    if not isinstance(commit, str) or not commit:
        raise _bad("generic", "commit (or after) is missing or not a string")
    return _branch_update(
        "generic", delivery, ref=ref if ref.startswith("refs/") else f"refs/heads/{ref}",
        commit=commit.lower(), before=_text("generic", data, "before", required=False),
        pusher=_text("generic", data, "pusher", required=False),
        repository=_text("generic", data, "repository", required=False))


def verify_and_parse(provider: str, headers: Mapping[str, str], body: bytes, secret: str, *,
                     now: float | None = None) -> Push:
    """The delivery ``body`` (the raw request body) with ``headers`` from ``provider``,
    verified against ``secret``: AuthError (401) for a missing or bad signature, UsageError
    (400) for a payload that is not what the provider sends, and for an unknown provider.
    ``now`` (Unix seconds) is the clock for GitLab's signed timestamps."""
    if provider not in PROVIDERS:
        raise UsageError(f"unknown webhook provider {provider!r}",
                         tip=f"POST to /api/hooks/{{{'|'.join(PROVIDERS)}}}")
    if not secret:
        raise _refuse(provider, "the server has no webhook secret")
    h = {k.lower(): v for k, v in headers.items()}
    if provider == "github":
        return _github(h, body, secret)
    if provider == "gitlab":
        return _gitlab(h, body, secret, time.time() if now is None else now)
    return _generic(h, body, secret)


# ------------------------------------------------------------------ deliveries


def record_delivery(state: StateStore, provider: str, delivery_id: str,
                    execution_id: int | None = None) -> bool:
    """Record a delivery id once: False when it was recorded before (a replay; nothing is
    changed). Atomic across processes (the primary key of ``deliveries``)."""
    row = {"provider": provider, "delivery_id": delivery_id,
           "received_at": rows.iso(utcnow()), "execution_id": execution_id}
    with state.transaction("record a webhook delivery in", write=True) as conn:
        try:
            with conn.begin_nested():  # PostgreSQL: a failed INSERT must not end the transaction
                conn.execute(deliveries.insert().values(**row))
        except sa.exc.IntegrityError:
            return False
    return True


def claim_commit(state: StateStore, commit: str) -> tuple[bool, int | None]:
    """Claim the start of ``commit``'s pipeline execution: ``(True, None)`` for the first
    caller; ``(False, execution id)`` when a delivery (or a poll) started it before (the id
    is None while that start is still under way). A row ``("commit", sha)`` of
    ``deliveries``: the same primary key arbitrates, across servers, so one commit delivered
    several times (two hooks, a hook and a poll) starts one execution."""
    if record_delivery(state, COMMIT_KEY, commit):
        return True, None
    with state.transaction("read webhook deliveries from") as conn:
        earlier = conn.execute(sa.select(deliveries.c.execution_id).where(
            deliveries.c.provider == COMMIT_KEY, deliveries.c.delivery_id == commit)).scalar()
    return False, None if earlier is None else int(earlier)


def set_delivery_execution(state: StateStore, provider: str, delivery_id: str,
                           execution_id: int) -> None:
    """Note which execution a recorded delivery started."""
    with state.transaction("record a webhook delivery in", write=True) as conn:
        conn.execute(deliveries.update()
                     .where(deliveries.c.provider == provider,
                            deliveries.c.delivery_id == delivery_id)
                     .values(execution_id=execution_id))


def forget_delivery(state: StateStore, provider: str, delivery_id: str) -> None:
    """Drop a delivery whose execution could not be started, so the provider's redelivery
    is not refused as a replay."""
    with state.transaction("forget a webhook delivery in", write=True) as conn:
        conn.execute(deliveries.delete().where(deliveries.c.provider == provider,
                                               deliveries.c.delivery_id == delivery_id))


# ------------------------------------------------------------------ the route


def webhook_secret(cfg: ProjectConfig) -> str:
    """The shared secret from the variable ``triggers.webhook.secret_env`` names (default
    ``SLUICE_WEBHOOK_SECRET``), registered with :mod:`sluice.secrecy` so it is masked
    wherever it might be echoed; AuthError when it is not set, since no delivery can then
    be verified."""
    name = (cfg.triggers.webhook or Webhook()).secret_env
    secret = os.environ.get(name, "")
    if not secret:
        raise AuthError(f"webhooks are refused: {name} is not set in the server's environment",
                        tip=f"set {name} to the webhook's shared secret and restart "
                            "`sluice serve` (docs/serve.md#triggers)")
    secrecy.register("webhook-secret", [secret])
    return secret


def _log_refusal(ws: Workspace, provider: str, reason: str, delivery: str | None) -> None:
    payload: dict[str, Any] = {"reason": reason, "path": f"/api/hooks/{provider}",
                               "provider": provider}
    if delivery:
        payload["delivery"] = delivery
    ws.state.event("auth_refused", payload=payload)


def receive(ws: Workspace, provider: str, headers: Mapping[str, str], body: bytes,
            start: StartFn, *, now: float | None = None) -> HookOutcome:
    """Handle one delivery to ``POST /api/hooks/{provider}`` (see the module docstring).

    Raises AuthError (401, logged as ``auth_refused``) for a bad signature and UsageError
    (400) for a malformed payload; returns ``replayed`` (answer 409) for a delivery id seen
    before. A push to ``pipeline.branch`` of a commit not started before
    (:func:`claim_commit`) calls ``start(commit=, ref=, trigger="webhook", detail=, actor=,
    action="pipeline", env=None)``; if that fails the delivery and the commit are forgotten
    (a redelivery may try again) and the error propagates.
    """
    cfg = ws.config()
    try:
        push = verify_and_parse(provider, headers, body,
                                webhook_secret(cfg), now=now)
    except AuthError as exc:
        _log_refusal(ws, provider, exc.message, None)
        raise
    if not record_delivery(ws.state, provider, push.delivery_id):
        reason = f"delivery {push.delivery_id} was received before (a replay)"
        _log_refusal(ws, provider, reason, push.delivery_id)
        return HookOutcome("replayed", push, reason)
    outcome = _decide(push, cfg.pipeline.branch)
    if outcome is None:
        outcome = _start(ws, push, start)
    ws.state.event("webhook", actor=push.pusher or None, payload=outcome.to_dict())
    return outcome


def _start(ws: Workspace, push: Push, start: StartFn) -> HookOutcome:
    first, earlier = claim_commit(ws.state, push.commit)
    if not first:
        which = f"execution {earlier}" if earlier else "an execution being started"
        return HookOutcome("ignored", push, f"commit {push.commit} already has {which}",
                           earlier)
    try:
        execution = start(
            commit=push.commit, ref=push.ref, trigger="webhook",
            detail={"provider": push.provider, "delivery": push.delivery_id,
                    "repository": push.repository, "pusher": push.pusher,
                    "before": push.before},
            actor=push.pusher or f"webhook:{push.provider}", action="pipeline", env=None)
    except SluiceError as exc:
        forget_delivery(ws.state, push.provider, push.delivery_id)
        forget_delivery(ws.state, COMMIT_KEY, push.commit)
        ws.state.event("webhook_failed", payload={"provider": push.provider,
                                                  "error": exc.message,
                                                  "delivery": push.delivery_id})
        raise
    set_delivery_execution(ws.state, push.provider, push.delivery_id, execution)
    set_delivery_execution(ws.state, COMMIT_KEY, push.commit, execution)
    return HookOutcome("started", push, f"execution {execution} started", execution)


def _decide(push: Push, branch: str) -> HookOutcome | None:
    """None when the push starts an execution, else what to answer instead."""
    if push.kind == "ping":
        return HookOutcome("ping", push, push.reason)
    if push.kind == "ignored":
        return HookOutcome("ignored", push, push.reason)
    if push.branch != branch:
        return HookOutcome("ignored", push, f"{push.ref} is not the pipeline's branch "
                                            f"{branch!r} (pipeline.branch)")
    return None
