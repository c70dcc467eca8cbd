"""Who is calling ``sluice serve``, and what they may do.

Every API call carries ``Authorization: Bearer <credential>``: a token from
``sluice users add`` (:mod:`sluice.serve.tokens`) or, from CI, an OIDC JWT
(:mod:`sluice.serve.oidc`). :class:`Authenticator` turns it into a :class:`Caller` or raises
:class:`~sluice.errors.AuthError` (401); :func:`require` raises
:class:`~sluice.errors.ForbiddenError` (403) for a caller without the role. Both record the
refusal as an ``auth_refused`` event (reason, path or action, the caller's name when known;
never the credential).

Roles (``ROLE`` or ``ROLE:ENV``; no env, or ``*``, means every environment):

=========  ==================================================================
viewer     read status, history, releases, executions of the environment
deployer   viewer + deploy, promote, roll back, run into the environment
approver   viewer + approve or reject releases for the environment (not deploy:
           deciding on a release is not shipping it)
admin      everything in the environment; ``admin`` on ``*`` also manages users
=========  ==================================================================

``Caller.can(action)`` without an environment asks whether the caller holds the role for
*some* environment (a status page lists what it may see), except ``admin``, which then
needs ``admin:*``.

Where roles come from: ``sluice.yaml``'s ``access:`` (read once, when the server starts in
its project folder) united with what ``sluice users add`` recorded in the state store (read
on every call, so a new role or a revocation counts at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Literal

from sluice.config.control import Access, Principal
from sluice.errors import AuthError, ForbiddenError, SluiceError
from sluice.project.workspace import Workspace
from sluice.serve.oidc import OidcVerifier, looks_like_jwt
from sluice.serve.tokens import PREFIX, added_principal, verify_token
from sluice.state import StateStore

Action = Literal["view", "deploy", "approve", "admin"]
ACTIONS: tuple[Action, ...] = ("view", "deploy", "approve", "admin")
#: which roles allow an action
_ALLOWS: dict[str, frozenset[str]] = {
    "view": frozenset({"viewer", "deployer", "approver", "admin"}),
    "deploy": frozenset({"deployer", "admin"}),
    "approve": frozenset({"approver", "admin"}),
    "admin": frozenset({"admin"}),
}
_TIP = ("send  Authorization: Bearer <token>  (a token from  sluice users add NAME --role "
        "ROLE:ENV, or a CI OIDC JWT); from the CLI set SLUICE_TOKEN or run  sluice login URL")


def parse_roles(specs: Iterable[str]) -> frozenset[tuple[str, str]]:
    """``["approver:prod", "viewer"]`` → ``{("approver", "prod"), ("viewer", "*")}``."""
    found = set()
    for spec in specs:
        role, _, env = spec.strip().partition(":")
        found.add((role, env or "*"))
    return frozenset(found)


def format_roles(roles: Iterable[tuple[str, str]]) -> list[str]:
    """The inverse of :func:`parse_roles`, sorted (``admin:*`` is written ``admin``)."""
    return sorted(role if env == "*" and role == "admin" else f"{role}:{env}"
                  for role, env in roles)


@dataclass(frozen=True)
class Caller:
    """An authenticated user or service account."""

    name: str
    kind: str  # "user" | "service"
    roles: frozenset[tuple[str, str]]  # (role, env or "*")
    #: other names the caller commits or releases under (``access.users.NAME.aliases``)
    aliases: frozenset[str] = field(default=frozenset())
    #: how it proved who it is: "token" or "oidc:<issuer>"
    via: str = "token"

    def can(self, action: str, env: str | None = None) -> bool:
        """Whether a role of the caller allows ``action`` in ``env`` (see the module doc)."""
        allowed = _ALLOWS.get(action)
        if allowed is None:
            return False
        for role, scope in self.roles:
            if role not in allowed:
                continue
            if scope == "*" or (env is not None and scope == env):
                return True
            if env is None and action != "admin":
                return True
        return False

    def names(self) -> frozenset[str]:
        """Its name and aliases as ``distinct_approver`` compares them (lower-cased, ``Name
        <email>`` split)."""
        from sluice.flow.authorship import identity_names

        return identity_names([self.name, *self.aliases])


def _refuse(state: StateStore, reason: str, *, path: str | None, action: str | None = None,
            env: str | None = None, caller: str | None = None) -> None:
    with suppress(SluiceError):  # a refusal stands even when the store cannot record it
        state.event("auth_refused", env=env, actor=caller,
                    payload={"reason": reason, "path": path, "action": action,
                             "caller": caller})


def require(caller: Caller, action: str, env: str | None = None, *,
            state: StateStore | None = None, path: str | None = None) -> None:
    """Raise :class:`ForbiddenError` unless ``caller`` may ``action`` in ``env`` (recorded as
    an ``auth_refused`` event when ``state`` is given)."""
    if caller.can(action, env):
        return
    where = f" in {env}" if env else ""
    held = ", ".join(format_roles(caller.roles)) or "no roles"
    need = {"view": "viewer", "deploy": "deployer", "approve": "approver",
            "admin": "admin"}.get(action, action)
    message = f"{caller.name} may not {action}{where} (holds {held})"
    if state is not None:
        _refuse(state, message, path=path, action=action, env=env, caller=caller.name)
    raise ForbiddenError(message, tip=f"an admin can grant it:  sluice users add {caller.name} "
                                      f"--role {need}:{env or '*'}")


def declared_principal(access: Access | None,
                       name: str) -> tuple[Principal | None, str | None]:
    """``name`` as ``access:`` in sluice.yaml declares it, and its kind ("user" or
    "service"); ``(None, None)`` when it is not declared there."""
    if access is not None:
        if name in access.users:
            return access.users[name], "user"
        if name in access.service_accounts:
            return access.service_accounts[name], "service"
    return None, None


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Caller` for one project's server."""

    def __init__(self, ws: Workspace) -> None:
        self._state = ws.state
        self.access: Access | None = ws.config().access
        self._oidc = OidcVerifier(self.access.oidc if self.access else [])

    @property
    def state(self) -> StateStore:
        return self._state

    def authenticate(self, authorization: str | None, *, path: str | None = None) -> Caller:
        """The caller the header proves; :class:`AuthError` (recorded) otherwise."""
        try:
            return self._authenticate(authorization)
        except AuthError as exc:
            _refuse(self._state, exc.message, path=path)
            raise

    def require(self, caller: Caller, action: str, env: str | None = None, *,
                path: str | None = None) -> None:
        """:func:`require`, recording refusals in this server's state store."""
        require(caller, action, env, state=self._state, path=path)

    def _authenticate(self, authorization: str | None) -> Caller:
        if not authorization or not authorization.strip():
            raise AuthError("no credential: this server needs an Authorization header",
                            tip=_TIP)
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError(f"unsupported Authorization scheme {scheme!r}: send a bearer "
                            "credential", tip=_TIP)
        if credential.startswith(PREFIX):
            return self.caller(verify_token(self._state, credential))
        if looks_like_jwt(credential):
            if not self._oidc:
                raise AuthError("a JWT was sent, but this project trusts no OIDC issuer",
                                tip="declare one under access.oidc in sluice.yaml")
            found = self._oidc.verify(credential)
            caller = self.caller(found.account, kind="service")
            return Caller(caller.name, caller.kind, caller.roles, caller.aliases,
                          via=f"oidc:{found.issuer}")
        raise AuthError("the bearer credential is neither a sluice token (slc_…) nor a JWT",
                        tip=_TIP)

    def caller(self, name: str, *, kind: str | None = None) -> Caller:
        """The principal ``name`` with the roles of ``access:`` and of the state store."""
        declared, declared_kind = declared_principal(self.access, name)
        added = added_principal(self._state, name)
        if declared is None and added is None:
            raise AuthError(f"{name} is not a known user or service account",
                            tip="declare it under access in sluice.yaml, or  sluice users add")
        roles = parse_roles([*(declared.roles if declared else ()),
                             *(added.roles if added else ())])
        the_kind = declared_kind or (added.kind if added else "user")
        if kind is not None and the_kind != kind:
            raise AuthError(f"{name} is a {the_kind}, not a {kind}", tip=_TIP)
        aliases = frozenset(declared.aliases) if declared else frozenset()
        return Caller(name, the_kind, roles, aliases)


__all__ = [
    "ACTIONS",
    "Action",
    "Authenticator",
    "Caller",
    "declared_principal",
    "format_roles",
    "parse_roles",
    "require",
]
