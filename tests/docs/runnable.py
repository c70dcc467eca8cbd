"""Runnable documentation: the ```bash blocks of README.md and docs/*.md marked to run.

A block runs when the line before its fence is one of these HTML comments (invisible on
GitHub); the marker names the folder it runs in:

* ``<!-- runnable -->``: a fresh project made by ``sluice init`` (the blank template),
  committed to git, with nothing released or deployed yet;
* ``<!-- runnable: demo -->``: the project ``sluice demo`` made (``sluice-demo/``, with its
  deployed environments); blocks share that one demo, in document order;
* ``<!-- runnable: checkout -->``: the repository root after ``make demo`` (the examples and
  the sample data that ``make demo`` writes to ``.sluice/demo``).

Each block runs as ``bash -euo pipefail`` with the interpreter's ``bin`` folder first on PATH,
so ``sluice`` is the one under test. tests/docs/test_runnable_docs.py runs them all;
``.ci/fresh-clone`` runs them in a fresh clone after a real ``make demo``:
``python tests/docs/runnable.py --checkout DIR --demo DIR``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KINDS = ("project", "demo", "checkout")
DEMO_PROJECT = "sluice-demo"  # what `sluice demo` makes in the folder it runs in
_MARK = re.compile(r"^<!--\s*runnable(?::\s*(?P<kind>[\w-]+))?\s*-->\s*$")
_FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")


class MarkerError(ValueError):
    """A runnable marker that is not followed by a ```bash block, or names no known kind."""


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence, 1-based
    kind: str
    code: str

    @property
    def where(self) -> str:
        rel = self.file.relative_to(REPO) if self.file.is_relative_to(REPO) else self.file
        return f"{rel}:{self.line}"


def doc_files(root: Path = REPO) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The runnable blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    for i, text in enumerate(lines):
        mark = _MARK.match(text.strip())
        if not mark:
            continue
        kind = mark["kind"] or "project"
        if kind not in KINDS:
            raise MarkerError(f"{path}:{i + 1}: unknown runnable kind {kind!r} "
                              f"(one of: {', '.join(KINDS)})")
        fence = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if fence is None or fence["lang"] != "bash":
            raise MarkerError(f"{path}:{i + 1}: a runnable marker must be followed directly "
                              "by a ```bash block")
        end = next((j for j in range(i + 2, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise MarkerError(f"{path}:{i + 2}: the ```bash block is never closed")
        found.append(Block(path, i + 2, kind, "\n".join(lines[i + 2:end]) + "\n"))
    return found


def all_blocks(root: Path = REPO) -> list[Block]:
    return [b for path in doc_files(root) for b in blocks(path)]


def block_env() -> dict[str, str]:
    """The environment blocks run in: this interpreter's sluice first on PATH, a git identity."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           "GIT_AUTHOR_NAME": "Dana Engineer", "GIT_AUTHOR_EMAIL": "dana@example.com",
           "GIT_COMMITTER_NAME": "Dana Engineer", "GIT_COMMITTER_EMAIL": "dana@example.com",
           "COLUMNS": "100"}
    env.pop("SLUICE_HOME", None)
    return env


def run_block(block: Block, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=cwd,
                          env=block_env(), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def make_project(parent: Path) -> Path:
    """A fresh retail project, as a newcomer makes it: ``sluice init`` + a first commit."""
    project = parent / "project"
    env = block_env()
    subprocess.run([str(Path(sys.executable).parent / "sluice"), "init", str(project)],
                   env=env, check=True, capture_output=True, text=True, timeout=120)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)
    return project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True,
                        help="the repository root after `make demo`")
    parser.add_argument("--demo", type=Path, required=True,
                        help="the folder where `sluice demo` ran (holding sluice-demo/)")
    parser.add_argument("--projects", type=Path, required=True,
                        help="an empty folder for the fresh projects of plain blocks")
    args = parser.parse_args(argv)
    failed = passed = 0
    for n, block in enumerate(all_blocks(args.checkout.resolve())):
        if block.kind == "project":
            folder = args.projects / str(n)
            folder.mkdir(parents=True)
            cwd = make_project(folder)
        else:
            cwd = args.demo / DEMO_PROJECT if block.kind == "demo" else args.checkout
        proc = run_block(block, cwd)
        if proc.returncode == 0:
            passed += 1
            print(f"ok      {block.where} ({block.kind})")
        else:
            failed += 1
            print(f"FAILED  {block.where} ({block.kind}): exit {proc.returncode}\n"
                  f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    # (worded unlike a test runner's summary: .ci/run's closing lines are pytest's)
    print(f"runnable docs: {failed} of {passed + failed} blocks failed" if failed
          else f"runnable docs: all {passed} blocks ran")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    raise SystemExit(main())
