"""Environment locks: one deployment at a time per environment, across processes and hosts.

Acquiring is one INSERT into ``locks``, whose primary key is the environment: of any number of
concurrent attempts exactly one succeeds, on SQLite (write transactions are serialised) and on
PostgreSQL (the unique index arbitrates). A lock carries an expiry so a crashed holder cannot
block an environment forever: an expired lock is taken over with a compare-and-swap UPDATE on
the row as it was read (again exactly one winner), and the takeover is logged as a
``lock.taken_over`` event.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sluice.errors import LockError

from . import rows
from .records import LockRecord, utcnow
from .schema import locks

__all__ = ["TAKEOVER_EVENT", "dead_local_owner", "held_error", "lost_error", "try_lock"]

TAKEOVER_EVENT = "lock.taken_over"


def dead_local_owner(owner: str) -> int | None:
    """The pid of a lock owner (``user@host:pid``) that is a dead process on this host: its
    lock can be taken over at once instead of waiting for it to expire."""
    host, _, pid = owner.rpartition("@")[2].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return int(pid)
    except OSError:
        pass  # e.g. EPERM: alive, owned by another user
    return None


def try_lock(
    conn: Connection, env: str, owner: str, ttl_seconds: float
) -> tuple[LockRecord | None, LockRecord | None]:
    """One attempt inside the caller's write transaction.

    Returns ``(our lock, None)`` on success, ``(None, holder)`` while someone else holds a live
    lock, and ``(None, None)`` if the lock changed hands under us (worth retrying at once).
    """
    now = utcnow()
    mine = LockRecord(env, owner, now, now + dt.timedelta(seconds=ttl_seconds))
    values = {
        "owner": owner,
        "acquired_at": rows.iso(mine.acquired_at),
        "expires_at": rows.iso(mine.expires_at),
    }
    try:
        # A savepoint: on PostgreSQL a failed INSERT would otherwise abort the transaction.
        with conn.begin_nested():
            conn.execute(locks.insert().values(env=env, **values))
        return mine, None
    except sa.exc.IntegrityError:
        pass  # held now, or held once and never released: look at the row
    row = conn.execute(sa.select(locks).where(locks.c.env == env)).first()
    if row is None:
        return None, None
    held = rows.lock(row)
    if not held.expired(now):
        return None, held
    swapped = conn.execute(
        locks.update()
        .where(
            locks.c.env == env,
            locks.c.owner == row.owner,
            locks.c.acquired_at == row.acquired_at,
        )
        .values(**values)
    )
    if swapped.rowcount != 1:
        return None, None
    rows.insert_event(
        conn,
        TAKEOVER_EVENT,
        env=env,
        actor=owner,
        payload={
            "previous_owner": held.owner,
            "previous_acquired_at": row.acquired_at,
            "previous_expires_at": row.expires_at,
        },
    )
    return mine, None


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def held_error(holder: LockRecord, waited_seconds: float) -> LockError:
    """The error for a lock we could not get."""
    waited = f" after waiting {waited_seconds:g}s" if waited_seconds > 0 else ""
    return LockError(
        f"environment {holder.env!r} is locked by {holder.owner} since "
        f"{_when(holder.acquired_at)}{waited} (the lock expires at {_when(holder.expires_at)})",
        tip="wait for that deployment to finish, or retry with --wait SECONDS to queue behind it",
    )


def lost_error(owner: str, holder: LockRecord) -> LockError:
    """The error for releasing a lock that expired and went to someone else."""
    return LockError(
        f"cannot release the lock on {holder.env!r} for {owner}: it is held by {holder.owner} "
        f"since {_when(holder.acquired_at)}",
        tip=f"{owner}'s lock expired and was taken over: check what the new holder deployed "
        "before retrying, and raise the lock's time-to-live if deployments take this long",
    )
