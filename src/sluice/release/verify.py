"""Check a stored release end to end, and write its files out to a directory.

:func:`verify_release` proves that a release is intact: the manifest parses, its digest
recomputes, and every blob it names exists and still hashes to its digest.

:func:`materialize` writes a release's files under a destination directory, atomically (built
beside it in ``.tmp-<id>-…``, then renamed) and safely: manifest paths that are absolute or
escape the destination are refused, files are created without following symbolic links, and
every blob is rehashed while it is copied.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from sluice.errors import ReleaseError
from sluice.release.artifacts import CHUNK_SIZE, ArtifactStore, hash_file
from sluice.release.builder import resolve_release_id
from sluice.release.manifest import ID_LENGTH, MARKER_NAME, Manifest, unsafe_path_reason

_REBUILD_TIP = "rebuild it: check out commit {commit} and run `sluice release`"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


def verify_release(store: ArtifactStore, id_or_prefix: str) -> Manifest:
    """Return the release's manifest if it is intact; else raise :class:`ReleaseError`.

    The error names every missing or tampered blob with the file it belongs to.
    """
    release_id = resolve_release_id(store, id_or_prefix)
    path = store.release_path(release_id)
    try:
        manifest = Manifest.from_json(store.read_release(release_id))
    except ReleaseError as exc:
        raise ReleaseError(
            f"release {release_id}: manifest {path} is corrupt: {exc.message}",
            tip="rebuild the release with `sluice release` from the commit it was built from",
        ) from exc
    tip = _REBUILD_TIP.format(commit=manifest.commit or "?")
    actual = manifest.compute_digest()
    if actual != manifest.digest or manifest.id != release_id or not actual.startswith(release_id):
        raise ReleaseError(
            f"release {release_id}: manifest {path} has been tampered with: its content hashes "
            f"to {actual}, but it records digest {manifest.digest} and id {manifest.id}",
            tip=tip,
        )

    problems: list[str] = []
    seen: dict[str, str | None] = {}  # digest -> hash of the stored content (None: missing)
    for rel, digest in manifest.files.items():
        reason = unsafe_path_reason(rel)
        if reason is not None:
            problems.append(f"file {rel!r}: unsafe path ({reason})")
            continue
        if digest not in seen:
            try:
                seen[digest] = hash_file(store.path_of(digest))
            except FileNotFoundError:
                seen[digest] = None
        found = seen[digest]
        if found is None:
            problems.append(
                f"file {rel!r}: blob {digest} is missing (expected at {store.path_of(digest)})"
            )
        elif found != digest:
            problems.append(
                f"file {rel!r}: blob {digest} is tampered: its content hashes to {found} "
                f"({store.path_of(digest)})"
            )
    if problems:
        tampered = any("is tampered" in p for p in problems)
        raise ReleaseError(
            f"release {release_id} failed verification ({len(problems)} problem(s)):\n"
            + "\n".join(f"  - {p}" for p in problems),
            tip=("delete the tampered blob files, then " if tampered else "") + tip,
        )
    return manifest


def installed_differences(dest: Path, manifest: Manifest) -> list[str]:
    """How the files under ``dest`` differ from ``manifest``: modified, missing and
    unexpected files, and symbolic links; empty when ``dest`` holds exactly the release.

    An installed release folder is editable by anyone who can write the sluice home, so it is
    never trusted because its marker says so: every file is rehashed at the moment of use.
    """
    problems: list[str] = []
    root = Path(dest)
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                problems.append(f"{(base / name).relative_to(root).as_posix()}: symbolic link")
        for name in sorted(files):
            path = base / name
            rel = path.relative_to(root).as_posix()
            if rel == MARKER_NAME:
                continue
            if path.is_symlink():
                problems.append(f"{rel}: symbolic link")
            elif rel not in manifest.files:
                problems.append(f"{rel}: not part of the release")
            else:
                seen.add(rel)
                if hash_file(path) != manifest.files[rel]:
                    problems.append(f"{rel}: modified")
    problems.extend(f"{rel}: missing" for rel in sorted(set(manifest.files) - seen))
    return problems


def materialize(store: ArtifactStore, manifest: Manifest, dest: Path) -> list[str]:
    """Write every file of ``manifest`` under ``dest``, atomically; returns what had to be
    repaired (see :func:`installed_differences`), usually nothing.

    If ``dest`` already holds this release (its ``.sluice-release`` marker has the id), its
    files are rehashed; a folder that differs from the manifest in any way is replaced by a
    fresh copy from the verified blobs. If ``dest`` holds anything else,
    :class:`ReleaseError` is raised and it is left alone.
    """
    if manifest.compute_digest() != manifest.digest or manifest.id != manifest.digest[:ID_LENGTH]:
        raise ReleaseError(
            f"refusing to materialize release {manifest.id}: its manifest does not match its "
            "digest (tampered?)",
            tip=f"run `sluice plan ENV --release {manifest.id}`",
        )
    for rel in manifest.files:
        reason = unsafe_path_reason(rel)
        if reason is not None:
            raise ReleaseError(
                f"refusing to materialize release {manifest.id}: file path {rel!r} is unsafe "
                f"because {reason}",
                tip=f"run `sluice plan ENV --release {manifest.id}`; rebuild the release",
            )

    dest = Path(dest).absolute()
    repaired: list[str] = []
    if _holds(dest, manifest.id):
        repaired = installed_differences(dest, manifest)
        if not repaired:
            return []
        # move the altered copy out of the way first: readers of `current` then see the
        # old folder or the rebuilt one, never a half-deleted tree
        aside = Path(tempfile.mkdtemp(prefix=f".altered-{manifest.id}-", dir=dest.parent))
        os.rename(dest, aside / "release")
        shutil.rmtree(aside, ignore_errors=True)
    if os.path.lexists(dest):
        raise ReleaseError(
            f"cannot materialize release {manifest.id} at {dest}: it already exists and "
            f"does not hold this release",
            tip="remove it or choose another directory",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{manifest.id}-", dir=dest.parent))
    try:
        os.chmod(tmp, 0o755)
        for rel, digest in manifest.files.items():
            _write_blob(store, manifest.id, tmp, rel, digest)
        (tmp / MARKER_NAME).write_text(manifest.id + "\n", encoding="utf-8")
        try:
            os.rename(tmp, dest)
        except OSError:
            # Someone else materialised the same release concurrently: theirs is as good.
            if not _holds(dest, manifest.id):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        return repaired
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ReleaseError(
            f"cannot materialize release {manifest.id} at {dest}: {exc}",
            tip=f"check that {dest.parent} is writable",
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _holds(dest: Path, release_id: str) -> bool:
    marker = dest / MARKER_NAME
    if not dest.is_dir() or marker.is_symlink() or not marker.is_file():
        return False
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return marker.read_text(encoding="utf-8").strip() == release_id
    return False


def _write_blob(store: ArtifactStore, release_id: str, root: Path, rel: str, digest: str) -> None:
    parts = rel.split("/")
    parent = root
    for part in parts[:-1]:
        parent = parent / part
        if parent.is_symlink():  # cannot happen in a directory we created; belt and braces
            raise ReleaseError(f"refusing to materialize {rel!r}: {parent} is a symbolic link")
        parent.mkdir(exist_ok=True)
    target = parent / parts[-1]
    if not target.parent.resolve().is_relative_to(root.resolve()):
        raise ReleaseError(f"refusing to materialize {rel!r}: it resolves outside {root}")
    h = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
    with store.open(digest) as src, os.fdopen(os.open(target, flags, 0o644), "wb") as dst:
        for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
            h.update(chunk)
            dst.write(chunk)
    if h.hexdigest() != digest:
        raise ReleaseError(
            f"release {release_id}: file {rel!r}: blob {digest} is tampered: its content "
            f"hashes to {h.hexdigest()} ({store.path_of(digest)})",
            tip=f"run `sluice plan ENV --release {release_id}`",
        )
