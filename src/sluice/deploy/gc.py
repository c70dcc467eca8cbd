"""Garbage collection: drop dataset versions and installed releases no rollback can reach.

Per environment, under its lock (after finishing any crashed deployment, see
:func:`~sluice.deploy.deployer.recover`), sluice keeps

- every dataset version referenced by the last ``retention.versions`` live states
  (:meth:`~sluice.state.StateStore.live_history`), by the live state, and by the catalog;
- the installed release directories of those live states and the current release;

and drops the rest: versions left by failed or superseded deployments, and releases no
retained state points to. So ``sluice rollback`` works to any of the retained states without
recomputing anything. Versions an audit refused are kept in quarantine (for ``sluice show``
and ``sluice query --version``) until they are older than ``retention.quarantine_days``; gc
then drops them too and reports them apart (``dropped_quarantined``).
A dry run takes no lock and changes nothing; it reports what would go.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sluice.deploy.deployer import acquire_env_lock, ensure_in_sync, recover, release_env_lock
from sluice.errors import SluiceError
from sluice.project.workspace import Workspace
from sluice.release import list_releases

if TYPE_CHECKING:
    from sluice.config.models import Retention


@dataclass
class GcReport:
    """What garbage collection kept and dropped (or would drop, in a dry run) in one env."""

    env: str
    dry_run: bool
    retention: int
    recovered: list[int] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)  # dry run: deployments to recover
    kept_versions: dict[str, list[str]] = field(default_factory=dict)
    dropped_versions: dict[str, list[str]] = field(default_factory=dict)
    kept_releases: list[str] = field(default_factory=list)
    dropped_releases: list[str] = field(default_factory=list)
    quarantine_days: int = 7
    #: versions an audit refused: kept while younger than ``quarantine_days``
    kept_quarantined: dict[str, list[str]] = field(default_factory=dict)
    dropped_quarantined: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env, "dry_run": self.dry_run, "retention": self.retention,
            "recovered": self.recovered, "unfinished": self.unfinished,
            "kept_versions": self.kept_versions, "dropped_versions": self.dropped_versions,
            "kept_releases": self.kept_releases, "dropped_releases": self.dropped_releases,
            "quarantine_days": self.quarantine_days,
            "kept_quarantined": self.kept_quarantined,
            "dropped_quarantined": self.dropped_quarantined,
        }


def collect_garbage(ws: Workspace, env: str | None = None, *, dry_run: bool = False,
                    now: dt.datetime | None = None) -> list[GcReport]:
    """Collect garbage in ``env``, or in every environment that was ever deployed to.
    ``now`` (default: the clock) decides which quarantined versions have expired."""
    moment = now or dt.datetime.now(dt.UTC)
    cfg = ws.config()
    if env is not None:
        cfg.environment(env)  # unknown names fail here, with a suggestion
    reports = []
    for name in [env] if env is not None else list(cfg.environments):
        if not ws.state.deployments(name, limit=1):
            # Never deployed: opening its target would create an empty home for nothing.
            if env is not None:
                reports.append(GcReport(name, dry_run, cfg.retention.versions,
                                        quarantine_days=cfg.retention.quarantine_days))
            continue
        kept = _retention(ws, name, cfg.retention)
        report = GcReport(name, dry_run, kept.versions, quarantine_days=kept.quarantine_days)
        reports.append(_collect_env(ws, name, report, moment))
    return reports


def _retention(ws: Workspace, env: str, worktree: Retention) -> Retention:
    """What ``env`` keeps: for each setting the larger of the work tree's and the live
    release's (verified), so an edited sluice.yaml cannot make gc drop what a rollback of
    that environment needs, nor quarantined versions before the released period is over."""
    from sluice.flow.decision import release_config, verified_manifest

    live = ws.state.live(env)
    if live is None:
        return worktree
    try:
        cfg, _ = release_config(ws, env, verified_manifest(ws, env, live.release_id))
    except SluiceError:
        return worktree
    released = cfg.retention
    return worktree.model_copy(update={
        "versions": max(worktree.versions, released.versions),
        "quarantine_days": max(worktree.quarantine_days, released.quarantine_days)})


def _collect_env(ws: Workspace, env: str, report: GcReport, now: dt.datetime) -> GcReport:
    state = ws.state
    if report.dry_run:
        report.unfinished = [d.id for d in state.unfinished_deployments(env)]
        _sweep(ws, env, report, now)
        return report
    owner = ws.owner()
    acquire_env_lock(ws, env, owner)
    try:
        # A crashed deployment's versions must be judged after its rollback, not before.
        report.recovered = recover(ws, env)
        ensure_in_sync(ws, env)  # a stale view would delete another machine's versions
        _sweep(ws, env, report, now)
    finally:
        release_env_lock(ws, env, owner)
    return report


def _sweep(ws: Workspace, env: str, report: GcReport, now: dt.datetime) -> None:
    state = ws.state
    target = ws.target(env)
    expiry = now - dt.timedelta(days=report.quarantine_days)
    quarantined = {(q.dataset, q.version): q.at for q in state.quarantined(env)}
    retained = state.live_history(env, limit=report.retention)
    live = state.live(env)
    if live is not None:
        retained.append(live)  # normally history[0] already; never drop what is live
    keep: set[tuple[str, str]] = {(d, v) for s in retained for d, v in s.versions.items()}
    keep |= set(target.catalog().items())  # what consumers read now, recorded or not
    present: set[tuple[str, str]] = set()
    for info in sorted(target.versions(), key=lambda i: (i.dataset, i.created_at, i.version)):
        key = (info.dataset, info.version)
        present.add(key)
        if key in keep:
            into = report.kept_versions
        elif key in quarantined:
            into = (report.kept_quarantined if quarantined[key] > expiry
                    else report.dropped_quarantined)
        else:
            into = report.dropped_versions
        into.setdefault(info.dataset, []).append(info.version)
    keep_releases = {s.release_id for s in retained}
    current = target.current_release()
    if current is not None:
        keep_releases.add(current)
    known = {r.id for r in state.list_releases()} | {m.id for m in list_releases(ws.artifacts)}
    for rid in sorted(known):
        if not target.release_dir(rid).is_dir():
            continue
        (report.kept_releases if rid in keep_releases else report.dropped_releases).append(rid)
    if report.dry_run:
        return
    for dataset, versions in report.dropped_versions.items():
        for version in versions:
            target.drop_version(dataset, version)
    for dataset, versions in report.dropped_quarantined.items():
        for version in versions:
            target.drop_version(dataset, version)
            state.release_quarantine(env, dataset, version)
    for dataset, version in set(quarantined) - present:  # gone already: forget the record
        state.release_quarantine(env, dataset, version)
    for rid in report.dropped_releases:
        shutil.rmtree(target.release_dir(rid))
    if report.dropped_versions or report.dropped_releases or report.dropped_quarantined:
        state.event("gc", env=env, payload={
            "dropped_versions": report.dropped_versions,
            "dropped_releases": report.dropped_releases,
            "dropped_quarantined": report.dropped_quarantined,
            "recovered": report.recovered,
        })


__all__ = ["GcReport", "collect_garbage"]
