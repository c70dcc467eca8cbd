"""The listings of ``status``, ``history``, ``releases``, ``plan`` and ``migrate status``.

Each builder returns a :class:`~sluice.cli.render.View`: the table and its ``--json``
records from the same values, so a column header and its JSON field cannot drift apart
(docs/flow.md, "Output"). Tables show local time to the second; JSON keeps ISO 8601.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.text import Text

from sluice.cli.render import Column, View, iso_time, local_time

if TYPE_CHECKING:
    from sluice.deploy.plan import DeployPlan
    from sluice.migrations.migrator import Entry
    from sluice.project.workspace import Workspace
    from sluice.release.manifest import Manifest
    from sluice.state.records import EventRecord

STATUS = [Column("env"), Column("release"), Column("since"), Column("versions"),
          Column("last deployment"), Column("pending approval")]
HISTORY = [Column("seq", justify="right"), Column("at"), Column("kind"), Column("env"),
           Column("release id"), Column("actor"), Column("detail")]
RELEASES = [Column("id"), Column("commit"), Column("author"), Column("created at"),
            Column("files", justify="right"), Column("dirty"), Column("checks passed")]
PLAN_JOBS = [Column("job"), Column("status"), Column("outputs"), Column("reason")]
PLAN_COMPONENTS = [Column("name"), Column("kind"), Column("resource"), Column("action")]
MIGRATIONS = [Column("version"), Column("description"), Column("script"), Column("state"),
              Column("installed on"), Column("reversible")]

_MIGRATION_STYLE = {"applied": "green", "pending": "yellow", "outdated": "yellow",
                    "undone": "dim", "mismatch": "red", "missing": "red", "failed": "red",
                    "other-engine": "dim"}


def status_view(ws: Workspace) -> View:
    """Per environment in promotion order: what is live, since when, the last deployment
    and the release waiting for approval there."""
    from sluice.errors import SluiceError
    from sluice.flow.decision import rules_in_force

    cfg = ws.config()
    view = View(STATUS)
    order = cfg.promotion_order()
    for i, env in enumerate(order):
        live = ws.state.live(env)
        recent = ws.state.deployments(env, limit=1)
        pending = None
        try:
            protected = rules_in_force(ws, env, cfg)[0].approval_required
        except SluiceError:  # unknown rules: the gates refuse; status still shows
            protected = True
        if i > 0 and protected:
            up = ws.state.live(order[i - 1])
            if up and (live is None or up.release_id != live.release_id) and \
                    not ws.state.is_approved(env, up.release_id):
                pending = up.release_id
        versions = dict(live.versions) if live else {}
        last = ({"kind": recent[0].kind.value, "status": recent[0].status.value,
                 "release": recent[0].release_id, "message": recent[0].message}
                if recent else None)
        view.add(
            [env, live.release_id if live else "-", local_time(live.since if live else None),
             "\n".join(f"{d} @ {v}" for d, v in sorted(versions.items())),
             f"{last['kind']} {last['status']}" if last else "-", pending or ""],
            {"env": env, "release": live.release_id if live else None,
             "since": iso_time(live.since) if live else None, "versions": versions,
             "last_deployment": last, "pending_approval": pending})
    return view


def history_view(events: Sequence[EventRecord], ws: Workspace | None = None) -> View:
    """Events newest first, each detail a sentence (:mod:`sluice.cli.sentences`)."""
    from sluice.cli.sentences import NoFacts, StateFacts, describe

    facts = StateFacts(ws.state) if ws is not None else NoFacts()
    view = View(HISTORY)
    for e in events:
        detail = describe(e, facts)
        view.add([str(e.seq), local_time(e.at), e.kind, e.env or "", e.release_id or "",
                  e.actor or "", detail],
                 {"seq": e.seq, "at": iso_time(e.at), "kind": e.kind, "env": e.env,
                  "release_id": e.release_id, "actor": e.actor, "detail": detail,
                  "payload": e.payload})
    return view


def releases_view(items: Sequence[Manifest]) -> View:
    """Releases newest first; ``checks passed`` is the release's recorded ``sluice check``."""
    view = View(RELEASES)
    for m in items:
        passed = m.checks["passed"] if m.checks else None
        # the name only: the address is in --json, and the table then fits 80 columns
        view.add([m.id, m.commit[:10], m.author.split(" <")[0], local_time(m.created_at),
                  str(len(m.files)), "yes" if m.dirty else "",
                  "-" if passed is None else ("yes" if passed else "FAILED")],
                 {"id": m.id, "commit": m.commit, "author": m.author,
                  "created_at": iso_time(m.created_at), "dirty": m.dirty,
                  "files": len(m.files), "checks_passed": passed, "checks": m.checks})
    return view


def plan_jobs_view(plan: DeployPlan) -> View:
    """The jobs of a plan: their records are ``plan --json``'s ``jobs``."""
    view = View(PLAN_JOBS)
    for j in plan.jobs:
        style = {"unchanged": "dim", "removed": "red"}.get(j.status, "yellow")
        view.add([j.job, Text(j.status, style=style), ", ".join(j.outputs), j.reason],
                 asdict(j))
    return view


def plan_components_view(plan: DeployPlan) -> View:
    """The components of a plan: their records are ``plan --json``'s ``components``."""
    view = View(PLAN_COMPONENTS)
    for comp in plan.components:
        style = "dim" if comp["action"] == "none" else "yellow"
        detail = "\n".join(f"  {line}" for line in comp["details"])
        view.add([comp["name"], comp["kind"],
                  Text(comp["resource"]) + (Text("\n" + detail, style="dim") if detail
                                            else Text("")),
                  Text(comp["action"], style=style)], dict(comp))
    return view


def migrations_view(entries: Sequence[Entry]) -> View:
    """``migrate status``: one row per script and history entry."""
    view = View(MIGRATIONS)
    for e in entries:
        reversible = "" if e.kind != "versioned" else ("yes" if e.reversible else "no")
        record: dict[str, Any] = asdict(e)
        # the database session wrote it in its own (the machine's) zone, without one
        record["installed_on"] = iso_time(e.installed_on, naive_local=True) or ""
        view.add([e.version or "R", e.description, e.script,
                  Text(e.state, style=_MIGRATION_STYLE.get(e.state, "")),
                  local_time(e.installed_on, naive_local=True) if e.installed_on else "",
                  reversible], record)
    return view


__all__ = ["history_view", "migrations_view", "plan_components_view", "plan_jobs_view",
           "releases_view", "status_view"]
