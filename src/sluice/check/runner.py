"""Run the selected check units, independent ones in parallel, reusing cached results."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sluice.check.base import Check, Unit, UnitOutcome
from sluice.check.cache import CheckCache, cache_key
from sluice.check.context import CheckContext, CheckOptions
from sluice.check.model import KINDS, CheckReport, CheckResult, Finding, Status
from sluice.check.selection import affected_nodes
from sluice.config.base import did_you_mean
from sluice.errors import SluiceError, UsageError

#: Called when a unit starts (result None) and when it has a result.
OnUnit = Callable[[Unit, CheckResult | None], None]


def _no_events(unit: Unit, result: CheckResult | None) -> None:
    pass


def validate_kinds(names: frozenset[str], option: str) -> None:
    for name in sorted(names):
        if name not in KINDS:
            raise UsageError(f"{option}: unknown check kind {name!r}{did_you_mean(name, KINDS)}",
                             tip=f"kinds: {', '.join(KINDS)}")


def run_checks(root: Path, home: Path, options: CheckOptions, checks: Sequence[Check], *,
               on_plan: Callable[[list[Unit]], None] | None = None,
               on_unit: OnUnit = _no_events) -> CheckReport:
    started = time.perf_counter()
    validate_kinds(options.only, "--only")
    validate_kinds(options.skip, "--skip")
    ctx = CheckContext(root, home, options)
    kinds = [c for c in checks
             if (not options.only or c.kind in options.only) and c.kind not in options.skip]
    units: list[Unit] = []
    for check in kinds:
        units += check.units(ctx)
    selection: dict[str, object] = {}
    if options.changed_since:
        changed = ctx.git.changed_since(options.changed_since)
        nodes = affected_nodes(ctx, changed, options.changed_since)
        changed_set = set(changed)
        chosen = [u for u in units if nodes is None or u.always
                  or changed_set & set(u.files) or u.nodes & nodes]
        selection = {"changed_since": options.changed_since, "changed_files": changed,
                     "affected": "all" if nodes is None else sorted(nodes),
                     "units_total": len(units),
                     "units_selected": len(chosen)}
        units = chosen
    if on_plan is not None:
        on_plan(units)
    cache = CheckCache(home / "cache" / "checks")
    results: dict[int, CheckResult] = {}
    pending: list[tuple[int, Unit, str | None]] = []
    for i, unit in enumerate(units):
        key = _key(ctx, unit) if unit.cacheable else None
        hit = cache.get(key) if key and options.use_cache else None
        if hit is not None:
            hit.cached = True
            results[i] = hit
            on_unit(unit, hit)
        else:
            pending.append((i, unit, key))
    with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="check") as pool:
        futures: list[tuple[int, Unit, str | None, Future[tuple[CheckResult, bool]]]] = []
        for i, unit, key in pending:
            on_unit(unit, None)
            futures.append((i, unit, key, pool.submit(_run_unit, unit)))
        for i, unit, key, fut in futures:
            result, ran_cleanly = fut.result()
            results[i] = result
            if key is not None and ran_cleanly:
                cache.put(key, result)
            on_unit(unit, result)
    ordered = [results[i] for i in range(len(units))]
    ordered.sort(key=lambda r: (KINDS.index(r.kind) if r.kind in KINDS else 99, r.name))
    complete = not (options.only or options.skip or options.changed_since)
    return CheckReport(ordered, time.perf_counter() - started, ctx.tree if ctx.in_git else None,
                       complete, selection)


def _key(ctx: CheckContext, unit: Unit) -> str:
    """Everything a unit's verdict depends on: its files and config, the tools' versions
    (a missing tool has none, so installing it changes the key) and the surroundings: a
    check that failed outside a git repository is never served once there is one."""
    missing = [f for f in unit.files if f not in ctx.files]
    return cache_key({
        "kind": unit.kind, "name": unit.name, "tools": ctx.tools, "key": unit.key,
        "files": {f: ctx.files.get(f) for f in unit.files}, "missing": missing,
        "in_git": ctx.in_git,
    })


def _run_unit(unit: Unit) -> tuple[CheckResult, bool]:
    """The unit's result, and whether it is worth caching (not when the check itself broke,
    e.g. a tool that is missing or timed out: the next run should try again)."""
    started = time.perf_counter()
    clean = True
    try:
        out = unit.run()
    except SluiceError as exc:
        out, clean = UnitOutcome(Status.FAILED, [Finding(exc.message, tip=exc.tip or "")]), False
    except Exception as exc:  # a check's own bug must not hide the other results
        out, clean = UnitOutcome(Status.FAILED, [Finding(
            f"the {unit.kind} check crashed: {type(exc).__name__}: {exc}",
            tip="run with --debug and report it")]), False
    result = CheckResult(unit.kind, unit.name, out.status, out.findings,
                         time.perf_counter() - started, False, out.detail, out.cases)
    return result, clean
