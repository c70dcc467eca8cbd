"""Breaking contract changes against a baseline: the release live in an environment
(``--against ENV``) or the project at a git ref (``--against REF``); by default the last
environment of the promotion order that has a live release. A breaking change fails the
check unless ``checks.acknowledge`` in sluice.yaml names it with a reason."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from sluice.check.base import Unit, UnitOutcome, findings_outcome, skipped
from sluice.check.context import CheckContext
from sluice.check.kinds.project import raw_keys
from sluice.check.model import Finding
from sluice.config import CONFIG_FILE, ProjectConfig, load_project
from sluice.errors import SluiceError
from sluice.project.contracts import ContractChange, contract_changes


class ContractsCheck:
    kind = "contracts"
    description = "no unacknowledged breaking contract change against the baseline"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        if cfg is None:
            return []
        # one unit for all datasets: the baseline (live state, or a git ref) is not a file
        # whose digest could key a cache, so it is compared afresh every time (it is cheap)
        return [Unit("contracts", "datasets", _runner(ctx, cfg), always=True,
                     cacheable=False, nodes=frozenset(cfg.datasets))]


def _runner(ctx: CheckContext, cfg: ProjectConfig) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        old, label = find_baseline(ctx, cfg)
        if old is None:
            return skipped(label)
        changes = contract_changes(old, cfg)
        breaking = [c for c in changes if c.breaking]
        return findings_outcome([_finding(ctx, cfg, c) for c in breaking]
                                + [_info(ctx, c) for c in changes if not c.breaking],
                                f"against {label}: {len(changes)} change(s), "
                                f"{len(breaking)} breaking")

    return run


def _finding(ctx: CheckContext, cfg: ProjectConfig, change: ContractChange) -> Finding:
    path, line, col = _where(ctx, change)
    reason = change.acknowledged_by(cfg)
    if reason is not None:
        return Finding(f"breaking change acknowledged ({change.id}): {change.change} — {reason}",
                       path, line, col, severity="warning",
                       tip="protected environments need an approval given with "
                           "--acknowledge breaking")
    return Finding(
        f"breaking change: {change.change}", path, line, col, code=change.id,
        tip=f"keep the old contract, or acknowledge it in {CONFIG_FILE}:  checks: {{acknowledge:"
            f" [{{dataset: {change.dataset}, change: '{change.id}', reason: '…'}}]}}")


def _info(ctx: CheckContext, change: ContractChange) -> Finding:
    path, line, col = _where(ctx, change)
    return Finding(f"compatible change: {change.change}", path, line, col, severity="warning",
                   code=change.id)


def _where(ctx: CheckContext, change: ContractChange) -> tuple[str, int | None, int | None]:
    column = change.id.split(":", 1)[1].split("->")[0] if ":" in change.id else None
    keys = raw_keys(ctx)
    ds = keys.get(change.dataset, change.dataset)
    if column and change.id.split(":")[0] in {"type", "nullability", "added"}:
        return ctx.locate("datasets", ds, "contract", "columns", column)
    return ctx.locate("datasets", ds, "contract") if change.id != "dataset_removed" else \
        (CONFIG_FILE, None, None)


def find_baseline(ctx: CheckContext, cfg: ProjectConfig) -> tuple[ProjectConfig | None, str]:
    """(the baseline's config, a label for it), or (None, why there is none)."""
    against = ctx.options.against
    envs = cfg.promotion_order() if cfg.environments else []
    if against is not None and against not in cfg.environments:
        return _at_ref(ctx, against), f"git ref {against}"
    state_db = ctx.home / "state.db"
    remote = bool(os.environ.get("SLUICE_STATE_URL"))
    ever_activated = any((ctx.home / "envs" / env / "current").is_symlink() for env in envs)
    if not remote and (not state_db.is_file() or not ever_activated):  # cheap: no SQLAlchemy
        if against is not None:
            raise SluiceError(f"--against {against}: nothing was ever deployed here",
                              tip="deploy it first, or compare with a git ref: --against main")
        return None, "no baseline: nothing deployed here; compare with --against REF"
    from sluice.state import StateStore  # SQLAlchemy: only when there is a baseline to read
    from sluice.targets.base import create_target

    store = StateStore(state_url(ctx))
    try:
        for env in ([against] if against else list(reversed(envs))):
            live = store.live(env)
            if live is None:
                continue
            target = create_target("local", env, ctx.home)
            try:
                release_dir = target.release_dir(live.release_id)
            finally:
                target.close()
            if release_dir.is_dir():
                return load_project(release_dir), f"release {live.release_id} live in {env}"
    finally:
        store.close()
    if against is not None:
        raise SluiceError(f"--against {against}: nothing is live in {against}",
                          tip=f"sluice deploy {against}, or compare with a git ref")
    return None, "no baseline: nothing is live in any environment; compare with --against REF"


def state_url(ctx: CheckContext) -> str:
    """The state store the project's commands use (SLUICE_STATE_URL, else .sluice/state.db)."""
    return os.environ.get("SLUICE_STATE_URL") or f"sqlite:///{ctx.home / 'state.db'}"


def _at_ref(ctx: CheckContext, ref: str) -> ProjectConfig | None:
    text = ctx.git.show(ref, CONFIG_FILE)
    if text is None:
        raise SluiceError(f"--against {ref}: {CONFIG_FILE} does not exist at that ref",
                          tip="name a git ref (branch, tag, commit) or an environment")
    with tempfile.TemporaryDirectory(prefix="sluice-baseline-") as tmp:
        Path(tmp, CONFIG_FILE).write_text(text, encoding="utf-8")
        return load_project(tmp)
