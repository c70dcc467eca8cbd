"""The virtual environment a project's tests run in when ``checks.unit.requirements`` names
a requirements file.

It is made once per requirements file content and Python (the key is their digest) under
``.sluice/cache/unit-envs/`` and reused by every later check; a changed file gets a new one
and the old one is removed. It sees what the interpreter running sluice sees (pytest, pyspark,
sluice and its pytest plugin): ``--system-site-packages`` for the base interpreter's packages,
plus a ``.pth`` file that adds the running environment's own site-packages, since sluice
itself usually runs from a virtual environment whose packages ``--system-site-packages``
would not reach. The project's requirements are installed first on the path, so its pins win.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sluice.errors import SluiceError

ENVS_DIR = Path("cache") / "unit-envs"  # under the project's .sluice/
READY = "sluice-env.json"  # written last: an env without it is half-built and is rebuilt
_PIP_TAIL = 12


@dataclass(frozen=True)
class TestEnv:
    """A ready environment: its interpreter, and whether this check made it."""

    python: Path
    created: bool
    digest: str  # of the requirements file


def requirements_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def env_key(digest: str) -> str:
    """The requirements digest with what else an environment depends on: the Python it was
    made from (version and environment)."""
    python = f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
    raw = json.dumps([digest, python, sys.prefix])
    return f"{python}-{hashlib.sha256(raw.encode()).hexdigest()[:16]}"


def ensure_env(root: Path, home: Path, requirements: str, timeout: int) -> TestEnv:
    """The environment for ``root/requirements``: reused when it exists, else made now."""
    req = root / requirements
    if not req.is_file():
        raise SluiceError(f"checks.unit.requirements: file not found: {requirements!r}",
                          tip="create it or fix the path in sluice.yaml")
    digest = requirements_digest(req)
    base = home / ENVS_DIR
    target = base / env_key(digest)
    python = _python(target)
    if (target / READY).is_file():
        return TestEnv(python, False, digest)
    base.mkdir(parents=True, exist_ok=True)
    with _locked(base / ".lock"):  # two checks at once make it once
        if (target / READY).is_file():
            return TestEnv(python, False, digest)
        shutil.rmtree(target, ignore_errors=True)  # a half-built one from a crashed check
        # pip comes from the running interpreter (`pip --python`) when it has one: no copy
        # of it per environment
        host_pip = importlib.util.find_spec("pip") is not None
        try:
            _create(target, timeout, with_pip=not host_pip)
            _install(root, python, requirements, timeout, host_pip)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / READY).write_text(json.dumps({"requirements": requirements,
                                                "sha256": digest}), encoding="utf-8")
        for old in base.iterdir():  # the envs of earlier versions of the file
            if old.is_dir() and old != target and (old / READY).is_file():
                shutil.rmtree(old, ignore_errors=True)
    return TestEnv(python, True, digest)


def _python(target: Path) -> Path:
    return target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(target: Path, timeout: int, *, with_pip: bool) -> None:
    args = [sys.executable, "-m", "venv", "--system-site-packages",
            *([] if with_pip else ["--without-pip"]), str(target)]
    proc = _call(args, target.parent, timeout, "python -m venv")
    if proc.returncode != 0:
        raise SluiceError(f"cannot create the test environment {target}: "
                          + _tail(proc.stdout + proc.stderr))
    found = _call([str(_python(target)), "-c", "import sysconfig; print(sysconfig.get_path("
                   "'purelib'))"], target, timeout, "the test environment's python")
    own = Path(found.stdout.strip())
    lines = [f"import site; site.addsitedir({p!r})" for p in _parent_site_dirs()]
    (own / "_sluice_parent.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _parent_site_dirs() -> list[str]:
    dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def _install(root: Path, python: Path, requirements: str, timeout: int,
             host_pip: bool) -> None:
    lines = (ln.split("#", 1)[0].strip() for ln in
             (root / requirements).read_text(encoding="utf-8", errors="replace").splitlines())
    if not any(lines):  # pip refuses a file of comments only; there is nothing to install
        return
    pip = [sys.executable, "-m", "pip", "--python", str(python)] if host_pip \
        else [str(python), "-m", "pip"]
    proc = _call([*pip, "install", "--disable-pip-version-check", "--no-input", "-r",
                  requirements], root, timeout, "pip install")
    if proc.returncode != 0:
        raise SluiceError(
            f"pip could not install {requirements} (checks.unit.requirements) into the test "
            f"environment: {_tail(proc.stderr or proc.stdout)}",
            tip=f"fix {requirements}; `python -m pip install -r {requirements}` shows pip's "
                "whole output")


def _call(args: list[str], cwd: Path, timeout: int, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise SluiceError(f"{what} ran longer than {timeout}s and was stopped",
                          tip="raise checks.timeout in sluice.yaml") from exc
    except OSError as exc:
        raise SluiceError(f"cannot run {what}: {exc}") from exc


def _tail(text: str) -> str:
    lines = [ln.rstrip() for ln in text.splitlines()
             if ln.strip() and not ln.startswith(("WARNING:", "[notice]"))]
    return " | ".join(lines[-_PIP_TAIL:]) or "(no output)"
