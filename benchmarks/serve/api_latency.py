"""Latency of the API of a real ``sluice serve`` process: ``GET /api/status`` and
``/api/history`` with 10,000 history rows, and a webhook → its execution's first stage.

    python benchmarks/serve/api_latency.py [--requests N] [--state-url URL] [--json FILE]

Builds a copy of examples/retail without its PySpark job in a temporary git repository,
deploys its first release to dev, adds history rows (events) up to 10,000, starts
``sluice serve --port 0`` on loopback (on SQLite in ``.sluice/``, or on ``--state-url``, e.g.
a PostgreSQL database), then times N sequential requests of each listing from this process
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
import shutil
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
from shared import ensure_project_python  # noqa: E402

LISTING_GOAL_MS = 50.0
WEBHOOK_GOAL_S = 1.0
HISTORY_ROWS = 10_000
SECRET = "bench-secret"  # the benchmark's own webhook secret


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True,
                          check=True).stdout


def _project(where: Path) -> tuple[Path, str]:
    """The project, release 1 live in dev, the history filled; and an admin token."""
    from tests.retail import copy_retail

    from sluice.deploy.deployer import deploy
    from sluice.flow.releases import make_release
    from sluice.project.workspace import Workspace
    from sluice.serve.tokens import issue_token
    from sluice.state.rows import insert_event

    root = copy_retail(where / "retail", spark=False)
    with (root / "sluice.yaml").open("a", encoding="utf-8") as f:
        f.write("\npipeline: {check: false, mode: queued}\n"
                "access: {users: {bench: {roles: [admin]}}}\n")
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "bench")
    _git(root, "config", "user.email", "bench@example.com")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    for env in ("dev", "staging", "prod"):
        shutil.copytree(root / "data", root / ".sluice" / "envs" / env / "objects")
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


def main() -> None:
    ensure_project_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pushes", type=int, default=3)
    parser.add_argument("--state-url", help="a state store URL (default: SQLite in .sluice)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_SERVER", "SLUICE_TOKEN"):
        os.environ.pop(name, None)
    os.environ["SLUICE_USER"] = "bench"
    if args.state_url:
        os.environ["SLUICE_STATE_URL"] = args.state_url
    import httpx

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
                for path in ("/api/status", "/api/history?limit=30",
                             "/api/history?env=dev&limit=30"):
                    http.get(path).raise_for_status()  # warm: the first parse of sluice.yaml
                    times = []
                    for _ in range(args.requests):
                        began = time.perf_counter()
                        http.get(path).raise_for_status()
                        times.append((time.perf_counter() - began) * 1000)
                    results[path] = {"p50_ms": statistics.median(times),
                                     "p95_ms": _percentile(times, 0.95)}
                pushes = []
                for i in range(args.pushes):
                    with (root / "sluice.yaml").open("a", encoding="utf-8") as f:
                        f.write(f"# push {i}\n")
                    _git(root, "commit", "-q", "-am", f"push {i}")
                    body, headers = _push(_git(root, "rev-parse", "HEAD").strip(), f"b{i}")
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
    store = "postgresql" if args.state_url else "sqlite"
    for path, r in results.items():
        if path.startswith("/"):
            verdict = "PASS" if r["p95_ms"] < LISTING_GOAL_MS else "MISS"
            print(f"{store:10} GET {path:34} p50 {r['p50_ms']:6.1f} ms  p95 "
                  f"{r['p95_ms']:6.1f} ms  {verdict} (goal p95 < {LISTING_GOAL_MS:g} ms)")
    pushes = results["webhook_to_execution_started_s"]
    print(f"{store:10} webhook → execution started   max {max(pushes):.3f} s  "
          f"{'PASS' if max(pushes) < WEBHOOK_GOAL_S else 'MISS'} (goal < {WEBHOOK_GOAL_S:g} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
