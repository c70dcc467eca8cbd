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
import resource
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
