"""Build a release from a project's git tree, and find releases in a store.

The files of a release are what git tracks (``git ls-files``) and, with ``allow_dirty``, the
modified and untracked-but-not-ignored files of the work tree too. Content is read from the work
tree, so git's checkout filters (line endings, LFS) apply as they would for a deploy from a
checkout. ``.git/`` and ``.sluice/`` are never included, nor is the artifact store itself.

git is run as a subprocess with explicit arguments (no shell), from the project directory, which
may be a subdirectory of a larger repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.errors import ReleaseError
from sluice.release.artifacts import ArtifactStore
from sluice.release.git import Git
from sluice.release.manifest import BUILD_DIR, Manifest, unsafe_path_reason

MAX_DIRTY_LISTED = 10
_GIT_TIMEOUT_S = 120


def build_release(
    project_root: Path,
    store: ArtifactStore,
    *,
    jobs: Mapping[str, str] | None = None,
    project: str = "",
    allow_dirty: bool = False,
    message: str = "",
    checks: Mapping[str, Any] | None = None,
    generate: Callable[[Collection[str]], Mapping[str, bytes]] | None = None,
) -> tuple[Manifest, bool]:
    """Bundle the project's git tree into ``store``.

    Returns the manifest and whether it is new (``False`` when an identical release, same
    digest, already existed; its manifest, with its original ``created_at``, is returned).
    Raises :class:`ReleaseError` if the directory is not in a git repository, has no commit, or
    has uncommitted changes and ``allow_dirty`` is false.

    ``generate`` is given the release's file paths and returns files sluice builds from them
    (``path → bytes``, all under :data:`BUILD_DIR`, e.g. packaged stacks): they are part of
    the release, hashed like the rest.
    """
    root = Path(project_root).resolve()
    git = Git(root)
    commit, author, committed_at = git.head()
    excluded = _excluded_prefixes(root, store)
    dirty_paths = uncommitted_paths(root, store)
    if dirty_paths and not allow_dirty:
        shown = ", ".join(dirty_paths[:MAX_DIRTY_LISTED])
        more = len(dirty_paths) - MAX_DIRTY_LISTED
        if more > 0:
            shown += f" and {more} more"
        raise ReleaseError(
            f"{root} has {len(dirty_paths)} uncommitted change(s): {shown}",
            tip="commit first or pass --allow-dirty",
        )

    files: dict[str, str] = {}
    for rel in git.list_files(include_untracked=allow_dirty):
        if _is_excluded(rel, excluded):
            continue
        path = root / rel
        if not os.path.lexists(path):
            continue  # tracked but deleted in the work tree (only possible when dirty)
        files[rel] = _store_file(store, root, rel, path)
    reserved = [rel for rel in files if rel.split("/", 1)[0] == BUILD_DIR]
    if reserved:
        raise ReleaseError(
            f"cannot release {reserved[0]}: {BUILD_DIR}/ is reserved for what sluice builds "
            "into a release (packaged stacks)",
            tip=f"rename the folder {BUILD_DIR}/ in the project")
    for rel, data in sorted((generate(sorted(files)) if generate else {}).items()):
        if rel.split("/", 1)[0] != BUILD_DIR or unsafe_path_reason(rel) is not None:
            raise ReleaseError(f"cannot add built file {rel!r} outside {BUILD_DIR}/")
        files[rel] = store.put_bytes(data)

    manifest = Manifest.create(
        project=project,
        commit=commit,
        author=author,
        committed_at=committed_at,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        message=message,
        dirty=bool(dirty_paths),
        files=files,
        jobs=jobs,
        checks=checks,
    )
    existing = _existing(store, manifest)
    if existing is not None:
        return existing, False
    store.write_release(manifest.id, manifest.to_json())
    return manifest, True


def list_releases(store: ArtifactStore) -> list[Manifest]:
    """Every release in ``store``, newest first (by ``created_at``, then id)."""
    manifests = [_load(store, release_id) for release_id in store.release_ids()]
    return sorted(manifests, key=lambda m: (m.created_at, m.id), reverse=True)


def resolve_release_id(store: ArtifactStore, id_or_prefix: str) -> str:
    """The full id of the one release whose id starts with ``id_or_prefix``.

    A full digest (64 hex) is accepted too. Raises :class:`ReleaseError` if no release or more
    than one matches.
    """
    wanted = id_or_prefix.strip().lower()
    if not wanted or any(c not in "0123456789abcdef" for c in wanted) or len(wanted) > 64:
        raise ReleaseError(
            f"{id_or_prefix!r} is not a release id or prefix (expected hex characters)",
            tip="list the releases with `sluice releases`",
        )
    short = wanted[:12]
    matches = [rid for rid in store.release_ids() if rid.startswith(short)]
    if not matches:
        raise ReleaseError(
            f"no release matches {id_or_prefix!r} in {store.releases_dir}",
            tip="list the releases with `sluice releases`",
        )
    if len(matches) > 1:
        raise ReleaseError(
            f"{id_or_prefix!r} is ambiguous: it matches releases {', '.join(matches)}",
            tip="give more characters of the release id",
        )
    return matches[0]


def load_release(store: ArtifactStore, id_or_prefix: str) -> Manifest:
    """The release whose id is, or starts with, ``id_or_prefix`` (must be unique)."""
    release_id = resolve_release_id(store, id_or_prefix)
    manifest = _load(store, release_id)
    if len(id_or_prefix) > 12 and not manifest.digest.startswith(id_or_prefix.strip().lower()):
        raise ReleaseError(
            f"no release has digest {id_or_prefix!r} (release {release_id} has {manifest.digest})",
            tip="list the releases with `sluice releases`",
        )
    return manifest


# -- internals ------------------------------------------------------------------------------


def _load(store: ArtifactStore, release_id: str) -> Manifest:
    try:
        return Manifest.from_json(store.read_release(release_id))
    except ReleaseError as exc:
        if exc.tip is not None:
            raise
        raise ReleaseError(
            f"release {release_id}: {exc.message} ({store.release_path(release_id)})",
            tip=f"run `sluice plan ENV --release {release_id}`; rebuild it with `sluice release`",
        ) from exc


def _existing(store: ArtifactStore, manifest: Manifest) -> Manifest | None:
    """The stored release identical to ``manifest``, if there is a sound one."""
    if not store.release_path(manifest.id).is_file():
        return None
    try:
        stored = _load(store, manifest.id)
    except ReleaseError:
        return None  # unreadable: rewriting it with the fresh manifest repairs it
    if stored.digest == manifest.digest and stored.compute_digest() == manifest.digest:
        return stored
    if stored.compute_digest() == stored.digest and stored.digest != manifest.digest:
        # Two different releases sharing a 12-hex id prefix: never overwrite the first.
        raise ReleaseError(
            f"release id {manifest.id} is already used by a different release "
            f"(digest {stored.digest}, new digest {manifest.digest})",
            tip="change the release message with --message and build again",
        )
    return None  # tampered manifest for this id: rewriting it repairs it


def _store_file(store: ArtifactStore, root: Path, rel: str, path: Path) -> str:
    reason = unsafe_path_reason(rel)
    if reason is not None:
        raise ReleaseError(f"cannot release file {rel!r}: {reason}")
    if path.is_symlink():
        # Follow links only to files inside the project: a link to ~/.aws/credentials must
        # not put a secret into a release.
        target = path.resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise ReleaseError(
                f"cannot release {rel}: it is a symbolic link to {os.readlink(path)}, "
                "which is not a file inside the project",
                tip="replace the link with the file, or remove it from git",
            )
    elif path.is_dir():
        raise ReleaseError(
            f"cannot release {rel}: it is a directory (a git submodule?)",
            tip="submodules are not supported yet; vendor the files into the project",
        )
    return store.put_file(path)


def uncommitted_paths(project_root: Path, store: ArtifactStore) -> list[str]:
    """The project's changed or untracked files a release would refuse (or, with
    ``allow_dirty``, include): outside ``.sluice/``, ``.git/`` and the artifact store."""
    root = Path(project_root).resolve()
    git = Git(root)
    excluded = _excluded_prefixes(root, store)
    return [p for p in git.dirty_paths(git.prefix()) if not _is_excluded(p, excluded)]


def changed_since_release(project_root: Path, store: ArtifactStore, manifest: Manifest) -> int:
    """How many of the project's files HEAD has changed since ``manifest``'s commit (0 when
    HEAD is that commit, the commit is not in this repository or there is no git at all):
    a deploy of the newest release would not carry them."""
    root = Path(project_root).resolve()
    git = Git(root)
    try:
        head = git.verify_ref("HEAD")
        if head == manifest.commit or not git.has_commit(manifest.commit):
            return 0
        changed = git.changed_between(manifest.commit, head)
    except ReleaseError:
        return 0
    excluded = _excluded_prefixes(root, store)
    return len([p for p in changed if not _is_excluded(p, excluded)])


def _excluded_prefixes(root: Path, store: ArtifactStore) -> list[str]:
    prefixes = [".sluice/", ".git/"]
    store_root = store.root.resolve()
    if store_root.is_relative_to(root) and store_root != root:
        prefixes.append(store_root.relative_to(root).as_posix() + "/")
    return prefixes


def _is_excluded(rel: str, prefixes: list[str]) -> bool:
    return any(rel.startswith(p) or rel + "/" == p for p in prefixes) or ".git" in rel.split("/")
