"""``sluice demo`` / ``make demo``: the whole story on the retail example, on one laptop.

It copies ``examples/retail`` into a fresh workspace (``./sluice-demo`` by default) that stays
for you to explore, makes it a git repository and walks: release → deploy dev → promote
staging → a gate that needs approval → approval → promote prod; a bad batch of raw data in
staging whose audit fails (nothing is published, staging keeps serving good data); a second
release that recomputes only what changed; and a one-step rollback of prod.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from sluice.deploy import spark_driver
from sluice.deploy.deployer import AuditFailed, deploy
from sluice.errors import SluiceError
from sluice.examples import examples_root
from sluice.flow.gates import GateError, decide, promote, rollback
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace

EXAMPLE = examples_root() / "retail"
MARKER = ".sluice-demo"

console = Console()

# What the demo's closing lines suggest, run in the demo workspace; each must work
# (tests/docs/test_runnable_docs.py runs them all).
EXPLORE = (
    "sluice status",
    "sluice history",
    "sluice plan dev",
    "sluice datasets dev",
    "sluice show dev staging.orders --limit 5",
    "sluice quality check quality/orders.dqdl --env dev staging.orders",
    "sluice invoke dev revenue_alert --event '{\"glue_state\": \"FAILED\"}'",
    "sluice check",
)


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dana Engineer", "GIT_AUTHOR_EMAIL": "dana@example.com",
           "GIT_COMMITTER_NAME": "Dana Engineer", "GIT_COMMITTER_EMAIL": "dana@example.com"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def _fresh_workspace(dest: Path) -> Path:
    if dest.exists():
        if not (dest / MARKER).exists():
            raise SluiceError(f"{dest} exists and was not made by the demo",
                              tip="pass another folder: sluice demo --dir PATH")
        shutil.rmtree(dest)
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".sluice", "__pycache__"))
    (dest / MARKER).write_text("made by `sluice demo`; safe to delete\n")
    (dest / ".gitignore").write_text(".sluice/\n__pycache__/\n")
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "retail pipeline")
    return dest


class _Story:
    def __init__(self) -> None:
        self.n = 0
        self.started = time.perf_counter()

    def chapter(self, title: str) -> None:
        self.n += 1
        console.print()
        console.print(Text(f"{self.n}. {title}", style="bold cyan"))

    def ok(self, text: str) -> None:
        console.print(Text(f"   ✓ {text}", style="green"))

    def note(self, text: str) -> None:
        console.print(Text(f"   {text}", style="dim"))

    def bad(self, text: str) -> None:
        console.print(Text(f"   ✗ {text}", style="red"))


def _steps(story: _Story) -> Callable[[str, str], None]:
    def on_step(step: str, status: str) -> None:
        if status == "skipped":
            story.note(f"↷ {step} skipped: an upstream audit failed")
        elif status in {"done", "failed"} and step.startswith(("run:", "audit:", "publish")):
            (story.ok if status == "done" else story.bad)(step)

    return on_step


def _count(ws: Workspace, env: str, dataset: str) -> int:
    con: Any = ws.target(env).engine().con  # type: ignore[attr-defined]
    row = con.execute(f"SELECT COUNT(*) FROM {dataset}").fetchone()
    return int(row[0]) if row else 0


def run_demo(dest: Path) -> int:
    story = _Story()
    os.environ["SLUICE_USER"] = "dana"
    story.chapter(f"A pipeline repository: the retail example copied to {dest}")
    _fresh_workspace(dest)
    ws = Workspace.open(dest)
    # one Spark driver for the whole story: its five deploys would each start their own
    with spark_driver.shared():
        try:
            _tell(story, ws, dest)
        finally:
            ws.close()
    return 0


def _tell(story: _Story, ws: Workspace, dest: Path) -> None:
    """The story's chapters, each a real command of the library on the demo project."""
    story.note("raw orders (CSV), customers (JSON), products (CSV) → staging.orders "
               "(SQL), marts.customer_orders (SQL), marts.product_sales (Python), "
               "marts.daily_revenue (PySpark, local mode), marts.country_revenue (an AWS "
               "Glue script, run unmodified on sluice's awsglue runtime)")
    for env in ("dev", "staging", "prod"):
        shutil.copytree(dest / "data", ws.home / "envs" / env / "objects", dirs_exist_ok=True)
    story.ok("sample data loaded into each environment's object storage (objects/)")

    story.chapter("Build an immutable release from the git tree")
    first, _ = make_release(ws)
    story.ok(f"release {first.id}: {len(first.files)} files, {len(first.jobs)} jobs, "
             f"content-addressed in .sluice/artifacts")

    story.chapter("Deploy it to dev: write → audit → publish")
    deploy(ws, "dev", first.id, actor="dana", on_step=_steps(story))
    story.ok(f"dev serves staging.orders ({_count(ws, 'dev', 'staging.orders')} rows)")
    story.ok(f"the Glue job glue/country_revenue.py wrote marts.country_revenue "
             f"partitioned by country ({_count(ws, 'dev', 'marts.country_revenue')} "
             "countries), audited before it was published")

    story.chapter("Run the nightly Step Functions workflow locally")
    from sluice.flow.workflow_runs import run_local_workflow

    nightly = run_local_workflow(ws, "dev", "nightly", {"always_notify": True},
                                 fast_waits=True)
    done = nightly.execution
    story.ok(f"workflows/nightly.asl.json {done.status}: {' → '.join(done.states)}")
    story.ok("its Glue task re-ran country_revenue with write → audit → publish; its Lambda "
             f"task ran functions/revenue_alert.py: \"{done.output['check']['message']}\"; "
             "its SNS task answered from the workflow's mocks")

    story.chapter("Promote the same release to staging (never rebuilt)")
    promote(ws, "dev", "staging", on_step=_steps(story))
    story.ok(f"staging runs release {first.id}")

    story.chapter("Promote to prod: a protected environment")
    try:
        promote(ws, "staging", "prod")
    except GateError as exc:
        story.bad(f"gate: {exc.message}")
    os.environ["SLUICE_USER"] = "priya"
    decide(ws, "prod", None, approve=True, comment="numbers match finance")
    story.ok("approval recorded: priya approved the release for prod")
    os.environ["SLUICE_USER"] = "dana"
    promote(ws, "staging", "prod", on_step=_steps(story))
    story.ok(f"prod runs release {first.id}")

    story.chapter("A bad batch of raw orders lands in staging")
    good = _count(ws, "staging", "staging.orders")
    _generate_bad_batch(ws.home / "envs" / "staging" / "objects")
    try:
        deploy(ws, "staging", first.id, kind="run", actor="scheduler", force_all=True,
               on_step=_steps(story))
    except AuditFailed as exc:
        for audit in exc.audits:
            for line in audit.failures()[:3]:
                story.bad(line)
        now = _count(ws, "staging", "staging.orders")
        story.ok(f"nothing was published: staging.orders still serves {now} rows "
                 f"({good} before the bad batch)")

    story.chapter("A second release changes one job")
    sql = dest / "jobs" / "customer_orders.sql"
    # a comment alone would not count (fingerprints ignore comments): change the result
    sql.write_text(sql.read_text().replace("coalesce(sum(o.amount), 0) AS revenue",
                                           "round(coalesce(sum(o.amount), 0), 2) AS revenue"))
    _git(dest, "commit", "-q", "-am", "revenue rounded to cents")
    second, _ = make_release(ws)
    outcome = deploy(ws, "dev", second.id, actor="dana", on_step=_steps(story))
    reused = len(outcome.plan.jobs) - len(outcome.plan.recompute)
    story.ok(f"release {second.id}: recomputed {', '.join(outcome.plan.recompute)}; "
             f"reused {reused} unchanged jobs' data")
    promote(ws, "dev", "staging")
    os.environ["SLUICE_USER"] = "priya"
    decide(ws, "prod", None, approve=True, comment="rounding only")
    os.environ["SLUICE_USER"] = "dana"
    promote(ws, "staging", "prod")
    story.ok(f"prod runs release {second.id}")

    story.chapter("Roll prod back in one step")
    t0 = time.perf_counter()
    back = rollback(ws, "prod")
    story.ok(f"prod: {back.from_release} → {back.to_release} in "
             f"{(time.perf_counter() - t0) * 1000:.0f} ms, no data recomputed")

    story.chapter("Where things stand")
    _status(ws)
    console.print()
    spark = _pyspark_seconds(ws)
    console.print(Text(f"Done in {time.perf_counter() - story.started:.1f}s "
                       f"({spark:.1f}s of it in PySpark and Glue jobs, on one Spark "
                       "driver started once).",
                       style="bold"))
    console.print(Text(f"Explore it: cd {dest}", style="bold"), soft_wrap=True)
    for command in EXPLORE:
        console.print(Text(f"  {command}"), soft_wrap=True)


def _pyspark_seconds(ws: Workspace) -> float:
    """Time the demo spent in PySpark and Glue jobs (Spark in local mode)."""
    spark_jobs = {n for n, j in ws.config().jobs.items() if j.type in ("pyspark", "glue")}
    per_run = {(d.id, r.job): r.seconds or 0.0 for d in ws.state.deployments(limit=1000)
               for r in ws.state.job_runs(d.id) if r.job in spark_jobs}
    return sum(per_run.values())


def _generate_bad_batch(objects: Path) -> None:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import generate  # type: ignore[import-not-found]

        generate.generate(150, objects, bad=True)
    finally:
        sys.path.remove(str(EXAMPLE))
        sys.modules.pop("generate", None)


def _status(ws: Workspace) -> None:
    from sluice.cli.tables import status_view  # the table of `sluice status`, ids whole
    from sluice.flow.listings import status_records

    status_view(status_records(ws)).print(console)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else Path.cwd() / "sluice-demo"
    try:
        return run_demo(dest.resolve())
    except SluiceError as exc:
        console.print(Text(f"Error: {exc.message}", style="bold red"))
        if exc.tip:
            console.print(Text(f"Tip: {exc.tip}", style="cyan"))
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
