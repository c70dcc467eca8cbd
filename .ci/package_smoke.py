"""Packaging cannot rot: build the wheel and sdist, install the wheel into a clean virtualenv
and use it there, away from the checkout.

    python .ci/package_smoke.py [--keep]      (needs `build`: the dev extra has it)

Checks: the sdist holds the sources and the examples; the wheel holds every file of
src/sluice that git tracks (grammars, ...) and the examples `sluice demo` and `sluice init`
copy; in a fresh venv with `sluice-cd[check]` from the wheel, importlib.metadata knows the
distribution `sluice-cd`, `sluice --version` prints its version, `sluice init` writes a
project whose cheap checks pass (ruff from the check extra included) and `--ci github` pins
this version. Exit 0 when all hold; each failure is printed and the exit code is 1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIST = "sluice-cd"


def version() -> str:
    text = (REPO / "src" / "sluice" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    assert match, "no __version__ in src/sluice/__init__.py"
    return match[1]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(args)} (exit {proc.returncode})\n"
                         f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def tracked_package_files() -> list[str]:
    out = run(["git", "ls-files", "src/sluice"], REPO)
    return [p.removeprefix("src/") for p in out.splitlines() if "__pycache__" not in p]


def check_archives(dist: Path, ver: str, problems: list[str]) -> Path:
    wheels, sdists = list(dist.glob("sluice_cd-*.whl")), list(dist.glob("sluice_cd-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise SystemExit(f"FAILED: expected one wheel and one sdist in {dist}: "
                         f"{sorted(p.name for p in dist.iterdir())}")
    wheel, sdist = wheels[0], sdists[0]
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = zf.read(f"sluice_cd-{ver}.dist-info/METADATA").decode()
        entry = zf.read(f"sluice_cd-{ver}.dist-info/entry_points.txt").decode()
    if f"Name: {DIST}\n" not in meta or f"Version: {ver}\n" not in meta:
        problems.append(f"wheel METADATA does not name {DIST} {ver}")
    if "sluice = sluice.cli.app:main" not in entry:
        problems.append("wheel has no `sluice` console script")
    if "sluice.glue.pytest_plugin = sluice.glue.pytest_plugin" not in entry:
        problems.append("wheel has no pytest11 entry point for sluice.glue.pytest_plugin")
    missing = [p for p in tracked_package_files() if p not in names]
    problems += [f"wheel lacks {p}" for p in missing]
    # force-include copies the folders whole: exactly the files git tracks, no local state
    tracked = {"sluice/_examples/" + p.removeprefix("examples/")
               for p in run(["git", "ls-files", "examples/retail", "examples/quality"],
                            REPO).splitlines()}
    bundled = {n for n in names if n.startswith("sluice/_examples/")}
    problems += [f"wheel lacks the example file {p}" for p in sorted(tracked - bundled)]
    problems += [f"wheel carries the untracked {p} (build from a clean checkout)"
                 for p in sorted(bundled - tracked)]
    if "sluice/_examples/retail/sluice.yaml" not in bundled:
        problems.append("wheel lacks the retail example")
    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name}
    for rel in ("pyproject.toml", "README.md", "src/sluice/__init__.py",
                "src/sluice/cli/app.py", "examples/retail/sluice.yaml"):
        if rel not in members:
            problems.append(f"sdist lacks {rel}")
    return wheel


def smoke(wheel: Path, work: Path, ver: str, problems: list[str]) -> None:
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], work)
    py, sluice = venv / "bin" / "python", venv / "bin" / "sluice"
    # from the registry as configured for pip (its cache makes a re-run quick)
    run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{wheel}[check]"], work)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    for k, v in {"GIT_AUTHOR_NAME": "CI", "GIT_AUTHOR_EMAIL": "ci@example.com",
                 "GIT_COMMITTER_NAME": "CI", "GIT_COMMITTER_EMAIL": "ci@example.com"}.items():
        env[k] = v

    out = run([str(sluice), "--version"], work, env).strip()
    if out != f"sluice {ver}":
        problems.append(f"sluice --version printed {out!r}, not 'sluice {ver}'")
    probe = ("import importlib.metadata as m, sluice, sluice.demo as d; "
             f"print(m.version({DIST!r}), sluice.__version__, sluice.__file__, d.EXAMPLE, "
             "(d.EXAMPLE / 'generate.py').is_file())")
    dist_ver, pkg_ver, pkg_file, example, has_gen = run([str(py), "-c", probe], work,
                                                        env).split()
    if dist_ver != ver or pkg_ver != ver:
        problems.append(f"importlib.metadata says {DIST} {dist_ver}, sluice.__version__ "
                        f"{pkg_ver}; expected {ver}")
    for label, path in (("sluice", pkg_file), ("the demo's example", example)):
        if not Path(path).resolve().is_relative_to(venv.resolve()):
            problems.append(f"{label} comes from {path}, not from the installed wheel")
    if has_gen != "True":
        problems.append(f"the demo's example {example} lacks generate.py")

    project = work / "project"
    run([str(sluice), "init", str(project)], work, env)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        run(["git", *args], project, env)
    # cheap kinds only (no PySpark here): config, SQL, rules, contracts, and ruff (check extra)
    run([str(sluice), "check", "--only", "config,graph,sql,dqdl,contracts,lint"], project, env)
    run([str(sluice), "init", ".", "--ci", "github"], project, env)
    workflow = (project / ".github" / "workflows" / "sluice.yml").read_text(encoding="utf-8")
    if f'pip install "sluice-cd[spark,check]=={ver}"' not in workflow:
        problems.append("the scaffolded workflow does not install "
                        f"sluice-cd[spark,check]=={ver}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ver = version()
    work = Path(tempfile.mkdtemp(prefix="sluice-package-"))
    problems: list[str] = []
    try:
        run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(REPO)], work)
        wheel = check_archives(work / "dist", ver, problems)
        smoke(wheel, work, ver, problems)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        return 1
    print(f"package smoke: {DIST} {ver} wheel + sdist built, installed in a clean venv and "
          f"used there ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
