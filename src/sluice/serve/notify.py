"""The server's side of notifications: ``sluice serve`` runs a :class:`Dispatcher` thread
(``Dispatcher(root, owner).run_forever(stop)``) that sends the outbox; the rest lives in
:mod:`sluice.notify`, which the CLI uses in local mode too."""

from sluice.notify import (
    Dispatcher,
    NotificationRecord,
    RetryPolicy,
    deliver_due,
    enqueue,
    list_notifications,
)

__all__ = ["Dispatcher", "NotificationRecord", "RetryPolicy", "deliver_due", "enqueue",
           "list_notifications"]
