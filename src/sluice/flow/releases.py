"""Build a release of the workspace and record it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sluice.config import check_files
from sluice.errors import ReleaseError
from sluice.project.graph import build_graph
from sluice.project.workspace import Workspace, current_actor
from sluice.release import Manifest, build_release
from sluice.release.git import Git
from sluice.stacks.build import build_stacks
from sluice.state import ReleaseRecord


def make_release(ws: Workspace, *, allow_dirty: bool = False, message: str = "",
                 actor: str | None = None) -> tuple[Manifest, bool]:
    """Fingerprint every job of the work tree and bundle it, with its stacks packaged and
    its CDK stacks synthesised (:mod:`sluice.stacks`); returns (manifest, created).

    ``actor`` (default: :func:`current_actor`) is recorded as who built it: with
    ``distinct_approver`` they may not approve it (:mod:`sluice.flow.authorship`)."""
    cfg = ws.config()
    check_files(cfg, ws.root)  # a missing or binary job file, at its line in sluice.yaml
    graph = build_graph(ws.root, cfg)
    checks = checks_of_tree(ws)
    manifest, created = build_release(
        ws.root, ws.artifacts, jobs=graph.fingerprints, project=cfg.project,
        allow_dirty=allow_dirty, message=message, checks=checks,
        generate=(lambda files: build_stacks(ws.root, cfg, files)) if cfg.stacks else None)
    ws.state.add_release(ReleaseRecord(
        id=manifest.id, digest=manifest.digest, commit=manifest.commit,
        author=manifest.author, created_at=dt.datetime.fromisoformat(manifest.created_at),
        message=manifest.message, dirty=manifest.dirty,
        checks_passed=None if checks is None else bool(checks["passed"]),
        manifest_json=json.dumps({"files": len(manifest.files), "jobs": dict(manifest.jobs)}),
    ))
    if created:
        ws.state.event("release_built", release_id=manifest.id,
                       actor=actor if actor is not None else current_actor(),
                       payload={"commit": manifest.commit, "files": len(manifest.files)})
    return manifest, created


def checks_of_tree(ws: Workspace) -> dict[str, Any] | None:
    """The last complete ``sluice check`` of exactly the files a release built now contains
    (same git tree), as recorded in the state store; None when there was none."""
    try:
        tree = Git(ws.root).worktree_tree()
    except ReleaseError:
        return None  # not a git repository: build_release says so
    run = ws.state.latest_check_run(tree)
    if run is None:
        return None
    return {"tree": tree, "passed": run["passed"], "at": run["at"], "actor": run["actor"],
            "counts": run.get("counts", {}),
            "failed": [f"{r['kind']}:{r['name']}" for r in run.get("results", [])
                       if r["status"] == "failed"]}
