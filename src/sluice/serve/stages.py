"""What each kind of stage does, over the same library the CLI uses.

``check`` runs ``sluice check``'s runner on the checkout and records it (a release built
from that tree carries the result); ``release`` is ``make_release``; ``deploy:<env>`` and
``promote:<env>`` are the deployer's write-audit-publish behind the one gate decision;
``approval:<env>`` asks that decision whether only an approval is missing
(:class:`~sluice.errors.ApprovalNeeded`: the stage waits) and ``run:<env>`` re-runs the live
release. Progress goes to the ``log`` callback (the execution's log), one line per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sluice.errors import ApprovalNeeded, SluiceError
from sluice.project.workspace import Workspace
from sluice.state import ApprovalDecision

from .executions import StageStatus

Log = Callable[[str], None]

#: How long a deploy waits for the environment's lock (another deploy, a CLI user) before
#: the stage fails: executions queue behind each other instead of failing.
LOCK_WAIT_SECONDS = 3600.0


@dataclass
class StageResult:
    status: StageStatus
    message: str
    release_id: str | None = None
    #: the pipeline ends here, successfully (an environment not promoted automatically)
    stop: bool = False
    approval_seen: int | None = None


class StepLog:
    """The deployer's ``on_step`` callback as log lines with elapsed times."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.started: dict[str, float] = {}
        self.last = time.monotonic()

    def __call__(self, step: str, status: str) -> None:
        now = time.monotonic()
        if status == "started":
            self.started[step] = now
            self.log(f"  … {step}")
        elif status in ("event", "progress"):
            self.log(f"  … {step}")
        else:
            since = self.started.pop(step, self.last)
            mark = {"done": "✓", "failed": "✗", "skipped": "↷"}.get(status, "·")
            self.log(f"  {mark} {step}  {now - since:.2f}s")
        self.last = now


def _failure(exc: SluiceError) -> str:
    return exc.message + (f" (tip: {exc.tip})" if exc.tip else "")


def run_check(ws: Workspace, actor: str, log: Log) -> StageResult:
    from sluice.check.context import CheckOptions
    from sluice.check.model import Status
    from sluice.check.registry import all_checks
    from sluice.check.runner import run_checks

    report = run_checks(ws.root, ws.home, CheckOptions(), all_checks())
    for r in report.results:
        if r.status == Status.FAILED:
            log(f"  ✗ {r.kind}:{r.name}  {r.detail}")
            for f in r.findings[:5]:
                log(f"      {f.where + ': ' if f.where else ''}{f.message}")
    counts = report.counts()
    summary = (f"{counts['passed']} passed, {counts['failed']} failed, "
               f"{counts['skipped']} skipped in {report.seconds:.2f}s")
    log(f"  check {'passed' if report.passed else 'FAILED'}: {summary}")
    if report.tree is not None:
        ws.state.record_check_run(report.tree, report.passed, report.complete, {
            "counts": counts, "seconds": round(report.seconds, 3),
            "results": [{"kind": r.kind, "name": r.name, "status": r.status.value}
                        for r in report.results]}, actor)
    if not report.passed:
        failed = [f"{r.kind}:{r.name}" for r in report.results if r.status == Status.FAILED]
        return StageResult("failed", f"check failed: {', '.join(failed[:10])}")
    return StageResult("succeeded", summary)


def run_release(ws: Workspace, actor: str, log: Log) -> StageResult:
    """``release``: built from the checkout, recorded as built by the execution's actor (the
    caller who started it, the pusher of a webhook) so ``distinct_approver`` knows them."""
    from sluice.flow.releases import make_release

    manifest, created = make_release(ws, actor=actor)
    log(f"  ✓ release {manifest.id} ({'built' if created else 'already built'}, "
        f"commit {manifest.commit[:12]}, {len(manifest.files)} files)")
    return StageResult("succeeded", f"release {manifest.id}", release_id=manifest.id)


def run_deploy(ws: Workspace, env: str, release_id: str, actor: str, log: Log, *,
               source: str | None = None) -> StageResult:
    """``deploy:<env>`` (``source`` None) or ``promote:<env>`` from ``source``."""
    from sluice.deploy.deployer import deploy
    from sluice.flow.decision import approvable

    live = ws.state.live(env)
    if live is not None and live.release_id == release_id:
        log(f"  ✓ release {release_id} is live in {env} already")
        return StageResult("succeeded", f"{release_id} already live in {env}")
    if source is not None:
        rules, loosened = approvable(ws, env, release_id)
        if not rules.auto_promote and not rules.approval_required and not loosened:
            log(f"  ↷ {env} is not promoted automatically")
            return StageResult("skipped", f"{env} is not promoted automatically "
                                          f"(promote it:  sluice promote {source} {env})",
                               stop=True)
    kind = "deploy" if source is None else "promote"
    try:
        outcome = deploy(ws, env, release_id, kind=kind, actor=actor, wait=LOCK_WAIT_SECONDS,
                         on_step=StepLog(log), source=source)
    except SluiceError as exc:
        log(f"  ✗ {kind} to {env}: {exc.message}")
        return StageResult("failed", _failure(exc))
    return StageResult("succeeded", f"deployment #{outcome.deployment_id}: "
                                    f"{len(outcome.versions)} new versions in {env}")


def run_approval(ws: Workspace, env: str, source: str, release_id: str, actor: str,
                 log: Log) -> StageResult:
    """Whether ``release_id`` may enter ``env`` as far as approvals go: ``succeeded`` (it
    is approved, or needs no approval), ``waiting`` (only an approval is missing),
    ``rejected`` (the latest decision is a rejection) or ``failed`` (another gate)."""
    from sluice.flow.decision import GateRequest, decide_gates

    decisions = ws.state.approvals(env, release_id)
    seen = _newest_id(ws, env, release_id)
    latest = decisions[0] if decisions else None
    if latest is not None and latest.decision is ApprovalDecision.REJECTED:
        comment = f": {latest.comment}" if latest.comment else ""
        log(f"  ✗ rejected by {latest.actor}{comment}")
        return StageResult("rejected", f"rejected for {env} by {latest.actor}{comment}",
                           approval_seen=seen)
    try:
        decision = decide_gates(ws, GateRequest("promote", env, release_id, actor, source))
    except ApprovalNeeded as exc:
        log(f"  … waiting: {exc.message}")
        return StageResult("waiting", _failure(exc), approval_seen=seen)
    except SluiceError as exc:  # GateError, ReleaseError: another gate does not hold
        log(f"  ✗ {exc.message}")
        return StageResult("failed", _failure(exc), approval_seen=seen)
    if decision.approval is None:
        log(f"  ↷ {env} needs no approval for {release_id}")
        return StageResult("skipped", f"{env} needs no approval", approval_seen=seen)
    by = decision.approval
    log(f"  ✓ approved by {by.actor}" + (f": {by.comment}" if by.comment else ""))
    return StageResult("succeeded", f"approved by {by.actor} ({by.via})", approval_seen=seen)


def _newest_id(ws: Workspace, env: str, release_id: str) -> int | None:
    from .modes import newest_approval

    with ws.state.transaction("read approvals from") as conn:
        return newest_approval(conn, env, release_id)


def run_run(ws: Workspace, env: str, actor: str, log: Log) -> StageResult:
    """``run:<env>``: the live release's pipeline again on the current inputs."""
    from sluice.deploy.deployer import deploy

    live = ws.state.live(env)
    if live is None:
        return StageResult("failed", f"nothing is live in {env} to run "
                                     f"(tip: sluice deploy {env})")
    try:
        outcome = deploy(ws, env, live.release_id, kind="run", actor=actor,
                         wait=LOCK_WAIT_SECONDS, force_all=True, on_step=StepLog(log))
    except SluiceError as exc:
        log(f"  ✗ run {env}: {exc.message}")
        return StageResult("failed", _failure(exc))
    return StageResult("succeeded", f"deployment #{outcome.deployment_id}: ran "
                                    f"{len(outcome.versions)} datasets of {live.release_id}",
                       release_id=live.release_id)


__all__ = ["LOCK_WAIT_SECONDS", "StageResult", "StepLog", "run_approval",
           "run_check", "run_deploy", "run_release", "run_run"]
