"""The notifier seam: one small class per channel type of ``notifications:`` in sluice.yaml.

A :class:`Notifier` sends one rendered :class:`~sluice.notify.messages.Message` and either
returns or raises :class:`~sluice.errors.NotifyError` (``permanent`` when trying again cannot
help: a 404 from a webhook, a refused SMTP login). Notifiers never retry: the outbox does,
with backoff (:mod:`sluice.notify.outbox`).

Secrets (a Slack URL, a webhook's signing secret, the SMTP password) come from the
environment variables the channel names (``*_env``); they are registered with
:mod:`sluice.secrecy` as soon as a notifier reads them, so an error that quotes one (an
HTTP library naming the URL it could not reach) is stored and printed masked.

``sns`` publishes to the environment's topic through the aws target's ``notify`` (one topic
per environment, created on first use); it needs the workspace, and only environments on the
aws target have a topic (the config refuses an ``sns`` channel that names another one; one
without ``environments:`` covers the aws environments only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any, ClassVar

from sluice import secrecy
from sluice.config.control import (
    Channel,
    EmailChannel,
    SlackChannel,
    SnsChannel,
    WebhookChannel,
)
from sluice.errors import NotifyError, SluiceError
from sluice.notify.messages import Message

if TYPE_CHECKING:
    from sluice.config import ProjectConfig
    from sluice.project.workspace import Workspace

__all__ = ["NOTIFIERS", "SIGNATURE_HEADER", "Notifier", "channel_key", "covers", "find_channel",
           "make_notifier", "matches", "signature"]

SIGNATURE_HEADER = "X-Sluice-Signature"
#: HTTP answers worth trying again (the others mean the request itself is wrong)
_RETRYABLE = frozenset({408, 425, 429})
_USER_AGENT = "sluice-notify"


def channel_key(channel: Channel) -> str:
    """A stable, secret-free name of a channel, stored with each outbox row: the type and
    what identifies it (the URL's variable name, the recipients)."""
    if isinstance(channel, SlackChannel | WebhookChannel):
        return f"{channel.type}:{channel.url_env}"
    if isinstance(channel, EmailChannel):
        return f"email:{','.join(channel.to)}"
    return "sns"


def covers(cfg: ProjectConfig, channel: Channel, env: str | None) -> bool:
    """Whether ``channel`` speaks for ``env`` (its ``environments:`` filter; ``sns`` also
    only for environments on the aws target)."""
    if channel.environments is not None and env not in channel.environments:
        return False
    if isinstance(channel, SnsChannel):
        return env is not None and env in cfg.environments \
            and cfg.environments[env].target.type == "aws"
    return True


def matches(cfg: ProjectConfig, channel: Channel, env: str | None, kind: str) -> bool:
    """Whether a notification of ``kind`` in ``env`` goes to ``channel`` (its filters)."""
    if channel.events is not None and kind not in channel.events:
        return False
    return covers(cfg, channel, env)


def find_channel(cfg: ProjectConfig, key: str) -> Channel | None:
    return next((c for c in cfg.notifications if channel_key(c) == key), None)


def signature(secret: str, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER`: ``sha256=`` + HMAC-SHA256(secret, body)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _variable(environ: Mapping[str, str], name: str, what: str, key: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise NotifyError(f"channel {key}: ${name} ({what}) is not set in the environment of "
                          "the process sending notifications",
                          tip=f"export {name}=… for `sluice serve` (and the CLI)")
    secrecy.register(f"notify:{key}:{name}", [value])
    return value


class Notifier(ABC):
    """Sends one message to one channel; raises NotifyError, never retries."""

    type: ClassVar[str]
    #: capabilities as data: does the receiver get a signature it can verify?
    signs: ClassVar[bool] = False

    def __init__(self, key: str) -> None:
        self.key = key

    @abstractmethod
    def send(self, message: Message, record: Mapping[str, Any], *, delivery: int,
             timeout: float) -> None:
        """Deliver ``message`` (rendered from the outbox ``record``; ``delivery`` is the
        outbox row's id, sent along so receivers can drop a repeated delivery)."""


def _post(key: str, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    import httpx

    try:
        response = httpx.post(url, content=body, timeout=timeout, follow_redirects=False,
                              headers={"Content-Type": "application/json",
                                       "User-Agent": _USER_AGENT, **headers})
    except httpx.HTTPError as exc:  # mask: some errors quote the URL, which is the secret
        raise NotifyError(f"channel {key}: cannot reach the URL: {type(exc).__name__}: "
                          f"{secrecy.mask(str(exc))[:300]}") from exc
    if response.status_code >= 300:
        permanent = response.status_code < 500 and response.status_code not in _RETRYABLE
        raise NotifyError(f"channel {key}: HTTP {response.status_code}: "
                          f"{secrecy.mask(response.text)[:300]}", permanent=permanent)


class SlackNotifier(Notifier):
    """A Slack incoming webhook (or Mattermost, Rocket.Chat: they read ``text``): ``text``
    for notifications and clients without blocks, ``blocks`` in Block Kit for Slack."""

    type = "slack"

    def __init__(self, channel: SlackChannel, environ: Mapping[str, str]) -> None:
        super().__init__(channel_key(channel))
        self.url = _variable(environ, channel.url_env, "the incoming webhook's URL", self.key)

    @staticmethod
    def body(message: Message) -> dict[str, Any]:
        text = message.summary + (f" <{message.link}|Open>" if message.link else "")
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}}]
        if message.fields:
            blocks.append({"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*{label}*\n{value}"[:2000]}
                for label, value in message.fields[:10]]})
        if message.lines:
            blocks.append({"type": "section", "text": {
                "type": "mrkdwn", "text": "\n".join(message.lines)[:3000]}})
        if message.link:
            blocks.append({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open in sluice"},
                 "url": message.link}]})
        return {"text": text, "blocks": blocks}

    def send(self, message: Message, record: Mapping[str, Any], *, delivery: int,
             timeout: float) -> None:
        body = json.dumps(self.body(message)).encode("utf-8")
        _post(self.key, self.url, body, {}, timeout)


class WebhookNotifier(Notifier):
    """A generic webhook: the outbox record as JSON (``kind``, ``env``, ``release``,
    ``summary``, ``text``, ``link``, ``details`` …), signed when ``secret_env`` is set."""

    type = "webhook"
    signs = True

    def __init__(self, channel: WebhookChannel, environ: Mapping[str, str]) -> None:
        super().__init__(channel_key(channel))
        self.url = _variable(environ, channel.url_env, "the webhook's URL", self.key)
        self.secret = (_variable(environ, channel.secret_env, "the signing secret", self.key)
                       if channel.secret_env else None)

    def send(self, message: Message, record: Mapping[str, Any], *, delivery: int,
             timeout: float) -> None:
        payload = {**record, "id": delivery, "title": message.title,
                   "summary": message.summary, "text": message.text()}
        body = json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
        headers = {"X-Sluice-Delivery": str(delivery), "X-Sluice-Event": message.kind}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        _post(self.key, self.url, body, headers, timeout)


class EmailNotifier(Notifier):
    """Email over SMTP (smtplib): plain text; implicit TLS with ``ssl``, STARTTLS with
    ``starttls``, a login when ``username_env`` is set."""

    type = "email"

    def __init__(self, channel: EmailChannel, environ: Mapping[str, str]) -> None:
        super().__init__(channel_key(channel))
        self.channel = channel
        smtp = channel.smtp
        self.username = (_variable(environ, smtp.username_env, "the SMTP user name", self.key)
                         if smtp.username_env else None)
        self.password = (_variable(environ, smtp.password_env, "the SMTP password", self.key)
                         if smtp.password_env else None)

    def send(self, message: Message, record: Mapping[str, Any], *, delivery: int,
             timeout: float) -> None:
        smtp = self.channel.smtp
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.channel.sender
        mail["To"] = ", ".join(self.channel.to)
        mail["Message-ID"] = make_msgid(f"sluice-{delivery}")
        mail["X-Sluice-Event"] = message.kind
        mail.set_content(message.text())
        try:
            client: smtplib.SMTP = (
                smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout,
                                 context=ssl.create_default_context())
                if smtp.ssl else smtplib.SMTP(smtp.host, smtp.port, timeout=timeout))
            with client:
                if smtp.starttls and not smtp.ssl:
                    client.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    client.login(self.username, self.password or "")
                client.send_message(mail)
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused,
                smtplib.SMTPSenderRefused, smtplib.SMTPNotSupportedError) as exc:
            raise NotifyError(f"channel {self.key}: {smtp.host}:{smtp.port} refused: "
                              f"{secrecy.mask(str(exc))[:300]}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"channel {self.key}: cannot send through {smtp.host}:"
                              f"{smtp.port}: {type(exc).__name__}: "
                              f"{secrecy.mask(str(exc))[:300]}") from exc


class SnsNotifier(Notifier):
    """The environment's SNS topic, through the aws target (``Target.notify``)."""

    type = "sns"

    def __init__(self, channel: SnsChannel, workspace: Workspace | None) -> None:
        super().__init__(channel_key(channel))
        if workspace is None:
            raise NotifyError(f"channel {self.key}: publishing to SNS needs the project's "
                              "workspace (the dispatcher of `sluice serve` or the CLI has it)")
        self.workspace = workspace

    def send(self, message: Message, record: Mapping[str, Any], *, delivery: int,
             timeout: float) -> None:
        env = message.env
        if env is None:
            raise NotifyError(f"channel {self.key}: a notification without an environment "
                              "has no topic", permanent=True)
        payload = {k: v for k, v in record.items() if k not in ("kind", "env")}
        try:
            self.workspace.target(env).notify(message.kind, {
                **payload, "summary": message.summary, "id": delivery})
        except NotifyError:
            raise
        except SluiceError as exc:
            raise NotifyError(f"channel {self.key} ({env}): {secrecy.mask(exc.message)}") \
                from exc


#: channel type → notifier class (the registry by short name)
NOTIFIERS: dict[str, type[Notifier]] = {
    "slack": SlackNotifier, "webhook": WebhookNotifier, "email": EmailNotifier,
    "sns": SnsNotifier}


def make_notifier(channel: Channel, environ: Mapping[str, str],
                  workspace: Workspace | None = None) -> Notifier:
    """The notifier of ``channel``; NotifyError when a variable it needs is not set."""
    if isinstance(channel, SlackChannel):
        return SlackNotifier(channel, environ)
    if isinstance(channel, WebhookChannel):
        return WebhookNotifier(channel, environ)
    if isinstance(channel, EmailChannel):
        return EmailNotifier(channel, environ)
    return SnsNotifier(channel, workspace)
