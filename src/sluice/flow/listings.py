"""What ``status``, ``history`` and ``releases`` report, as JSON-ready records.

One function per listing builds the records from the workspace; the CLI draws its tables
from them (:mod:`sluice.cli.tables`) and prints them as ``--json``, and ``sluice serve``
answers them (``GET /api/status``, ``/api/history``, ``/api/releases``), so a script sees the
same shape from either, and the CLI in team mode draws the same table from the server's
answer. Timestamps are ISO 8601 with their offset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sluice.cli.render import iso_time

if TYPE_CHECKING:
    from sluice.project.workspace import Workspace
    from sluice.release.manifest import Manifest
    from sluice.state.records import EventRecord

Record = dict[str, Any]


def status_records(ws: Workspace) -> list[Record]:
    """Per environment in promotion order: what is live, since when, the last deployment
    and the release waiting for approval there."""
    from sluice.errors import SluiceError
    from sluice.flow.decision import EnvRules, rules_in_force, standing_approval

    cfg = ws.config()
    records: list[Record] = []
    up = None  # what is live in the environment before this one
    for env in cfg.promotion_order():
        live = ws.state.live(env)
        recent = ws.state.deployments(env, limit=1)
        pending = None
        if up is not None and (live is None or up.release_id != live.release_id):
            try:
                rules = rules_in_force(ws, env, cfg)[0]
            except SluiceError:  # unknown rules: the gates refuse; status still shows
                rules = EnvRules(approval_required=True)
            if rules.approval_required and \
                    standing_approval(ws, env, up.release_id, rules) is None:
                pending = up.release_id
        up = live
        last = ({"kind": recent[0].kind.value, "status": recent[0].status.value,
                 "release": recent[0].release_id, "message": recent[0].message}
                if recent else None)
        records.append(
            {"env": env, "release": live.release_id if live else None,
             "since": iso_time(live.since) if live else None,
             "versions": dict(live.versions) if live else {},
             "last_deployment": last, "pending_approval": pending})
    return records


def history_records(ws: Workspace, env: str | None = None, limit: int = 30, *,
                    envs: list[str] | None = None) -> list[Record]:
    """Events newest first (of ``env``, if given; only of the environments ``envs``, if
    given: what a caller may see), each with its detail as a sentence
    (:mod:`sluice.cli.sentences`); an unknown environment that was never used fails with a
    did-you-mean error."""
    events = ws.state.events(env, limit=limit, envs=envs)
    if env is not None and not events and env not in ws.config().environments:
        ws.config().environment(env)  # unknown and never used: did-you-mean error
    return event_records(events, ws)


def event_records(events: list[EventRecord], ws: Workspace | None = None) -> list[Record]:
    """``events`` as history records (sentences with facts from ``ws``'s store, if given)."""
    from sluice.cli.sentences import NoFacts, StateFacts, describe

    facts = StateFacts(ws.state) if ws is not None else NoFacts()
    return [{"seq": e.seq, "at": iso_time(e.at), "kind": e.kind, "env": e.env,
             "release_id": e.release_id, "actor": e.actor, "detail": describe(e, facts),
             "payload": e.payload} for e in events]


def release_records(items: list[Manifest]) -> list[Record]:
    """Releases newest first; ``checks_passed`` is the release's recorded ``sluice check``."""
    return [{"id": m.id, "commit": m.commit, "author": m.author,
             "created_at": iso_time(m.created_at), "dirty": m.dirty, "files": len(m.files),
             "checks_passed": m.checks["passed"] if m.checks else None, "checks": m.checks}
            for m in items]


__all__ = ["Record", "event_records", "history_records", "release_records", "status_records"]
