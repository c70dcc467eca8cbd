"""API tokens for ``sluice serve``: issued once, stored only as salted hashes.

A token reads ``slc_<id>_<secret>``: ``id`` (12 hex digits) is its public part, the row's key
in ``tokens``, what ``sluice users list`` shows and what ``sluice users revoke`` accepts;
``secret`` is 32 random bytes from :mod:`secrets`, URL-safe base64. The store keeps a random
per-token salt and ``sha256(salt || secret)``, compared with :func:`hmac.compare_digest`.

Why a single SHA-256 and not scrypt or PBKDF2: those slow a guesser down when the secret is a
password a person chose, with little entropy. A token's secret is 256 random bits, so a leaked
hash cannot be brute-forced whatever the hash costs, and a fast hash lets every request be
verified against the store itself (~1 ms): no in-process cache, so a revocation by any
process — another server on the same PostgreSQL store, or ``sluice users revoke`` on the
command line — takes effect on the very next request. ``last_used_at`` is written at most once
a minute per token (the verifying read sees the previous value), never on every request.

Principals added with ``sluice users add`` live in ``principals`` (name, kind, roles); a user
declared in ``sluice.yaml`` under ``access:`` gets tokens the same way, and the roles that
count are the union of both (:mod:`sluice.serve.identity`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from sluice.errors import AuthError, UsageError
from sluice.state import StateStore, utcnow
from sluice.state.rows import iso, parse_opt_ts, parse_ts
from sluice.state.schema import principals, tokens

PREFIX = "slc_"
#: ``slc_`` + 12 hex digits + ``_`` + the secret (43 URL-safe base64 characters)
TOKEN = re.compile(r"^slc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")
#: how stale ``last_used_at`` may get before a verification writes it again
TOUCH_SECONDS = 60.0

Kind = str  # "user" | "service"


@dataclass(frozen=True)
class TokenInfo:
    """What the store knows about one token (never its secret)."""

    id: str
    principal: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class AddedPrincipal:
    """A principal recorded by ``sluice users add``."""

    name: str
    kind: Kind
    roles: tuple[str, ...]
    created_at: dt.datetime
    created_by: str


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(salt.encode() + secret.encode()).hexdigest()


def token_id_of(value: str) -> str | None:
    """The public id of a token (``slc_<id>_…``) or of a bare id; ``None`` otherwise."""
    value = value.strip()
    if TOKEN_ID.match(value):
        return value
    found = TOKEN.match(value)
    return found.group(1) if found else None


def issue_token(state: StateStore, name: str, kind: Kind, roles: tuple[str, ...] | list[str],
                created_by: str) -> str:
    """Record (or extend) principal ``name`` with ``roles`` and issue it a new token.

    Returns the token, which is shown once and never stored. A name already recorded with the
    other kind is refused: a user is never also a service account.
    """
    if kind not in ("user", "service"):
        raise UsageError(f"a principal is a user or a service, not {kind!r}")
    token_id = secrets.token_hex(6)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    salt = secrets.token_hex(16)
    now = iso(utcnow())
    with state.transaction(f"add a token for {name} to", write=True) as conn:
        row = conn.execute(sa.select(principals).where(principals.c.name == name)
                           .with_for_update()).first()
        if row is None:
            conn.execute(principals.insert().values(
                name=name, kind=kind, roles_json=json.dumps(sorted(set(roles))),
                created_at=now, created_by=created_by))
        else:
            if row.kind != kind:
                raise UsageError(f"{name} is a {row.kind}, not a {kind}",
                                 tip=f"add it as a {row.kind}, or pick another name")
            merged = sorted(set(json.loads(row.roles_json)) | set(roles))
            conn.execute(principals.update().where(principals.c.name == name)
                         .values(roles_json=json.dumps(merged)))
        conn.execute(tokens.insert().values(id=token_id, principal=name, salt=salt,
                                            hash=_digest(salt, secret), created_at=now))
    return f"{PREFIX}{token_id}_{secret}"


def verify_token(state: StateStore, token: str, *, now: dt.datetime | None = None) -> str:
    """The principal a live token belongs to; :class:`AuthError` for a malformed, unknown,
    wrong or revoked one (the message never repeats the token)."""
    found = TOKEN.match(token.strip())
    if found is None:
        raise AuthError("the token is malformed (sluice tokens read slc_<id>_<secret>)",
                        tip="use the token  sluice users add  printed, or issue a new one")
    token_id, secret = found.groups()
    with state.transaction("read tokens from") as conn:
        row = conn.execute(sa.select(tokens).where(tokens.c.id == token_id)).first()
    # the digest is compared even for an unknown id, so both take the same time
    salt, expected = (row.salt, row.hash) if row is not None else ("", "0" * 64)
    if not hmac.compare_digest(_digest(salt, secret), expected) or row is None:
        raise AuthError(f"token {token_id} is not valid",
                        tip="use the token  sluice users add  printed, or issue a new one")
    if row.revoked_at is not None:
        raise AuthError(f"token {token_id} was revoked at {row.revoked_at[:19]} UTC",
                        tip="ask an admin for a new one:  sluice users add NAME")
    moment = now or utcnow()
    last = parse_opt_ts(row.last_used_at)
    if last is None or (moment - last).total_seconds() >= TOUCH_SECONDS:
        _touch(state, token_id, moment)
    return str(row.principal)


def _touch(state: StateStore, token_id: str, moment: dt.datetime) -> None:
    # conditional: of several servers verifying at once, only one writes
    cutoff = iso(moment - dt.timedelta(seconds=TOUCH_SECONDS))
    with state.transaction("record a token's use in", write=True) as conn:
        conn.execute(tokens.update().where(
            (tokens.c.id == token_id)
            & (tokens.c.last_used_at.is_(None) | (tokens.c.last_used_at <= cutoff))
        ).values(last_used_at=iso(moment)))


def revoke(state: StateStore, name_or_token_id: str) -> int:
    """Revoke one token (by its id, or the token itself) or every live token of a principal
    (by name); how many were revoked (0: nothing matched, or all were revoked already)."""
    token_id = token_id_of(name_or_token_id)
    now = iso(utcnow())
    with state.transaction(f"revoke {name_or_token_id if token_id is None else token_id} in",
                           write=True) as conn:
        live = tokens.c.revoked_at.is_(None)
        if token_id is not None:
            hit = conn.execute(tokens.update().where((tokens.c.id == token_id) & live)
                               .values(revoked_at=now)).rowcount
            if hit:
                return int(hit)
        return int(conn.execute(tokens.update().where(
            (tokens.c.principal == name_or_token_id.strip()) & live)
            .values(revoked_at=now)).rowcount)


def added_principals(state: StateStore) -> dict[str, AddedPrincipal]:
    """Every principal ``sluice users add`` recorded, by name."""
    with state.transaction("read principals from") as conn:
        found = conn.execute(sa.select(principals).order_by(principals.c.name)).all()
    return {r.name: AddedPrincipal(r.name, r.kind, tuple(json.loads(r.roles_json)),
                                   parse_ts(r.created_at), r.created_by) for r in found}


def added_principal(state: StateStore, name: str) -> AddedPrincipal | None:
    """The recorded principal ``name``, if ``sluice users add`` recorded it."""
    with state.transaction("read principals from") as conn:
        r = conn.execute(sa.select(principals).where(principals.c.name == name)).first()
    if r is None:
        return None
    return AddedPrincipal(r.name, r.kind, tuple(json.loads(r.roles_json)),
                          parse_ts(r.created_at), r.created_by)


def list_tokens(state: StateStore, principal: str | None = None) -> list[TokenInfo]:
    """Tokens (of one principal, if given), oldest first; never their secrets."""
    query = sa.select(tokens.c.id, tokens.c.principal, tokens.c.created_at,
                      tokens.c.revoked_at, tokens.c.last_used_at)
    if principal is not None:
        query = query.where(tokens.c.principal == principal)
    with state.transaction("read tokens from") as conn:
        found = conn.execute(query.order_by(tokens.c.created_at, tokens.c.id)).all()
    return [TokenInfo(r.id, r.principal, parse_ts(r.created_at), parse_opt_ts(r.revoked_at),
                      parse_opt_ts(r.last_used_at)) for r in found]


__all__ = ["PREFIX", "TOKEN", "AddedPrincipal", "TokenInfo", "added_principal",
           "added_principals", "issue_token", "list_tokens", "revoke", "token_id_of",
           "verify_token"]
