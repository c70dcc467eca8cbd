"""``--changed-since REF``: which jobs and datasets a diff touches, and their downstream."""

from __future__ import annotations

from typing import Any

import yaml

from sluice.check.context import CheckContext
from sluice.config.loader import CONFIG_FILE
from sluice.config.names import qualify


def affected_nodes(ctx: CheckContext, changed: list[str], ref: str) -> set[str] | None:
    """Jobs and datasets whose code, rules or config changed since ``ref``, plus everything
    downstream of them in the dependency graph; None when that cannot be known (the graph
    does not build), i.e. everything is affected."""
    graph, cfg = ctx.graph, ctx.config
    if graph is None or cfg is None:
        return None  # a broken graph: nothing can be ruled out, so everything is affected
    changed_set = set(changed)
    jobs = {name for name, node in graph.jobs.items() if changed_set & set(node.code_files)}
    datasets = {name for name, ds in cfg.datasets.items() if ds.rules in changed_set}
    if CONFIG_FILE in changed_set:
        old = _raw_config(ctx.git.show(ref, CONFIG_FILE))
        new = _raw_config((ctx.root / CONFIG_FILE).read_text(encoding="utf-8"))
        if _section(old, "environments") != _section(new, "environments") or \
                old.get("dialect") != new.get("dialect"):
            jobs |= set(graph.jobs)  # parameters reach every job's SQL
        jobs |= _differing(old, new, "jobs")
        for name in _differing(old, new, "datasets") | _differing(old, new, "sources"):
            datasets.add(name)
    # a changed source or dataset affects every job that reads it
    for name, node in graph.jobs.items():
        if datasets & set(node.inputs) or datasets & set(node.outputs):
            jobs.add(name)
    jobs = {j for j in graph.downstream(jobs & set(graph.jobs))}
    return jobs | datasets | {d for j in jobs for d in graph.jobs[j].outputs}


def _raw_config(text: str | None) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _section(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _differing(old: dict[str, Any], new: dict[str, Any], key: str) -> set[str]:
    a, b = _section(old, key), _section(new, key)
    names = {n for n in set(a) | set(b) if a.get(n) != b.get(n)}
    return {qualify(n) if key != "jobs" else n for n in names}
