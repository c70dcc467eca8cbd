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
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_line, new_commit, retail_repository  # noqa: E402
from shared import ensure_project_python  # noqa: E402

GOAL_SECONDS = 1.0


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
    parser.add_argument("--smoke", action="store_true",
                        help="one repeat, to show the script works (its timings mean nothing)")
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 1
    os.environ["SLUICE_USER"] = "bench"
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
        os.environ.pop(name, None)

    from sluice.flow.gates import decide
    from sluice.project.workspace import Workspace
    from sluice.serve.executions import get_execution, logs, start_execution
    from sluice.serve.pipeline import Engine

    with tempfile.TemporaryDirectory(prefix="sluice-bench-serve-") as tmp:
        root = retail_repository(Path(tmp), "pipeline: {check: false, mode: queued}\n")
        engine = Engine(root, "bench", tick_seconds=0.25)
        stop = threading.Event()
        thread = threading.Thread(target=engine.run_forever, args=(stop,), daemon=True)
        thread.start()
        ws = Workspace.open(root)
        resume: list[float] = []
        start: list[float] = []
        try:
            for i in range(args.repeat):
                commit = new_commit(root, f"change {i}")
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
    results: dict[str, Any] = {"approval_to_resumed_step_s": resume,
                               "execution_to_first_stage_s": start}
    print(load_line())
    for name, values in results.items():
        print(f"{name:32} median {statistics.median(values):.3f}s  max {max(values):.3f}s  "
              f"{'PASS' if max(values) < GOAL_SECONDS else 'MISS'} (goal < {GOAL_SECONDS}s)")
    if args.json:
        results["smoke"] = args.smoke
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
