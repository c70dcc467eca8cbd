"""Helpers every benchmark script uses (imported by path: benchmarks are plain scripts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PY = ROOT / ".venv" / "bin" / "python"


def ensure_project_python() -> None:
    """Re-run this script with the project's venv when sluice is not importable here."""
    try:
        import sluice  # noqa: F401
    except ImportError:
        if VENV_PY.exists() and Path(sys.prefix).resolve() != VENV_PY.parents[1].resolve():
            os.execv(str(VENV_PY), [str(VENV_PY), *sys.argv])
        raise SystemExit(
            "sluice is not importable: run `make test` (or `make demo`) once to install it"
        ) from None


def dist_versions(python: str | Path, dists: list[str]) -> dict[str, str]:
    """Installed versions of ``dists`` in the interpreter ``python`` ('-' when absent)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for d in sys.argv[1:]:\n"
            "    try: out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError: out[d] = '-'\n"
            "print(json.dumps(out))")
    p = subprocess.run([str(python), "-c", code, *dists], capture_output=True, text=True,
                       check=False)
    return dict(json.loads(p.stdout)) if p.returncode == 0 else {}


def load_line() -> str:
    """The load average line every benchmark prints before its figures."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"
