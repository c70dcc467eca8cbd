"""``sluice users add|list|revoke``: who may call ``sluice serve``, and their tokens.

Run in the server's project folder (the state store the server uses: ``.sluice/`` or
``SLUICE_STATE_URL``). A token is printed once and never stored: only its salted hash is
(:mod:`sluice.serve.tokens`).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from sluice.cli.errors import guarded
from sluice.errors import UsageError

if TYPE_CHECKING:
    from sluice.config import ProjectConfig
    from sluice.project.workspace import Workspace

users_app = typer.Typer(help="Users and service accounts of sluice serve, and their tokens.",
                        no_args_is_help=True)
out = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
_ONCE = ("This token cannot be shown again: store it now (as SLUICE_TOKEN, or with  "
         "sluice login URL). Revoke it with  sluice users revoke {id}")


def check_roles(roles: list[str], cfg: ProjectConfig) -> list[str]:
    """``ROLE`` or ``ROLE:ENV`` for known roles and environments, normalised (``admin`` →
    ``admin:*``); UsageError with a suggestion otherwise."""
    from sluice.config.base import did_you_mean
    from sluice.config.control import ROLES

    envs = list(cfg.environments)
    found = []
    for spec in roles:
        role, _, env = spec.strip().partition(":")
        if role not in ROLES:
            raise UsageError(f"--role {spec}: unknown role {role!r}{did_you_mean(role, ROLES)}",
                             tip=f"roles: {', '.join(ROLES)}, each ROLE or ROLE:ENV "
                                 "(e.g. approver:prod, viewer:*)")
        env = env or "*"
        if env != "*" and env not in envs:
            raise UsageError(f"--role {spec}: unknown environment {env!r}"
                             f"{did_you_mean(env, envs)}",
                             tip=f"environments: {', '.join(envs)} (or * for all)")
        found.append(f"{role}:{env}")
    return sorted(set(found))


def _workspace() -> Workspace:
    from sluice.project.workspace import Workspace

    return Workspace.open()


def _print_once(text: str) -> None:
    """Write around the CLI's secret mask (:func:`sluice.cli.errors.mask_output`): the one
    time a token is meant to be seen."""
    sys.stdout.flush()
    raw = getattr(sys.stdout, "inner", sys.stdout)
    raw.write(text)
    raw.flush()


@users_app.command("add")
@guarded
def add_cmd(name: Annotated[str, typer.Argument(help="User or service account name.")],
            role: Annotated[list[str] | None, typer.Option(
                "--role", help="ROLE or ROLE:ENV (viewer, deployer, approver, admin; ENV or "
                               "* for every environment). Repeat for several.")] = None,
            service: Annotated[bool, typer.Option(
                "--service", help="A service account (CI), not a person.")] = False,
            as_json: JsonOpt = False) -> int:
    """Add a user or service account (or give it more roles) and print a new token for it,
    once. A user declared under access: in sluice.yaml keeps its declared roles too."""
    from sluice.project.workspace import current_actor
    from sluice.serve.identity import Authenticator, declared_principal, format_roles
    from sluice.serve.tokens import TOKEN_ID, added_principal, issue_token, token_id_of

    ws = _workspace()
    try:
        cfg = ws.config()
        _check_name(name)
        roles = check_roles(list(role or []), cfg)
        declared_kind = declared_principal(cfg.access, name)[1]
        recorded = added_principal(ws.state, name)
        kind = declared_kind or ("service" if service else
                                 recorded.kind if recorded else "user")
        if service and declared_kind == "user":
            raise UsageError(f"{name} is declared as a user in sluice.yaml, not a service "
                             "account", tip=f"sluice users add {name} (without --service)")
        if declared_kind is None and recorded is None and not roles:
            raise UsageError(f"{name} is not declared under access: in sluice.yaml: give it a "
                             "role", tip=f"sluice users add {name} --role viewer:*  (or "
                                         "approver:ENV, deployer:ENV, admin)")
        if TOKEN_ID.match(name):
            raise UsageError(f"{name!r} looks like a token id; pick another name")
        token = issue_token(ws.state, name, kind, roles, current_actor())
        token_id = token_id_of(token)
        caller = Authenticator(ws).caller(name)
        effective = format_roles(caller.roles)
        ws.state.event("principal_added", actor=current_actor(),
                       payload={"principal": name, "kind": kind, "roles": roles,
                                "id": token_id})
    finally:
        ws.close()
    if as_json:
        _print_once(json.dumps({"name": name, "kind": kind, "roles": effective,
                                "token": token}, indent=2) + "\n")
        return 0
    out.print(f"{kind} {name}: {', '.join(effective) or 'no roles'}")
    _print_once(token + "\n")
    out.print(_ONCE.format(id=token_id))
    return 0


def _check_name(name: str) -> None:
    from sluice.config.names import _name  # the rule names in sluice.yaml follow

    try:
        _name(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@users_app.command("list")
@guarded
def list_cmd(as_json: JsonOpt = False) -> int:
    """Users and service accounts: kind, roles, where they come from, tokens, last use."""
    from sluice.cli.render import Column, View, iso_time, local_time
    from sluice.serve.identity import Authenticator, format_roles
    from sluice.serve.tokens import added_principals, list_tokens

    ws = _workspace()
    try:
        access = ws.config().access
        added = added_principals(ws.state)
        tokens = list_tokens(ws.state)
        declared = set() if access is None else {*access.users, *access.service_accounts}
        auth = Authenticator(ws)
        callers = {name: auth.caller(name) for name in sorted(declared | set(added))}
    finally:
        ws.close()
    view = View([Column("name"), Column("kind"), Column("roles"), Column("source"),
                 Column("tokens active", justify="right"), Column("last used")])
    for name, caller in callers.items():
        kind, roles = caller.kind, format_roles(caller.roles)
        source = "+".join(s for s, here in (("config", name in declared),
                                            ("added", name in added)) if here)
        mine = [t for t in tokens if t.principal == name]
        used = max((t.last_used_at for t in mine if t.last_used_at), default=None)
        record: dict[str, Any] = {
            "name": name, "kind": kind, "roles": roles, "source": source,
            "tokens_active": sum(t.active for t in mine), "last_used": iso_time(used),
            "tokens": [{"id": t.id, "active": t.active, "created_at": iso_time(t.created_at),
                        "revoked_at": iso_time(t.revoked_at),
                        "last_used_at": iso_time(t.last_used_at)} for t in mine]}
        view.add([name, kind, ", ".join(roles) or "-", source, str(record["tokens_active"]),
                  local_time(used)], record)
    view.check()
    if as_json:
        typer.echo(json.dumps(view.records, indent=2))
        return 0
    if not view.records:
        out.print("no users: declare them under access: in sluice.yaml, or  "
                  "sluice users add NAME --role ROLE")
        return 0
    view.print(out)
    return 0


@users_app.command("revoke")
@guarded
def revoke_cmd(what: Annotated[str, typer.Argument(
        metavar="NAME|TOKEN_ID", help="A name (all its tokens) or one token's id.")],
        as_json: JsonOpt = False) -> int:
    """Revoke every token of NAME, or the one token TOKEN_ID; the server refuses them on
    their next use."""
    from sluice.config.base import did_you_mean
    from sluice.project.workspace import current_actor
    from sluice.serve.tokens import list_tokens, revoke, token_id_of

    ws = _workspace()
    try:
        count = revoke(ws.state, what)
        token_id = token_id_of(what)
        shown = token_id if token_id is not None else what  # never echo a whole token
        if count == 0:
            known = list_tokens(ws.state)
            names = sorted({t.principal for t in known})
            if any(t.id == token_id or t.principal == what for t in known):
                raise UsageError(f"{shown}: already revoked, nothing to do")
            raise UsageError(f"no token or principal {shown!r}{did_you_mean(what, names)}",
                             tip="list them with  sluice users list")
        ws.state.event("tokens_revoked", actor=current_actor(),
                       payload={"what": shown, "count": count})
    finally:
        ws.close()
    if as_json:
        typer.echo(json.dumps({"revoked": count, "what": shown}))
    else:
        out.print(f"revoked {count} token(s) of {shown}")
    return 0


__all__ = ["check_roles", "users_app"]
