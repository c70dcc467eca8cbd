"""``sluice ship``: the whole flow for the current commit, stopping at the first closed gate."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sluice.deploy.deployer import Step, deploy, no_progress
from sluice.errors import GateError, ReleaseError
from sluice.flow.decision import GateRequest, decide_gates
from sluice.flow.gates import promote
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace, current_actor


@dataclass
class ShipOutcome:
    release_id: str
    deployed: list[str] = field(default_factory=list)
    already_live: list[str] = field(default_factory=list)
    stopped_at: str | None = None
    reason: str = ""


def ship(ws: Workspace, *, allow_dirty: bool = False, on_step: Step = no_progress) -> ShipOutcome:
    """Release the work tree, deploy the first environment, promote while gates hold."""
    manifest, _ = make_release(ws, allow_dirty=allow_dirty)
    order = ws.config().promotion_order()
    out = ShipOutcome(manifest.id)
    first = order[0]
    live = ws.state.live(first)
    if live is None or live.release_id != manifest.id:
        deploy(ws, first, manifest.id, actor=current_actor(), on_step=on_step)
        out.deployed.append(first)
    else:
        out.already_live.append(first)
    for source, dest in itertools.pairwise(order):
        dest_live = ws.state.live(dest)
        if dest_live is not None and dest_live.release_id == manifest.id:
            out.already_live.append(dest)
            continue
        try:  # the rules in force decide, not the work tree's sluice.yaml
            decision = decide_gates(ws, GateRequest("promote", dest, manifest.id,
                                                    current_actor(), source))
        except (GateError, ReleaseError) as exc:
            out.stopped_at, out.reason = dest, exc.message + (f" ({exc.tip})" if exc.tip else "")
            return out
        if not decision.rules.auto_promote and not decision.rules.approval_required:
            out.stopped_at, out.reason = dest, f"{dest} is not promoted automatically"
            return out
        promote(ws, source, dest, on_step=on_step)
        out.deployed.append(dest)
    return out
