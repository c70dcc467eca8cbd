"""Execution modes (CodePipeline V2's meaning): who may enter a stage group, and when.

A *stage group* is an environment (``approval:<env>`` + ``promote:<env>``, or
``deploy:<env>``) or ``build`` (``check`` + ``release``). An execution is *inside* a group
once one of its stages there started and until all of them are finished; it *waits to
enter* a group when its next stage is the group's first and it has not started there.

- ``queued``: one execution inside a group at a time; the others enter in creation order.
- ``superseded``: one inside at a time; of those waiting to enter, only the newest goes on
  and the older ones become ``superseded`` (one inside, even waiting at an approval, is
  never superseded by one waiting to enter; a running stage always finishes).
- ``parallel``: no waiting for each other; the deployer's environment lock still lets one
  deployment at a time into an environment.

``run`` executions (schedules, new data) take no part: the environment lock serialises them
with everything else. :func:`admit` is pure; :mod:`sluice.serve.pipeline` calls it inside
one serialised write transaction so two engines cannot both let executions in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sluice.state.schema import approvals

from .executions import ACTIVE, FINAL_STAGE, Execution

Verdict = Literal["go", "blocked", "superseded"]


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    reason: str = ""
    #: older executions waiting to enter the same group that this admission supersedes
    supersedes: tuple[int, ...] = ()


def inside(ex: Execution, group: str) -> bool:
    """Whether ``ex`` started a stage of ``group`` and has not finished all of them."""
    mine = [s for s in ex.stages if s.group == group]
    return ex.status in ACTIVE and any(s.status != "pending" for s in mine) and \
        not all(s.status in FINAL_STAGE for s in mine)


def waits_to_enter(ex: Execution) -> str | None:
    """The group ``ex`` is about to enter (its next stage is that group's first), or None."""
    stage = ex.current
    if ex.status not in ACTIVE or stage is None or stage.status != "pending":
        return None
    mine = [s for s in ex.stages if s.group == stage.group]
    return stage.group if all(s.status == "pending" for s in mine) else None


def admit(me: Execution, active: Sequence[Execution]) -> Admission:
    """May ``me`` start its next stage, given every active execution (``me`` included)?"""
    group = waits_to_enter(me)
    if group is None or me.action != "pipeline" or me.mode == "parallel":
        return Admission("go")  # inside a group already, a run, or nobody waits for anybody
    others = [e for e in active if e.id != me.id and e.action == "pipeline"
              and e.mode == me.mode]
    holders = [e for e in others if inside(e, group)]
    waiters = [e for e in others if waits_to_enter(e) == group]
    if me.mode == "superseded":
        newer = [e.id for e in waiters if e.id > me.id]
        if newer:
            return Admission("superseded", f"superseded by execution #{max(newer)} waiting "
                                           f"to enter {group}")
        older = tuple(e.id for e in waiters if e.id < me.id)
        if holders:
            return Admission("blocked", f"waiting for execution #{holders[0].id} to leave "
                                        f"{group}", older)
        return Admission("go", supersedes=older)
    # queued: whoever is inside finishes first, then the older ones waiting, in order
    if holders:
        return Admission("blocked", f"waiting for execution #{holders[0].id} to leave {group}")
    ahead = [e.id for e in waiters if e.id < me.id]
    if ahead:
        return Admission("blocked", f"queued behind execution #{min(ahead)} to enter {group}")
    return Admission("go")


def newest_approval(conn: Connection, env: str, release_id: str) -> int | None:
    """The id of the newest approval or rejection of ``release_id`` for ``env``."""
    found = conn.execute(sa.select(sa.func.max(approvals.c.id)).where(
        approvals.c.env == env, approvals.c.release_id == release_id)).scalar()
    return None if found is None else int(found)


__all__ = ["Admission", "Verdict", "admit", "inside", "newest_approval", "waits_to_enter"]
