"""How fast the engine reacts: approval → first step of the resumed stage, and a new
execution → its first stage started (what a webhook's latency adds up to on the engine side).

    python benchmarks/serve/resume.py [--repeat N] [--json FILE]

Runs an Engine in a thread on a copy of examples/retail without its PySpark job (fast
deploys), in a temporary git repository; each repeat commits, starts an execution, waits
until it waits at prod's approval, approves (``flow.gates.decide``) and wakes the engine, as
the API does. Both latencies are measured between timestamps the state store recorded: the
approval's ``at`` and the first deployer step logged by ``promote:prod``; the execution's
``created_at`` and its first stage's ``started_at``. Goals of issue 13: both under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from shared import ensure_project_python  # noqa: E402

GOAL_SECONDS = 1.0


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True,
                          check=True).stdout


def _project(where: Path) -> Path:
    from tests.retail import copy_retail

    root = copy_retail(where / "retail", spark=False)
    with (root / "sluice.yaml").open("a", encoding="utf-8") as f:
        f.write("\npipeline: {check: false, mode: queued}\n")
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "bench")
    _git(root, "config", "user.email", "bench@example.com")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    for env in ("dev", "staging", "prod"):
        shutil.copytree(root / "data", root / ".sluice" / "envs" / env / "objects")
    return root


def _wait(probe: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)
    return found


def _if(value: Any, test: Any) -> Any:
    return value if test(value) else None


def main() -> None:
    ensure_project_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ["SLUICE_USER"] = "bench"
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
        os.environ.pop(name, None)

    from sluice.flow.gates import decide
    from sluice.project.workspace import Workspace
    from sluice.serve.executions import get_execution, logs, start_execution
    from sluice.serve.pipeline import Engine

    with tempfile.TemporaryDirectory(prefix="sluice-bench-serve-") as tmp:
        root = _project(Path(tmp))
        engine = Engine(root, "bench", tick_seconds=0.25)
        stop = threading.Event()
        thread = threading.Thread(target=engine.run_forever, args=(stop,), daemon=True)
        thread.start()
        ws = Workspace.open(root)
        resume: list[float] = []
        start: list[float] = []
        try:
            for i in range(args.repeat):
                with (root / "sluice.yaml").open("a", encoding="utf-8") as f:
                    f.write(f"# change {i}\n")
                _git(root, "commit", "-q", "-am", f"change {i}")
                commit = _git(root, "rev-parse", "HEAD").strip()
                eid = start_execution(ws, commit=commit, trigger="api", actor="bench")
                engine.wake()
                ex = _wait(lambda eid=eid: _if(get_execution(ws.state, eid),
                                               lambda e: e.stages[0].started_at))
                start.append((ex.stages[0].started_at - ex.created_at).total_seconds())
                ex = _wait(lambda eid=eid: _if(get_execution(ws.state, eid),
                                               lambda e: e.status == "waiting"))
                position = next(s.position for s in ex.stages if s.name == "promote:prod")
                record = decide(ws, "prod", ex.release_id, approve=True)
                engine.wake()
                first = _wait(lambda eid=eid, position=position: next(
                    (ln for ln in logs(ws.state, eid) if ln.position == position
                     and ln.line.startswith("  ✓ ")), None))
                resume.append((first.at - record.at).total_seconds())
                _wait(lambda eid=eid: get_execution(ws.state, eid).status == "succeeded"
                      or None)
        finally:
            ws.close()
            stop.set()
            thread.join()
    results = {"approval_to_resumed_step_s": resume, "execution_to_first_stage_s": start}
    for name, values in results.items():
        print(f"{name:32} median {statistics.median(values):.3f}s  max {max(values):.3f}s  "
              f"{'PASS' if max(values) < GOAL_SECONDS else 'MISS'} (goal < {GOAL_SECONDS}s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
