"""sluice CLI start-up: `sluice --help`, `sluice --version` and `sluice status` against Python.

    python benchmarks/cli/run.py [--repeat N] [--smoke] [--json FILE]

Each command runs N times (default 21) in a fresh process, round-robin with the two peers
`python -c pass` (the interpreter alone) and `python -c "import duckdb"` (one heavy import), in
the same run. Reported: the median wall time of each, its ratio to both peers, the median CPU
time (user + system of the child: less sensitive to other work on the machine than wall time)
and the goals of issue 12: `--help` and `--version` at most 0.25 s, `status` at most 0.5 s
(wall, median). `status` runs in a small project prepared once, in-process and without Spark:
three environments (dev, staging live; prod protected, with an approval pending), two SQL jobs
over a CSV source. `--smoke` runs each command twice on the same project, to show the script
works; its timings mean nothing.

The commands run as the console script `sluice` of the interpreter's environment when there
is one, else as `python -m sluice.cli`, with this checkout's `src/` first on PYTHONPATH, with
bytecode caching on (as for an installed package) and one untimed warm-up run each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shared import ensure_project_python

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SRC = ROOT / "src"

GOALS = {"sluice --help": 0.25, "sluice --version": 0.25, "sluice status": 0.5}

PROJECT = """# the CLI benchmark's project: two SQL jobs, three environments
project: clibench
dialect: duckdb

sources:
  raw.orders:
    format: csv
    path: raw/orders.csv

datasets:
  staging.orders:
    contract:
      columns:
        order_id: {type: BIGINT, nullable: false}
        customer_id: {type: BIGINT, nullable: false}
        amount: {type: DOUBLE, nullable: false}
      primary_key: [order_id]
    rules: quality/orders.dqdl
  marts.customer_totals:
    contract:
      columns:
        customer_id: {type: BIGINT, nullable: false}
        orders: {type: BIGINT, nullable: false}
        revenue: {type: DOUBLE, nullable: false}
      primary_key: [customer_id]

jobs:
  orders:
    type: sql
    sql: jobs/orders.sql
    output: staging.orders
  customer_totals:
    type: sql
    sql: jobs/customer_totals.sql
    output: marts.customer_totals

environments:
  dev:
    target: {type: local}
  staging:
    target: {type: local}
  prod:
    target: {type: local}
    protection:
      approval_required: true
      auto_promote: false

promotion: [dev, staging, prod]
"""

FILES = {
    "sluice.yaml": PROJECT,
    "jobs/orders.sql": "SELECT CAST(order_id AS BIGINT) AS order_id,\n"
                       "       CAST(customer_id AS BIGINT) AS customer_id,\n"
                       "       CAST(amount AS DOUBLE) AS amount\nFROM raw.orders\n",
    "jobs/customer_totals.sql": "SELECT customer_id, count(*) AS orders, sum(amount) AS revenue\n"
                                "FROM staging.orders GROUP BY customer_id\n",
    "quality/orders.dqdl": 'Rules = [ RowCount > 0, IsUnique "order_id" ]\n',
    ".gitignore": ".sluice/\n",
}
ORDERS_CSV = "order_id,customer_id,amount\n" + "".join(
    f"{i},{i % 7},{(i * 37) % 500 / 10}\n" for i in range(1, 201))
GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def _say(text: str) -> None:
    print(text, flush=True)


def prepare_project(work: Path) -> Path:
    """The project, released, deployed to dev and promoted to staging (prod awaits approval)."""
    from sluice.deploy.deployer import deploy
    from sluice.flow.gates import promote
    from sluice.flow.releases import make_release
    from sluice.project.workspace import Workspace

    repo = work / "clibench"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                       env={**os.environ, **GIT_ENV})
    objects = work / "objects"  # what `sluice load ENV objects` copies
    (objects / "raw").mkdir(parents=True)
    (objects / "raw" / "orders.csv").write_text(ORDERS_CSV)
    ws = Workspace.open(repo)
    try:
        manifest, _ = make_release(ws)
        for env in ("dev", "staging"):
            ws.target(env).load_objects(objects)
        deploy(ws, "dev", manifest.id, actor="bench")
        promote(ws, "dev", "staging")
    finally:
        ws.close()
    return repo


def sluice_argv() -> list[str]:
    """The `sluice` console script of this interpreter's environment, else `python -m`."""
    script = Path(sys.executable).parent / "sluice"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sluice.cli"]


def child_env() -> dict[str, str]:
    """This checkout's sources first; bytecode cached as for an installed package."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["NO_COLOR"] = "1"
    return env


def contenders(repo: Path) -> list[tuple[str, list[str], Path]]:
    sluice = sluice_argv()
    return [
        ("python -c pass", [sys.executable, "-c", "pass"], repo),
        ('python -c "import duckdb"', [sys.executable, "-c", "import duckdb"], repo),
        ("sluice --help", [*sluice, "--help"], repo),
        ("sluice --version", [*sluice, "--version"], repo),
        ("sluice status", [*sluice, "status"], repo),
    ]


def run_once(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run; a failing run stops the benchmark."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{err.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(repo: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """Every contender ``repeat`` times, round-robin, the starting one rotating each round."""
    env = child_env()
    items = contenders(repo)
    samples: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n, _, _ in items}
    for _, argv, cwd in items:  # warm-up: bytecode written, files in the page cache
        run_once(argv, cwd, env)
    for r in range(repeat):
        for name, argv, cwd in items[r % len(items):] + items[:r % len(items)]:
            wall, cpu = run_once(argv, cwd, env)
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
    return {name: {"argv": argv, "wall_s": s["wall"], "cpu_s": s["cpu"],
                   "median_s": statistics.median(s["wall"]), "min_s": min(s["wall"]),
                   "cpu_median_s": statistics.median(s["cpu"])}
            for (name, argv, _), s in zip(items, samples.values(), strict=True)}


def report(res: dict[str, Any]) -> bool:
    times = res["commands"]
    base = times["python -c pass"]["median_s"]
    duck = times['python -c "import duckdb"']["median_s"]
    print(f"\n{'command':<28}{'median':>9}{'best':>9}{'x pass':>9}{'x duckdb':>10}{'cpu':>8}")
    for name, t in times.items():
        print(f"{name:<28}{t['median_s']:>8.3f}s{t['min_s']:>8.3f}s{t['median_s'] / base:>8.1f}x"
              f"{t['median_s'] / duck:>9.2f}x{t['cpu_median_s']:>7.3f}s")
    print("\ngoals (median wall time):")
    ok = True
    for name, limit in GOALS.items():
        median = times[name]["median_s"]
        passed = median <= limit
        ok = ok and passed
        print(f"  {'PASS' if passed else 'MISS'}  {name} ≤ {limit:.2f} s: {median:.3f} s")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=21, help="runs of each command (default 21)")
    ap.add_argument("--smoke", action="store_true",
                    help="two runs each: shows that the script works, timings mean nothing")
    ap.add_argument("--json", type=Path, help="write every measurement to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = ap.parse_args(argv)
    ensure_project_python()
    for var in ("SLUICE_HOME", "SLUICE_STATE_URL"):  # everything lives in the temp folder
        os.environ.pop(var, None)
    os.environ["SLUICE_USER"] = "bench"
    repeat = 2 if args.smoke else args.repeat

    load_before = os.getloadavg()
    _say(f"sluice CLI start-up benchmark: {repeat} runs each, {os.cpu_count()} cores, "
         f"load {load_before[0]:.2f}, Python {platform.python_version()}")
    _say(f"sluice = {' '.join(sluice_argv())} (sources: {SRC})")
    work = Path(tempfile.mkdtemp(prefix="sluice-cli-bench-"))
    try:
        repo = prepare_project(work)
        res: dict[str, Any] = {"repeat": repeat, "smoke": args.smoke,
                               "commands": measure(repo, repeat)}
    finally:
        if args.keep:
            _say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    res["machine"] = {"cores": os.cpu_count(), "platform": platform.platform(),
                      "python": platform.python_version(), "load_before": load_before,
                      "load_after": load_after}
    ok = report(res)
    res["goals_pass"] = ok
    print(f"\nload average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          f"(1 min; {os.cpu_count()} cores)")
    if args.smoke:
        print("smoke run: two runs each, the timings above mean nothing")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
        print(f"wrote {args.json}")
    return 0 if ok or args.smoke else 1


if __name__ == "__main__":
    raise SystemExit(main())
