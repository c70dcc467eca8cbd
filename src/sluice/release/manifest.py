"""The release manifest: what a release contains and where it came from.

A manifest is serialised as canonical JSON (sorted keys, no insignificant whitespace, UTF-8), so
the same content always gives the same bytes. Its ``digest`` is the SHA-256 of the canonical JSON
of every field except ``id``, ``digest`` and ``created_at``: the content of the release and its
provenance, but not the moment it was built, so building the same tree twice gives the same
digest and the second build finds the first. ``id`` is the first 12 hex characters of the digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sluice.errors import ReleaseError
from sluice.release.artifacts import is_digest

FORMAT_VERSION = 1
ID_LENGTH = 12
MARKER_NAME = ".sluice-release"
#: the folder of a release holding what sluice built from the project (packaged stacks, CDK
#: synth output); reserved: no project file may be there
BUILD_DIR = "_sluice_build"
# Fields that identify the release itself or record when it was built; not hashed.
_UNHASHED = frozenset({"id", "digest", "created_at"})
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:")


def canonical_json(value: Any) -> str:
    """Serialise ``value`` the one way sluice hashes it."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` may not appear in a manifest, or ``None`` if it is a safe relative path.

    Safe means: relative, ``/``-separated, no empty, ``.`` or ``..`` components, no backslash,
    drive letter or NUL, and nothing under ``.git/`` or ``.sluice/`` or named like the marker file
    :func:`sluice.release.verify.materialize` writes.
    """
    if not path:
        return "it is empty"
    if "\x00" in path:
        return "it contains a NUL character"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if "\\" in path:
        return "it contains a backslash"
    if path.startswith("/") or _WINDOWS_DRIVE.match(path):
        return "it is absolute"
    parts = path.split("/")
    if ".." in parts:
        return "it escapes the release directory with '..'"
    if any(part in ("", ".") for part in parts):
        return "it is not normalised (empty or '.' component)"
    if ".git" in parts or parts[0] == ".sluice":
        return "it is inside .git/ or .sluice/"
    if path == MARKER_NAME:
        return f"it collides with the {MARKER_NAME} marker file"
    return None


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """An immutable, content-addressed description of one release."""

    id: str
    digest: str
    project: str
    commit: str
    author: str
    committed_at: str
    created_at: str
    message: str
    dirty: bool
    files: Mapping[str, str]
    jobs: Mapping[str, str] = field(default_factory=dict)
    checks: Mapping[str, Any] | None = None
    format: int = FORMAT_VERSION

    @classmethod
    def create(
        cls,
        *,
        project: str,
        commit: str,
        author: str,
        committed_at: str,
        created_at: str,
        message: str,
        dirty: bool,
        files: Mapping[str, str],
        jobs: Mapping[str, str] | None = None,
        checks: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """Build a manifest, sorting its mappings and computing its digest and id."""
        draft = cls(
            id="",
            digest="",
            project=project,
            commit=commit,
            author=author,
            committed_at=committed_at,
            created_at=created_at,
            message=message,
            dirty=dirty,
            files=dict(sorted(files.items())),
            jobs=dict(sorted((jobs or {}).items())),
            checks=None if checks is None else json.loads(canonical_json(checks)),
        )
        digest = draft.compute_digest()
        return cls(**{**draft._as_dict(), "id": digest[:ID_LENGTH], "digest": digest})

    def _as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "id": self.id,
            "digest": self.digest,
            "project": self.project,
            "commit": self.commit,
            "author": self.author,
            "committed_at": self.committed_at,
            "created_at": self.created_at,
            "message": self.message,
            "dirty": self.dirty,
            "files": dict(self.files),
            "jobs": dict(self.jobs),
            "checks": None if self.checks is None else dict(self.checks),
        }

    def compute_digest(self) -> str:
        """SHA-256 of the canonical JSON of the hashed fields (see the module docstring)."""
        payload = {k: v for k, v in self._as_dict().items() if k not in _UNHASHED}
        return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()

    def to_json(self) -> str:
        """Canonical JSON of the whole manifest."""
        return canonical_json(self._as_dict())

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest; raises :class:`ReleaseError` saying which field is wrong.

        This checks shape and types only; :func:`sluice.release.verify.verify_release` checks
        that the digest and the blobs match.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReleaseError(
                f"manifest is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from exc
        if not isinstance(data, dict):
            raise ReleaseError("manifest is not a JSON object")
        expected = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - expected)
        missing = sorted(expected - set(data))
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"missing field(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown field(s) {', '.join(unknown)}")
            raise ReleaseError(f"manifest has {' and '.join(parts)}")
        if data["format"] != FORMAT_VERSION:
            raise ReleaseError(
                f"manifest format {data['format']!r} is not supported (expected {FORMAT_VERSION})",
                tip="upgrade sluice to read this release",
            )
        for name in ("id", "digest", "project", "commit", "author", "committed_at", "created_at"):
            _expect(isinstance(data[name], str), name, "a string")
        _expect(isinstance(data["message"], str), "message", "a string")
        _expect(isinstance(data["dirty"], bool), "dirty", "true or false")
        for name in ("files", "jobs"):
            value = data[name]
            _expect(
                isinstance(value, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()),
                name,
                "an object of strings",
            )
        for path, digest in data["files"].items():
            if not is_digest(digest):
                raise ReleaseError(
                    f"manifest entry for file {path!r} has invalid digest {digest!r}"
                )
        _expect(data["checks"] is None or isinstance(data["checks"], dict), "checks", "an object")
        return cls(
            id=data["id"],
            digest=data["digest"],
            project=data["project"],
            commit=data["commit"],
            author=data["author"],
            committed_at=data["committed_at"],
            created_at=data["created_at"],
            message=data["message"],
            dirty=data["dirty"],
            files=dict(sorted(data["files"].items())),
            jobs=dict(sorted(data["jobs"].items())),
            checks=data["checks"],
            format=data["format"],
        )


def _expect(ok: bool, name: str, what: str) -> None:
    if not ok:
        raise ReleaseError(f"manifest field {name!r} is not {what}")
