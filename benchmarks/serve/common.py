"""What both control-plane benchmarks need: a git project of the retail example, load average."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from shared import load_line  # noqa: F401  (the scripts import it from here)


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` without the machine's or the user's git config."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True,
                          check=True).stdout


def retail_repository(where: Path, extra_yaml: str) -> Path:
    """examples/retail without its PySpark job (fast deploys) as a one-commit git repository,
    ``extra_yaml`` appended to its sluice.yaml, sample files in every environment."""
    from tests.retail import copy_retail

    root = copy_retail(where / "retail", spark=False)
    with (root / "sluice.yaml").open("a", encoding="utf-8") as f:
        f.write("\n" + extra_yaml)
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "bench")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    for env in ("dev", "staging", "prod"):
        shutil.copytree(root / "data", root / ".sluice" / "envs" / env / "objects")
    return root


def new_commit(root: Path, note: str) -> str:
    """Commit a one-line change to sluice.yaml; its sha."""
    with (root / "sluice.yaml").open("a", encoding="utf-8") as f:
        f.write(f"# {note}\n")
    git(root, "commit", "-q", "-am", note)
    return git(root, "rev-parse", "HEAD").strip()


