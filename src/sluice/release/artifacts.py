"""Content-addressed artifact store on the local filesystem.

Blobs are stored once, by the SHA-256 of their content, at ``blobs/ab/cdef…``; release
manifests live beside them at ``releases/<id>.json``. A blob is written atomically (temporary
file in the same directory, then :func:`os.replace`) and never rewritten once present, so a file
that does not change between releases costs its storage once.

Digests and release ids are validated before they are turned into paths: nothing read from a
manifest or typed by a user can make the store touch a file outside its root.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from sluice.errors import ReleaseError
from sluice.secrecy import private_dir

CHUNK_SIZE = 1 << 20
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_RELEASE_ID_RE = re.compile(r"[0-9a-f]{12}")
_SHARD_RE = re.compile(r"[0-9a-f]{2}")
_REST_RE = re.compile(r"[0-9a-f]{62}")


def is_digest(value: str) -> bool:
    """Whether ``value`` is a lowercase hex SHA-256 digest (64 characters)."""
    return _DIGEST_RE.fullmatch(value) is not None


def check_digest(value: str) -> str:
    """Return ``value`` if it is a valid digest, else raise :class:`ReleaseError`."""
    if not isinstance(value, str) or not is_digest(value):
        raise ReleaseError(
            f"{value!r} is not a SHA-256 digest (expected 64 lowercase hex characters)"
        )
    return value


def check_release_id(value: str) -> str:
    """Return ``value`` if it is a valid release id (12 lowercase hex), else raise."""
    if not isinstance(value, str) or _RELEASE_ID_RE.fullmatch(value) is None:
        raise ReleaseError(f"{value!r} is not a release id (expected 12 lowercase hex characters)")
    return value


def hash_file(path: Path) -> str:
    """The SHA-256 hex digest of a file's content, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
            h.update(chunk)
    return h.hexdigest()


class ArtifactStore:
    """Blobs by content digest plus release manifests, under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    # -- locating ---------------------------------------------------------------------------

    @staticmethod
    def default_root(project_root: Path) -> Path:
        """The default store root of a project.

        ``$SLUICE_HOME/artifacts`` if ``SLUICE_HOME`` is set and not empty, else
        ``<project>/.sluice/artifacts``.
        """
        home = os.environ.get("SLUICE_HOME")
        if home:
            return Path(home) / "artifacts"
        return Path(project_root) / ".sluice" / "artifacts"

    @classmethod
    def for_project(cls, project_root: Path) -> ArtifactStore:
        """The store a project uses by default (see :meth:`default_root`)."""
        return cls(cls.default_root(project_root))

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    def path_of(self, digest: str) -> Path:
        """Where the blob with ``digest`` is (or would be) stored."""
        check_digest(digest)
        return self.blobs_dir / digest[:2] / digest[2:]

    def release_path(self, release_id: str) -> Path:
        """Where the manifest of release ``release_id`` is (or would be) stored."""
        return self.releases_dir / f"{check_release_id(release_id)}.json"

    # -- blobs ------------------------------------------------------------------------------

    def has(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest; a no-op if the blob is already present."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if not target.is_file():
            with self._atomic_writer(target) as fh:
                fh.write(data)
        return digest

    def put_file(self, path: Path) -> str:
        """Store the content of ``path`` (streamed) and return its digest.

        The file is hashed first, so an unchanged file costs one read and no write. If it is new,
        it is copied and hashed again while copying; a file that changes in between is refused
        rather than stored under a digest that does not match it.
        """
        path = Path(path)
        try:
            digest = hash_file(path)
            target = self.path_of(digest)
            if target.is_file():
                return digest
            h = hashlib.sha256()

            def unchanged() -> None:
                if h.hexdigest() != digest:
                    raise ReleaseError(
                        f"{path} changed while it was being stored",
                        tip="do not edit files while a release is being built; run it again",
                    )

            with path.open("rb") as src, self._atomic_writer(target, check=unchanged) as dst:
                for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
                    h.update(chunk)
                    dst.write(chunk)
        except OSError as exc:
            raise ReleaseError(
                f"cannot store {path}: {exc.strerror or exc}",
                tip=f"check that {self.root} is writable and {path} readable",
            ) from exc
        return digest

    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading (binary). Raises :class:`ReleaseError` if it is missing."""
        path = self.path_of(digest)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise ReleaseError(
                f"blob {digest} is missing from the artifact store (expected at {path})",
                tip="rebuild the release with `sluice release`",
            ) from exc

    def read(self, digest: str) -> bytes:
        with self.open(digest) as fh:
            return fh.read()

    def verify_blob(self, digest: str) -> bool:
        """Whether the blob exists and its content still hashes to ``digest``."""
        path = self.path_of(digest)
        try:
            return hash_file(path) == digest
        except FileNotFoundError:
            return False

    def iter_blobs(self) -> Iterator[str]:
        """Digests of every blob in the store (temporary files are skipped)."""
        if not self.blobs_dir.is_dir():
            return
        for shard in sorted(self.blobs_dir.iterdir()):
            if not (shard.is_dir() and _SHARD_RE.fullmatch(shard.name)):
                continue
            for blob in sorted(shard.iterdir()):
                if _REST_RE.fullmatch(blob.name) and blob.is_file():
                    yield shard.name + blob.name

    def blob_count(self) -> int:
        return sum(1 for _ in self.iter_blobs())

    # -- release manifests (raw text; see sluice.release.manifest for the model) --------------

    def write_release(self, release_id: str, text: str) -> Path:
        """Atomically write the manifest text of a release; returns its path."""
        target = self.release_path(release_id)
        with self._atomic_writer(target) as fh:
            fh.write(text.encode("utf-8"))
        return target

    def read_release(self, release_id: str) -> str:
        """The manifest text of a release. Raises :class:`ReleaseError` if absent."""
        path = self.release_path(release_id)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ReleaseError(
                f"release {release_id} not found in {self.releases_dir}",
                tip="list the releases with `sluice releases`",
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ReleaseError(f"cannot read manifest {path}: {exc}") from exc

    def release_ids(self) -> list[str]:
        """Ids of every stored release, sorted."""
        if not self.releases_dir.is_dir():
            return []
        ids = []
        for entry in self.releases_dir.iterdir():
            stem, suffix = entry.stem, entry.suffix
            if suffix == ".json" and _RELEASE_ID_RE.fullmatch(stem) and entry.is_file():
                ids.append(stem)
        return sorted(ids)

    # -- internals --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _atomic_writer(
        self, target: Path, *, check: Callable[[], None] | None = None
    ) -> Iterator[BinaryIO]:
        """Write to a temporary file beside ``target``, then rename it into place.

        Readers never see a partial file. ``check`` runs before publishing and may raise to
        abandon the write.
        """
        private_dir(target.parent)  # the store holds the project's code: owner only
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            if check is not None:
                check()
            # Blobs and manifests are immutable: make accidental edits fail loudly (and
            # private, like the rest of the home).
            os.chmod(tmp, 0o400)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
