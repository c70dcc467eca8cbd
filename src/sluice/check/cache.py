"""Check results keyed by the fingerprint of their inputs (``.sluice/cache/checks``).

A key hashes the unit's kind and name, the content of every file it reads, the config it
depends on and the versions of the tools involved; a result is reused only for the very
same inputs. Entries are small JSON files written atomically, so two concurrent checks of
one project never read half an entry. Entries are private (0600 in 0700 folders) and
masked: a finding that quotes a secret value is stored as ``***``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sluice.check.model import CheckResult
from sluice.secrecy import keyed_strings, mask_json, private_dir


def cache_key(parts: dict[str, Any]) -> str:
    # secret values in the parts (parameters) are keyed, so a key never hashes one bare
    blob = json.dumps(keyed_strings(parts), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class CheckCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> CheckResult | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            return CheckResult.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: the check simply runs again

    def put(self, key: str, result: CheckResult) -> None:
        path = self._path(key)
        private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(mask_json(result.to_dict()), fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
