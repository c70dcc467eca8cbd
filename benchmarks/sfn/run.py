"""Local Step Functions executions: state transitions, and a Map over a Lambda function.

    python benchmarks/sfn/run.py [--transitions N] [--items M] [--repeat K] [--json FILE] [--smoke]

1. **Transitions.** A loop of a Choice and a Pass state (``States.MathAdd`` counting up)
   run until N transitions, K times; goal of issue 15: 10,000 transitions in < 1 s (median).
2. **Map over a Lambda function.** M items through an inline Map with MaxConcurrency 10
   whose only state invokes a trivial handler of a project (``lambda:invoke``, the project's
   function run in warm processes of its own, as ``sluice run ENV --workflow`` does).
   Peers, side by side in this run: the same handler called M times in a plain Python loop
   in this process, and invoked M times one after the other through one warm process.
   Reported as items/s and the ratios. The function's processes start before the timing
   (a first Map over 50 items), as Lambda's sandboxes are warm in a steady workload.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from shared import ensure_project_python, load_line  # noqa: E402

GOAL_SECONDS = 1.0
GOAL_TRANSITIONS = 10_000
HANDLER = "def handler(event, context):\n    return {'doubled': event['n'] * 2}\n"
CONFIG = """\
project: bench
functions:
  double: {code: functions/double.py, handler: double.handler}
workflows:
  fan: {definition: workflows/fan.json}
environments:
  dev: {target: {type: local}}
"""


def loop_definition(transitions: int) -> dict[str, Any]:
    # Init, then (Check, Inc) per count, then Check and Done: 2 * count + 3 transitions
    count = (transitions - 3) // 2
    return {"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.i", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.i", "NumericGreaterThanEquals": count, "Next": "Done"}],
            "Default": "Inc"},
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"},
                "Next": "Check"},
        "Done": {"Type": "Succeed"}}}


def map_definition() -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 10,
        "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "double", "Payload": {"n.$": "$"}},
            "OutputPath": "$.Payload", "End": True}}},
        "End": True}}}


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> int:
    ensure_project_python()
    from sluice.config import load_project
    from sluice.workflows.clock import VirtualClock
    from sluice.workflows.functions import FunctionPool
    from sluice.workflows.interpreter import run_definition
    from sluice.workflows.local import Project, ProjectResources, run_workflow_definition

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transitions", type=int, default=GOAL_TRANSITIONS)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.transitions, args.items, args.repeat = 1_001, 200, 1
    print(load_line())

    loop = loop_definition(args.transitions)
    seconds, done = timed(lambda: run_definition(loop, {}, clock=VirtualClock()), args.repeat)
    assert done.status == "SUCCEEDED", done.to_dict()
    per_10k = seconds * GOAL_TRANSITIONS / done.transitions
    verdict = "PASS" if per_10k < GOAL_SECONDS else "MISS"
    print(f"transitions: {done.transitions} in {seconds:.3f} s (median of {args.repeat}), "
          f"{done.transitions / seconds:,.0f}/s")
    print(f"  {verdict}  {GOAL_TRANSITIONS:,} transitions < {GOAL_SECONDS:.0f} s: "
          f"{per_10k:.3f} s")

    with tempfile.TemporaryDirectory(prefix="sluice-sfn-") as tmp:
        root = Path(tmp)
        for rel, text in {"sluice.yaml": CONFIG, "functions/double.py": HANDLER,
                          "workflows/fan.json": json.dumps(map_definition())}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        (root / "objects").mkdir()
        project = Project(load_project(root, environment="dev"), root, "dev", root / "objects",
                          lambda job: {})
        items = list(range(args.items))
        clock = VirtualClock()
        resources = ProjectResources(project, clock, pool_size=10)
        try:
            # the ten warm processes start once, outside the timing (Lambda's warm sandboxes)
            run_workflow_definition(project, "fan", {"items": list(range(50))}, resources,
                                    clock)
            map_seconds, fanned = timed(lambda: run_workflow_definition(
                project, "fan", {"items": items}, resources, clock), args.repeat)
            assert fanned.status == "SUCCEEDED", fanned.to_dict()
            assert fanned.output == [{"doubled": 2 * i} for i in items]
        finally:
            resources.close()
        sys.path.insert(0, str(root / "functions"))
        from double import handler  # type: ignore[import-not-found]

        plain_seconds, _ = timed(lambda: [handler({"n": i}, None) for i in items], args.repeat)
        with FunctionPool(resources.spec("double"), size=1) as pool:
            pool.invoke({"n": 0})
            warm_seconds, _ = timed(lambda: [pool.invoke({"n": i}) for i in items],
                                    args.repeat)
    rate = {name: args.items / s for name, s in (("map", map_seconds),
                                                 ("plain", plain_seconds),
                                                 ("warm", warm_seconds))}
    print(f"Map of {args.items:,} items, MaxConcurrency 10, lambda:invoke of a trivial "
          f"handler (median of {args.repeat}):")
    print(f"  sluice Map              {map_seconds:8.3f} s  {rate['map']:>12,.0f} items/s")
    print(f"  plain loop, in process  {plain_seconds:8.3f} s  {rate['plain']:>12,.0f} items/s"
          f"  (Map is {map_seconds / plain_seconds:,.0f}x slower: a process boundary per "
          "item)")
    print(f"  loop via one warm process {warm_seconds:6.3f} s  {rate['warm']:>12,.0f} items/s"
          f"  (Map / this = {map_seconds / warm_seconds:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps({
            "smoke": args.smoke, "transitions": done.transitions,
            "transition_seconds": seconds, "per_10k_seconds": per_10k,
            "items": args.items, "map_seconds": map_seconds, "plain_seconds": plain_seconds,
            "warm_loop_seconds": warm_seconds, "items_per_second": rate}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
