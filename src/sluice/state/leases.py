"""Leases on rows of the state store: which server works on an execution, fires a trigger or
sends a notification, and until when.

A leased table has ``lease_owner`` and ``lease_expires`` columns. Taking a lease is one
compare-and-swap UPDATE inside the caller's write transaction, so of any number of servers
exactly one wins, on SQLite and on PostgreSQL; a lease lapses at ``lease_expires``, and one
whose owner is a dead process on this host (``…@host:pid``, :func:`dead_local_owner`) is
taken at once, as environment locks are (:mod:`sluice.state.locks`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .locks import dead_local_owner
from .rows import iso

__all__ = ["extend", "free", "give_up", "take", "until"]


def until(now: dt.datetime, ttl_seconds: float) -> str:
    """When a lease taken at ``now`` for ``ttl_seconds`` lapses, as stored."""
    return iso(now + dt.timedelta(seconds=ttl_seconds))


def free(table: sa.Table, now: dt.datetime) -> sa.ColumnElement[bool]:
    """Rows whose lease nobody holds: never taken, given up, or lapsed."""
    return sa.or_(table.c.lease_owner.is_(None), table.c.lease_expires < iso(now))


def take(conn: Connection, table: sa.Table, where: sa.ColumnElement[bool], owner: str,
         now: dt.datetime, ttl_seconds: float, *, renew: bool = False) -> bool:
    """Take the lease of the row ``where`` selects for ``owner`` (also when it is already
    ``owner``'s, with ``renew``); False while another live owner holds it, or when the row
    does not exist or no longer matches ``where``."""
    values: dict[str, Any] = {"lease_owner": owner, "lease_expires": until(now, ttl_seconds)}
    claimable = sa.or_(free(table, now), table.c.lease_owner == owner) if renew \
        else free(table, now)
    if conn.execute(table.update().where(where, claimable).values(**values)).rowcount == 1:
        return True
    holder = conn.execute(sa.select(table.c.lease_owner).where(where)).scalar()
    if holder is None or dead_local_owner(str(holder)) is None:
        return False
    # a server killed on this host gives its leases up at once, not when they lapse
    return bool(conn.execute(table.update().where(where, table.c.lease_owner == holder)
                             .values(**values)).rowcount == 1)


def extend(conn: Connection, table: sa.Table, where: sa.ColumnElement[bool], owner: str,
           now: dt.datetime, ttl_seconds: float) -> bool:
    """Extend ``owner``'s lease of the row ``where`` selects; False when it is not theirs."""
    return bool(conn.execute(table.update().where(where, table.c.lease_owner == owner)
                             .values(lease_expires=until(now, ttl_seconds))).rowcount == 1)


def give_up(conn: Connection, table: sa.Table, owner: str,
            where: sa.ColumnElement[bool] | None = None) -> int:
    """Drop ``owner``'s leases (of the rows ``where`` selects); how many it held."""
    mine = table.c.lease_owner == owner
    return int(conn.execute(table.update().where(mine if where is None else sa.and_(
        mine, where)).values(lease_owner=None, lease_expires=None)).rowcount)
