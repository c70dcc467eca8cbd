"""Helpers of the webhook and trigger tests: the retail example as a real git project with
extra ``sluice.yaml`` sections, and a start callback that records what it was asked."""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.retail import copy_retail

from sluice.errors import UsageError

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "alice",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "alice",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity and no user configuration."""
    proc = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
                          capture_output=True, text=True, check=True, timeout=60)
    return proc.stdout.strip()


def make_project(root: Path, extra_yaml: str = "") -> Path:
    """A copy of examples/retail (no Spark) with ``extra_yaml`` appended to its sluice.yaml,
    committed on ``main`` of a new git repository."""
    copy_retail(root, spark=False)
    if extra_yaml:
        config = root / "sluice.yaml"
        config.write_text(config.read_text(encoding="utf-8") + "\n" + extra_yaml,
                          encoding="utf-8")
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@dataclass
class Recorder:
    """A start callback (``StartFn``) that records every call and returns a new id; with
    ``fail`` set it refuses like ``start_execution`` refusing an unknown action."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, **kwargs: Any) -> int:
        if self.fail:
            raise UsageError("cannot start an execution now")
        with self._lock:
            self.calls.append(kwargs)
            return next(self._ids)
