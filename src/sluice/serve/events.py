"""Server-sent events of one execution: its stages as they change and its log as it grows.

The stream polls the state store (the engine may be another process: nothing is pushed in
memory), a few times a second, off the event loop. Events, in the text/event-stream format:

- ``execution``: the execution with its stages, sent first and whenever it changes;
- ``log``: one log line (``id:`` its ``seq``);
- ``end``: the execution once it is over; then the stream closes.

Every event carries ``id:`` = the last log ``seq`` sent, so a client that reconnects with
``Last-Event-ID`` (or ``?after=``) gets the lines after it and the execution as it is now.
A comment line every :data:`KEEPALIVE_SECONDS` keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from .executions import ACTIVE
from .services import Services

POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    """One event block: ``event:``, ``id:`` and the JSON ``data:`` (one line)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def _read(services: Services, execution_id: int, after: int) -> tuple[dict[str, Any],
                                                                     list[dict[str, Any]]]:
    from .executions import get_execution, logs

    ex = get_execution(services.state, execution_id).to_dict()  # before the lines: see below
    return ex, [ln.to_dict() for ln in logs(services.state, execution_id, after)]


async def event_stream(services: Services, execution_id: int,
                       after: int = 0) -> AsyncIterator[str]:
    """The events of ``execution_id`` after log ``seq`` ``after`` (see the module doc)."""
    seq = after
    shown: dict[str, Any] | None = None
    quiet_since = time.monotonic()
    while True:
        # the execution is read before its log: once it is over, every line is written
        ex, lines = await run_in_threadpool(_read, services, execution_id, seq)
        for line in lines:
            seq = int(line["seq"])
            yield sse("log", line, seq)
        if ex != shown:
            shown = ex
            yield sse("execution", ex, seq)
            quiet_since = time.monotonic()
        if ex["status"] not in ACTIVE:
            yield sse("end", ex, seq)
            return
        if services.stopping.is_set():
            return
        if lines:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        await anyio.sleep(POLL_SECONDS)


__all__ = ["KEEPALIVE_SECONDS", "event_stream", "sse"]
