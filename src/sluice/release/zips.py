"""Deterministic zip archives: the same files give the same bytes (sorted entries, fixed
timestamps, modes 0644 or 0755 for executables), so a digest of the archive is a digest of
its content. Lambda code and CloudFormation artifacts are zipped this way."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def zip_entries(entries: Iterable[tuple[str, Path]]) -> bytes:
    """A zip of ``(name in the archive, file)`` pairs, in the order given (sort them)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())
    return buf.getvalue()


def zip_tree(code: Path) -> bytes:
    """A file (at the archive's root) or a folder's files (``__pycache__`` left out)."""
    if code.is_file():
        return zip_entries([(code.name, code)])
    files = sorted(p for p in code.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return zip_entries((p.relative_to(code).as_posix(), p) for p in files)
