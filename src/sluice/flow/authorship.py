"""Who made a release, for ``protection.distinct_approver``: nobody approves their own work.

A release is someone's work twice over: its commit's git author (recorded with the release as
``Name <email>``) and whoever built it (the actor of its ``release_built`` event). An
approver is the same person when any of their names — the approver's name and the
``aliases`` declared for them under ``access.users`` / ``access.service_accounts`` — equals,
case-insensitively, the author's name, the author's e-mail, or the builder's name (each
``Name <email>`` form counts as both parts).

Aliases are read from every configuration given (the release's and the work tree's): an alias
can only make the refusal wider, so an edited work tree cannot use it to let anyone in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlalchemy as sa

from sluice.config import ProjectConfig
from sluice.errors import SluiceError
from sluice.project.workspace import Workspace
from sluice.state.schema import events

_NAME_EMAIL = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<email>[^<>]*)>\s*$")


def identity_names(values: Iterable[str]) -> frozenset[str]:
    """Lower-cased names a person goes by: ``"Priya P <p@x.io>"`` → ``{"priya p", "p@x.io"}``."""
    found: set[str] = set()
    for value in values:
        match = _NAME_EMAIL.match(value)
        parts = [match["name"], match["email"]] if match else [value]
        found.update(p.strip().lower() for p in parts if p.strip())
    return frozenset(found)


def aliases_of(actor: str, configs: Iterable[ProjectConfig | None]) -> list[str]:
    """The aliases ``actor`` is declared with, in any of ``configs``."""
    found: list[str] = []
    for cfg in configs:
        access = cfg.access if cfg is not None else None
        if access is None:
            continue
        for group in (access.users, access.service_accounts):
            if actor in group:
                found.extend(group[actor].aliases)
    return found


def builders(ws: Workspace, release_id: str) -> list[str]:
    """Who built ``release_id`` (the actors of its ``release_built`` events)."""
    query = (sa.select(events.c.actor).distinct()
             .where((events.c.kind == "release_built") & (events.c.release_id == release_id)
                    & events.c.actor.is_not(None)))
    with ws.state.transaction("read who built a release from") as conn:
        return sorted(str(a) for a in conn.execute(query).scalars())


def own_work(ws: Workspace, release_id: str, actor: str,
             *configs: ProjectConfig | None) -> str | None:
    """Why ``release_id`` is ``actor``'s own work ("they authored its commit (…)"), or
    ``None`` when it is not."""
    mine = identity_names([actor, *aliases_of(actor, configs)])
    try:
        author = ws.state.get_release(release_id).author
    except SluiceError:
        author = ""  # built elsewhere and fetched: only the builders are known
    if author and mine & identity_names([author]):
        return f"{actor} authored its commit ({author})"
    for builder in builders(ws, release_id):
        if mine & identity_names([builder]):
            return f"{actor} built the release (as {builder})"
    return None


__all__ = ["aliases_of", "builders", "identity_names", "own_work"]
