"""Who sends the outbox: ``sluice serve`` runs a :class:`Dispatcher` in a background thread
(``run_forever``); the CLI in local mode calls :meth:`Dispatcher.flush` at the end of a
command that queued notifications — a short, bounded attempt (``SLUICE_NOTIFY_FLUSH_SECONDS``,
default 5). What a flush cannot send stays ``pending`` in the state store, with its next
attempt scheduled: the next command's flush or a server sends it later; nothing else waits
for it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sluice.notify.outbox import RetryPolicy, deliver_due

if TYPE_CHECKING:
    from sluice.project.workspace import Workspace

__all__ = ["FLUSH_SECONDS_VAR", "Dispatcher", "enqueued", "flush_seconds"]

FLUSH_SECONDS_VAR = "SLUICE_NOTIFY_FLUSH_SECONDS"
_DEFAULT_FLUSH_SECONDS = 5.0
#: set by every enqueue of this process, so a dispatcher here sends at once
_ENQUEUED = threading.Event()


def enqueued() -> None:
    """Wake this process's dispatchers (called after rows were queued)."""
    _ENQUEUED.set()


def flush_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(FLUSH_SECONDS_VAR, _DEFAULT_FLUSH_SECONDS)))
    except ValueError:
        return _DEFAULT_FLUSH_SECONDS


class Dispatcher:
    """Sends due notifications of the project at ``root`` as ``owner`` (a server's
    ``user@host:pid``); reuses ``workspace`` when given (the CLI's, or the server's, whose
    config is parsed once per version of sluice.yaml), else opens its own."""

    def __init__(self, root: Path, owner: str, *, policy: RetryPolicy | None = None,
                 workspace: Workspace | None = None, interval: float = 1.0,
                 batch: int = 20) -> None:
        self.root = Path(root)
        self.owner = owner
        self.policy = policy or RetryPolicy()
        self.interval = interval
        self.batch = batch
        self._ws = workspace
        self._own_ws = workspace is None
        self._wake = threading.Event()
        #: the last error of a round (the loop never dies of one; the server may show it)
        self.last_error: str | None = None

    # ------------------------------------------------------------------ plumbing
    def _workspace(self) -> Workspace:
        if self._ws is None:
            from sluice.project.workspace import Workspace

            self._ws = Workspace.open(self.root)
        return self._ws

    def close(self) -> None:
        if self._own_ws and self._ws is not None:
            self._ws.close()
            self._ws = None

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ sending
    def deliver(self, *, deadline: float | None = None) -> int:
        """One round: send what is due now (at most ``batch`` rows)."""
        ws = self._workspace()
        return deliver_due(ws.state, ws.config(), None, self.owner, self.batch,
                           policy=self.policy, workspace=ws, deadline=deadline)

    def flush(self, timeout: float) -> int:
        """Send what is due for at most ``timeout`` seconds; how many were sent. Never
        raises: a failure (a broken sluice.yaml, an unreachable store) leaves the rows
        pending for later."""
        deadline = time.monotonic() + timeout
        sent = 0
        try:
            while time.monotonic() < deadline:
                done = self.deliver(deadline=deadline)
                sent += done
                if done < self.batch:
                    # nothing more due now: retries are scheduled later than this flush
                    break
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
        return sent

    def run_forever(self, stop: threading.Event) -> None:
        """Send due rows until ``stop`` is set: every ``interval`` seconds, and at once
        when this process queues one (or :meth:`wake` is called)."""
        try:
            while not stop.is_set():
                try:
                    busy = self.deliver() >= self.batch
                    self.last_error = None
                except Exception as exc:  # a broken sluice.yaml or store: keep the server up
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    busy = False
                if busy:
                    continue
                self._wait(stop)
        finally:
            self.close()

    def _wait(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.interval
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            # short slices: whichever comes first of stop, a wake, a local enqueue
            if self._wake.wait(min(left, 0.1)) or _ENQUEUED.is_set():
                self._wake.clear()
                _ENQUEUED.clear()
                return
