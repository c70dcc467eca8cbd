"""sluice AWS benchmark: deploying the components of a project with 50 Glue jobs and 10 Step
Functions state machines, concurrently against sequentially, and the API calls it makes.

    python benchmarks/aws/run.py [--jobs 50] [--workflows 10] [--repeat 3] [--latency-ms 40]

The goal (from the issue): uploads and API calls run concurrently within AWS's rate limits;
report the time against a sequential deploy, and the API write calls per deploy; a component
that did not change makes none.

1. Generates two releases of one project in a temporary folder: N ``pyspark`` jobs (each
   deployed as a Glue job, its script uploaded to S3 under a content-addressed key) and M
   workflows (state machines whose ASL runs five of the jobs through
   ``glue:startJobRun.sync``). Release b differs from release a in one workflow's definition.
2. Starts moto's server (``ThreadedMotoServer``) on 127.0.0.1 in a separate process, so that
   its request handling does not share the benchmark's GIL, with fake credentials.
3. Deploys with ``AwsComponents(target, role, workers=W).apply`` (what ``sluice deploy`` runs
   just before publish): ``--workers`` (8, the default of ``target.components()``) is the
   concurrent deploy, ``workers=1`` the sequential one. Every deploy uses a fresh
   ``AwsTarget`` (a fresh boto3 session, as a new ``sluice deploy`` process has) whose bucket
   already exists (``install_release`` makes it); only ``apply`` is timed. Scenarios, each
   ``--repeat`` times per mode, alternating which mode goes first:
   - first deploy: moto reset, every Glue job and state machine created, every script uploaded;
   - no-op redeploy of the same release: expected to make no write call;
   - one state machine changed (release b after a): expected UpdateStateMachine and
     UpdateStateMachineAlias for that one only; release a is re-deployed (untimed) after
     each run. moto has no Glue UpdateJob, so the change is to a workflow, not a script;
   - the first deploy again with simulated AWS latency: a botocore ``before-send`` hook sleeps
     ``--latency-ms`` per HTTP request (moto answers in about a millisecond, which hides what
     concurrency buys against AWS).
   API calls are counted with botocore's ``before-call`` event on every client of the
   session (an operation is a write unless its name starts with Get, List, Describe or Head),
   together with the most calls in flight at once and the clients the session created.
4. Prints the medians, the concurrent/sequential ratios, the calls per deploy by operation,
   and PASS/FAIL for: no-op deploy makes 0 writes; the one-change deploy makes only that
   state machine's writes; the concurrent first deploy is faster than the sequential one
   with simulated latency. Exit status 0 only when every check passes.

The script re-executes itself with the project's venv (.venv at the repository root) when
sluice is not importable from the interpreter that runs it.
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
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shared import ensure_project_python  # type: ignore[import-not-found]

if TYPE_CHECKING:
    from sluice.config import ProjectConfig

PROJECT = "awsbench"
ENV = "dev"
REGION = "eu-west-1"
BUCKET = "sluice-aws-bench"
ROLE = "arn:aws:iam::123456789012:role/exec"  # moto's default account
JOBS_PER_WORKFLOW = 5
READ_PREFIXES = ("Get", "List", "Describe", "Head")
CHANGED_WRITES = {"sfn:UpdateStateMachine": 1, "sfn:UpdateStateMachineAlias": 1}
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

# moto's server in its own process: prints its URL, serves until stdin closes
MOTO_CODE = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()
server.stop()
"""


def _say(text: str) -> None:
    print(text, flush=True)


def is_write(op: str) -> bool:
    """``service:Operation`` is a write unless the operation only reads."""
    return not op.split(":", 1)[1].startswith(READ_PREFIXES)


# --------------------------------------------------------------------------- the project

def job_name(i: int) -> str:
    return f"j{i:02d}"


def workflow_name(i: int) -> str:
    return f"wf{i:02d}"


def write_release(root: Path, jobs: int, workflows: int, changed: str | None) -> Path:
    """A project folder (what a release materialises): ``jobs`` pyspark jobs, ``workflows``
    state machines each running five jobs in a row; ``changed`` gets a different definition."""
    (root / "jobs").mkdir(parents=True)
    (root / "workflows").mkdir()
    lines = [f"# generated by benchmarks/aws/run.py: {jobs} Glue jobs, {workflows} workflows",
             f"project: {PROJECT}", "", "datasets:"]
    lines += [f"  marts.{job_name(i)}: {{description: written by Glue job {job_name(i)}}}"
              for i in range(1, jobs + 1)]
    lines += ["", "jobs:"]
    for i in range(1, jobs + 1):
        name = job_name(i)
        lines.append(f"  {name}: {{type: pyspark, script: jobs/{name}.py, "
                     f"outputs: [marts.{name}]}}")
        (root / "jobs" / f"{name}.py").write_text(
            f"# Glue job {name} (generated)\n"
            "from pyspark.sql import SparkSession\n\n"
            "spark = SparkSession.builder.getOrCreate()\n"
            f"spark.range({i * 1000}).write.mode('overwrite').parquet('s3://out/{name}/')\n")
    lines += ["", "workflows:"]
    for w in range(1, workflows + 1):
        name = workflow_name(w)
        lines.append(f"  {name}: {{definition: workflows/{name}.asl.json}}")
        steps = [job_name((w - 1) * JOBS_PER_WORKFLOW % jobs + k + 1)
                 for k in range(JOBS_PER_WORKFLOW)]
        states: dict[str, Any] = {}
        for k, job in enumerate(steps):
            states[f"Run {job}"] = {
                "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": job},  # a project job: resolved to the Glue job
                **({"Next": f"Run {steps[k + 1]}"} if k + 1 < len(steps) else {"End": True})}
        asl: dict[str, Any] = {"StartAt": f"Run {steps[0]}", "States": states}
        if name == changed:
            asl["Comment"] = "changed in release b"
        (root / "workflows" / f"{name}.asl.json").write_text(json.dumps(asl, indent=2) + "\n")
    lines += ["", "environments:", f"  {ENV}:", "    target:", "      type: aws",
              f"      region: {REGION}", f"      bucket: {BUCKET}",
              f"      execution_role: {ROLE}", ""]
    (root / "sluice.yaml").write_text("\n".join(lines))
    return root


# --------------------------------------------------------------------------- moto

@contextmanager
def moto_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", MOTO_CODE], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit(f"moto's server did not start (exit {proc.poll()})")
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def reset_moto(url: str) -> None:
    """An empty account: moto reset, then the execution role the components run as."""
    import boto3

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    iam = boto3.client("iam", endpoint_url=url, region_name=REGION)
    iam.create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument="{}")


# --------------------------------------------------------------------------- measuring

class Meter:
    """botocore event handlers on one boto3 session: API calls by operation, HTTP requests,
    calls in flight, clients created; ``latency_s`` sleeps before every HTTP request."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.clients: Counter[str] = Counter()
        self.sends = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def attach(self, boto_session: Any) -> None:
        """Register on the session: every client it creates afterwards copies the handlers
        (sluice creates its clients lazily, some of them inside the deploy's threads)."""
        events = boto_session.events
        events.register("creating-client-class", self._client)
        events.register("before-call", self._before_call)
        events.register("after-call", self._after_call)
        events.register("after-call-error", self._after_call)
        events.register("before-send", self._before_send)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.clients.clear()
            self.sends = self.max_in_flight = 0

    def _client(self, event_name: str, **_: Any) -> None:
        with self.lock:
            self.clients[event_name.rsplit(".", 1)[-1]] += 1

    def _before_call(self, event_name: str, model: Any, **_: Any) -> None:
        service = event_name.split(".")[1]  # before-call.<service id>.<Operation>
        with self.lock:
            self.calls[f"{service}:{model.name}"] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _after_call(self, **_: Any) -> None:
        with self.lock:
            self.in_flight -= 1

    def _before_send(self, **_: Any) -> None:
        with self.lock:
            self.sends += 1
        if self.latency_s:
            time.sleep(self.latency_s)  # simulated round trip to AWS; None: send as usual


@dataclass
class Deploy:
    scenario: str
    mode: str  # concurrent | sequential
    workers: int
    latency_ms: float
    seconds: float
    calls: dict[str, int]
    requests: int  # HTTP requests, retries included
    max_in_flight: int
    clients: dict[str, int]
    changed: list[str] = field(default_factory=list)  # kind:name of components not "none"
    journaled: int = 0

    @property
    def writes(self) -> dict[str, int]:
        return {op: n for op, n in self.calls.items() if is_write(op)}


def deploy(url: str, home: Path, cfg: ProjectConfig, release: Path, *, scenario: str,
           workers: int, latency_ms: float = 0.0) -> Deploy:
    """One ``AwsComponents.apply`` on a fresh target (a fresh boto3 session); timed."""
    from sluice.targets import create_target
    from sluice.targets.aws.components import AwsComponents
    from sluice.targets.aws.target import AwsTarget

    target = create_target("aws", ENV, home, region=REGION, bucket=BUCKET, endpoint_url=url,
                           execution_role=ROLE)
    assert isinstance(target, AwsTarget)
    meter = Meter(latency_ms / 1000.0)
    meter.attach(target.aws._boto())  # the session sluice's clients come from
    target.ensure_bucket()  # done by install_release in a real deploy: not measured
    meter.reset()
    components = AwsComponents(target, ROLE, workers=workers)
    journal: list[str] = []
    t0 = time.perf_counter()
    landed = components.apply(cfg, release, lambda step, detail: journal.append(step))
    seconds = time.perf_counter() - t0
    return Deploy(scenario, "sequential" if workers == 1 else "concurrent", workers,
                  latency_ms, seconds, dict(sorted(meter.calls.items())), meter.sends,
                  meter.max_in_flight, dict(sorted(meter.clients.items())),
                  sorted(f"{c.kind}:{c.name}" for c in landed if c.action != "none"),
                  len(journal))


# --------------------------------------------------------------------------- scenarios

FIRST, NOOP, CHANGE, FIRST_LATENCY = "first", "noop", "change", "first+latency"
TITLES = {FIRST: "1. first deploy", NOOP: "2. no-op redeploy", CHANGE: "3. one workflow changed",
          FIRST_LATENCY: "1. first deploy"}


def run_all(url: str, work: Path, args: argparse.Namespace) -> list[Deploy]:
    from sluice.config import load_project

    changed = workflow_name(min(5, args.workflows))
    rel_a = write_release(work / "release-a", args.jobs, args.workflows, None)
    rel_b = write_release(work / "release-b", args.jobs, args.workflows, changed)
    cfg_a = load_project(rel_a, environment=ENV)
    cfg_b = load_project(rel_b, environment=ENV)
    home = work / "home"
    modes = [args.workers, 1]
    out: list[Deploy] = []

    def rounds() -> Iterator[int]:
        for i in range(args.repeat):  # alternate which mode goes first
            yield from (modes if i % 2 == 0 else modes[::-1])

    def show(d: Deploy) -> Deploy:
        _say(f"      {d.mode:<10} {d.seconds:7.3f} s  {sum(d.writes.values()):4} writes "
             f"{sum(d.calls.values()):4} calls")
        return d

    _say(f"[1/4] first deploy of {args.jobs} Glue jobs + {args.workflows} state machines "
         f"(moto reset before each)")
    for workers in rounds():
        reset_moto(url)
        out.append(show(deploy(url, home, cfg_a, rel_a, scenario=FIRST, workers=workers)))
    _say("[2/4] no-op redeploy of the same release")
    for workers in rounds():
        out.append(show(deploy(url, home, cfg_a, rel_a, scenario=NOOP, workers=workers)))
    _say(f"[3/4] redeploy with one state machine ({changed}) changed; release a put back "
         "after each (untimed)")
    for workers in rounds():
        out.append(show(deploy(url, home, cfg_b, rel_b, scenario=CHANGE, workers=workers)))
        back = deploy(url, home, cfg_a, rel_a, scenario="revert", workers=args.workers)
        if back.changed != [f"workflow:{changed}"]:
            raise SystemExit(f"putting release a back changed {back.changed}")
    _say(f"[4/4] first deploy with simulated AWS latency: {args.latency_ms:g} ms slept per "
         "HTTP request")
    for workers in rounds():
        reset_moto(url)
        out.append(show(deploy(url, home, cfg_a, rel_a, scenario=FIRST_LATENCY,
                               workers=workers, latency_ms=args.latency_ms)))
    return out


# --------------------------------------------------------------------------- report

def _median(runs: list[Deploy]) -> float:
    return statistics.median(d.seconds for d in runs)


def _same_calls(runs: list[Deploy]) -> dict[str, int] | None:
    """The calls of every run when they are all the same, else None."""
    first = runs[0].calls
    return first if all(d.calls == first for d in runs) else None


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(runs: list[Deploy], args: argparse.Namespace) -> list[dict[str, Any]]:
    def pick(scenario: str, mode: str | None = None) -> list[Deploy]:
        return [d for d in runs if d.scenario == scenario and (mode is None or d.mode == mode)]

    changed = workflow_name(min(5, args.workflows))
    seq_first = pick(FIRST, "sequential")
    per_call_ms = statistics.median(
        1000 * d.seconds / sum(d.calls.values()) for d in seq_first)

    print()
    print(f"== deploying {args.jobs} Glue jobs + {args.workflows} Step Functions state machines "
          f"(AwsComponents.apply), median of {args.repeat} runs")
    print(f"   concurrent = workers={args.workers}, sequential = workers=1; one call to moto "
          f"takes ~{per_call_ms:.1f} ms end to end (sequential first deploy, client included)")
    head = (f"{'scenario':<28} {'latency':>9} {'mode':<11} {'median s':>9} {'min s':>7} "
            f"{'conc/seq':>8} {'writes':>6} {'calls':>6} {'in flight':>9}  clients made")
    print(head)
    print("-" * len(head))
    for scenario in (FIRST, NOOP, CHANGE, FIRST_LATENCY):
        conc, seq = pick(scenario, "concurrent"), pick(scenario, "sequential")
        ratio = _median(conc) / _median(seq)
        latency = f"{args.latency_ms:g} ms*" if scenario == FIRST_LATENCY else "none"
        for group in (conc, seq):
            d = group[0]
            writes = {sum(r.writes.values()) for r in group}
            calls = {sum(r.calls.values()) for r in group}
            services = sorted({s for r in group for s in r.clients})
            made = ", ".join(f"{s} {max(r.clients.get(s, 0) for r in group)}"
                             for s in services) or "-"
            print(f"{TITLES[scenario]:<28} {latency:>9} {d.mode:<11} {_median(group):>9.3f} "
                  f"{min(r.seconds for r in group):>7.3f} "
                  f"{(f'{ratio:.2f}x' if d.mode == 'concurrent' else ''):>8} "
                  f"{'/'.join(map(str, sorted(writes))):>6} "
                  f"{'/'.join(map(str, sorted(calls))):>6} "
                  f"{max(r.max_in_flight for r in group):>9}  {made}")
    print(f"   * SIMULATED latency: a botocore before-send hook sleeps {args.latency_ms:g} ms "
          "before every HTTP request; moto itself adds nothing")
    print("   conc/seq: median concurrent / median sequential (below 1: concurrency is faster); "
          "in flight: most API calls at once; clients made: boto3 clients the session created "
          "during the deploy (most in one run)")

    print()
    print("== API calls per deploy, by operation (the same in every run and mode unless "
          "marked)")
    scenarios = (FIRST, NOOP, CHANGE)
    per: dict[str, dict[str, int] | None] = {s: _same_calls(pick(s)) for s in scenarios}
    ops = sorted({op for d in runs if d.scenario in scenarios for op in d.calls},
                 key=lambda op: (not is_write(op), op))
    head = f"{'operation':<36} {'kind':<5} " + " ".join(f"{TITLES[s]:>24}" for s in scenarios)
    print(head)
    print("-" * len(head))
    for op in ops:
        cells = []
        for s in scenarios:
            same = per[s]
            if same is not None:
                cells.append(str(same.get(op, 0)))
            else:
                seen = sorted({d.calls.get(op, 0) for d in pick(s)})
                cells.append("/".join(map(str, seen)) + " (varies)")
        kind = "write" if is_write(op) else "read"
        print(f"{op:<36} {kind:<5} " + " ".join(f"{c:>24}" for c in cells))
    for label, pred in (("writes", True), ("all calls", None)):
        cells = []
        for s in scenarios:
            totals = sorted({sum(n for op, n in d.calls.items() if pred is None or is_write(op))
                             for d in pick(s)})
            cells.append("/".join(map(str, totals)))
        print(f"{'total ' + label:<36} {'':<5} " + " ".join(f"{c:>24}" for c in cells))

    print()
    print("notes:")
    print(f"  - the one-change scenario changes workflow {changed}'s definition, not a Glue "
          "script: moto has no Glue UpdateJob (a changed script would be s3:PutObject + "
          "glue:UpdateJob)")
    print("  - moto never throttles: the benchmark shows the concurrency cap (in flight <= "
          "workers), not behaviour under AWS's rate limits (botocore's adaptive retries)")
    print("  - each deploy uses a fresh AwsTarget, as a new `sluice deploy` process does; the "
          "bucket exists beforehand (install_release) and only apply() is timed")

    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "pass": ok, "detail": detail})

    # every job's script, and once sluice's Glue launcher (the ScriptLocation of every job)
    expected_first = {"s3:PutObject": args.jobs + 1, "glue:CreateJob": args.jobs,
                      "sfn:CreateStateMachine": args.workflows,
                      "sfn:CreateStateMachineAlias": args.workflows}
    bad = [d for d in pick(FIRST) + pick(FIRST_LATENCY) if d.writes != expected_first]
    check("first deploy creates every component and uploads every script (+ the launcher), "
          "nothing else",
          not bad, f"{sum(expected_first.values())} writes expected, got "
          + "/".join(sorted({str(sum(d.writes.values())) for d in pick(FIRST)})))
    noop = pick(NOOP)
    check("no-op deploy makes 0 write calls", all(not d.writes and not d.changed for d in noop),
          f"writes per run: {[sum(d.writes.values()) for d in noop]}")
    one = pick(CHANGE)
    check("one-change deploy makes only that component's writes "
          f"(UpdateStateMachine + UpdateStateMachineAlias of {changed})",
          all(d.writes == CHANGED_WRITES and d.changed == [f"workflow:{changed}"] for d in one),
          "writes per run: " + "; ".join(sorted({", ".join(f"{k} {v}" for k, v in
                                                          d.writes.items()) for d in one})))
    over = max(d.max_in_flight for d in runs)
    check(f"concurrency stays within the pool (at most {args.workers} calls in flight)",
          over <= args.workers and all(d.max_in_flight == 1 for d in runs
                                       if d.mode == "sequential"),
          f"most in flight: {over}")
    fast = _median(pick(FIRST_LATENCY, "concurrent"))
    slow = _median(pick(FIRST_LATENCY, "sequential"))
    check(f"concurrent first deploy faster than sequential (SIMULATED {args.latency_ms:g} ms "
          "latency)", fast < slow,
          f"{fast:.2f} s vs {slow:.2f} s: {slow / fast:.1f}x faster")
    print()
    print("== checks")
    for c in checks:
        print(f"  {_verdict(c['pass'])}  {c['check']}: {c['detail']}")
    return checks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=50, help="pyspark (Glue) jobs (default 50)")
    ap.add_argument("--workflows", type=int, default=10,
                    help="workflows (state machines; default 10)")
    ap.add_argument("--workers", type=int, default=8,
                    help="threads of the concurrent deploy (default 8, sluice's default)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per scenario and mode (median)")
    ap.add_argument("--latency-ms", type=float, default=40.0,
                    help="simulated AWS latency per HTTP request in the last scenario "
                         "(default 40)")
    ap.add_argument("--json", type=Path, help="write every measurement to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    if args.jobs < 1 or args.workflows < 1 or args.workers < 2 or args.repeat < 1:
        ap.error("--jobs, --workflows and --repeat must be at least 1, --workers at least 2")
    ensure_project_python()
    # fake credentials only: nothing here may reach a real account
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(FAKE_AWS)
    for var in ("NO_PROXY", "no_proxy"):
        os.environ[var] = ",".join(filter(None, [os.environ.get(var), "127.0.0.1"]))

    import boto3
    import moto

    started = time.perf_counter()
    load_before = os.getloadavg()
    _say(f"sluice AWS components benchmark: {args.jobs} Glue jobs, {args.workflows} state "
         f"machines, {os.cpu_count()} cores, load {load_before[0]:.2f}, Python "
         f"{platform.python_version()}, boto3 {boto3.__version__}, moto {moto.__version__}")
    work = Path(tempfile.mkdtemp(prefix="sluice-aws-bench-"))
    try:
        with moto_server() as url:
            _say(f"moto server at {url} (separate process)")
            runs = run_all(url, work, args)
    finally:
        if args.keep:
            _say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    checks = report(runs, args)
    load_after = os.getloadavg()
    elapsed = time.perf_counter() - started
    print(f"\nload average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"{elapsed:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps({
            "jobs": args.jobs, "workflows": args.workflows, "workers": args.workers,
            "repeat": args.repeat, "latency_ms": args.latency_ms,
            "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "boto3": boto3.__version__,
                        "moto": moto.__version__, "load_before": load_before,
                        "load_after": load_after},
            "runs": [{**asdict(d), "writes": d.writes} for d in runs],
            "checks": checks, "elapsed_s": elapsed}, indent=2))
        print(f"wrote {args.json}")
    return 0 if all(c["pass"] for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
