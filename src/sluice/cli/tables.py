"""The listings of ``status``, ``history``, ``releases``, ``plan`` and ``migrate status``.

Each builder returns a :class:`~sluice.cli.render.View`: the table and its ``--json``
records from the same values, so a column header and its JSON field cannot drift apart
(docs/flow.md, "Output"). Tables show local time to the second; JSON keeps ISO 8601.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.text import Text

from sluice.cli.render import Column, View, iso_time, local_time

if TYPE_CHECKING:
    from sluice.deploy.plan import DeployPlan
    from sluice.migrations.migrator import Entry

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


def status_view(records: Sequence[Mapping[str, Any]]) -> View:
    """Per environment in promotion order (:func:`sluice.flow.listings.status_records`, or
    the server's ``GET /api/status``): what is live, since when, the last deployment and the
    release waiting for approval there."""
    view = View(STATUS)
    for r in records:
        last = r["last_deployment"]
        view.add(
            [r["env"], r["release"] or "-", local_time(r["since"]),
             "\n".join(f"{d} @ {v}" for d, v in sorted(r["versions"].items())),
             f"{last['kind']} {last['status']}" if last else "-", r["pending_approval"] or ""],
            dict(r))
    return view


def history_view(records: Sequence[Mapping[str, Any]]) -> View:
    """Events newest first (:func:`sluice.flow.listings.history_records`), each detail a
    sentence."""
    view = View(HISTORY)
    for r in records:
        view.add([str(r["seq"]), local_time(r["at"]), r["kind"], r["env"] or "",
                  r["release_id"] or "", r["actor"] or "", r["detail"]], dict(r))
    return view


def releases_view(records: Sequence[Mapping[str, Any]]) -> View:
    """Releases newest first (:func:`sluice.flow.listings.release_records`)."""
    view = View(RELEASES)
    for r in records:
        passed = r["checks_passed"]
        # the name only: the address is in --json, and the table then fits 80 columns
        view.add([r["id"], r["commit"][:10], r["author"].split(" <")[0],
                  local_time(r["created_at"]), str(r["files"]), "yes" if r["dirty"] else "",
                  "-" if passed is None else ("yes" if passed else "FAILED")], dict(r))
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
