"""Releases: immutable, content-addressed bundles of a project's git tree.

Build one with :func:`build_release`, find it with :func:`load_release` or
:func:`list_releases`, prove it intact with :func:`verify_release` and write its files out with
:func:`materialize`. Blobs and manifests live in an :class:`ArtifactStore`.
"""

from sluice.release.artifacts import ArtifactStore
from sluice.release.builder import (
    build_release,
    changed_since_release,
    list_releases,
    load_release,
    resolve_release_id,
)
from sluice.release.manifest import MARKER_NAME, Manifest, canonical_json
from sluice.release.verify import installed_differences, materialize, verify_release

__all__ = [
    "MARKER_NAME",
    "ArtifactStore",
    "Manifest",
    "build_release",
    "canonical_json",
    "changed_since_release",
    "installed_differences",
    "list_releases",
    "load_release",
    "materialize",
    "resolve_release_id",
    "verify_release",
]
