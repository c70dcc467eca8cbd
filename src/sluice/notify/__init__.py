"""Notifications: approval requests, deployments that failed or went live, failed audits,
rollbacks, approvals and executions, sent to the channels of ``notifications:`` in
sluice.yaml (Slack-compatible webhooks, generic webhooks, email, the environment's SNS
topic) through an outbox in the state store (docs/serve.md, "Notifications").

``Workspace.notify(env, kind, **payload)`` queues them (:func:`enqueue`; it never fails its
caller); a :class:`Dispatcher` sends them with retries (``sluice serve`` all the time, the CLI
briefly at the end of a command).
"""

from sluice.notify.channels import (
    NOTIFIERS,
    SIGNATURE_HEADER,
    Notifier,
    channel_key,
    make_notifier,
    signature,
)
from sluice.notify.dispatcher import FLUSH_SECONDS_VAR, Dispatcher, flush_seconds
from sluice.notify.messages import ALIASES, KNOWN_KINDS, Message, canonical_kind, render
from sluice.notify.outbox import (
    NotificationRecord,
    RetryPolicy,
    deliver_due,
    enqueue,
    list_notifications,
)

__all__ = [
    "ALIASES",
    "FLUSH_SECONDS_VAR",
    "KNOWN_KINDS",
    "NOTIFIERS",
    "SIGNATURE_HEADER",
    "Dispatcher",
    "Message",
    "NotificationRecord",
    "Notifier",
    "RetryPolicy",
    "canonical_kind",
    "channel_key",
    "deliver_due",
    "enqueue",
    "flush_seconds",
    "list_notifications",
    "make_notifier",
    "render",
    "signature",
]
