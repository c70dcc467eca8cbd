"""Build a release of the workspace and record it."""

from __future__ import annotations

import datetime as dt
import json

from sluice.project.graph import build_graph
from sluice.project.workspace import Workspace
from sluice.release import Manifest, build_release
from sluice.state import ReleaseRecord


def make_release(ws: Workspace, *, allow_dirty: bool = False,
                 message: str = "") -> tuple[Manifest, bool]:
    """Fingerprint every job of the work tree and bundle it; returns (manifest, created)."""
    cfg = ws.config()
    graph = build_graph(ws.root, cfg)
    manifest, created = build_release(ws.root, ws.artifacts, jobs=graph.fingerprints,
                                      project=cfg.project, allow_dirty=allow_dirty,
                                      message=message)
    ws.state.add_release(ReleaseRecord(
        id=manifest.id, digest=manifest.digest, commit=manifest.commit,
        author=manifest.author, created_at=dt.datetime.fromisoformat(manifest.created_at),
        message=manifest.message, dirty=manifest.dirty, checks_passed=None,
        manifest_json=json.dumps({"files": len(manifest.files), "jobs": dict(manifest.jobs)}),
    ))
    if created:
        ws.state.event("release_built", release_id=manifest.id,
                       payload={"commit": manifest.commit, "files": len(manifest.files)})
    return manifest, created
