"""sluice check benchmark: a 200-job project checked in full, again with nothing changed, and
after a one-job change, side by side with ``dbt build`` on the equivalent dbt-duckdb project.

    python benchmarks/check/run.py [--jobs 200] [--repeat 3] [--json FILE]

1. Generates into a temporary folder (generate.py, deterministic): a sluice project in a git
   repository (N SQL jobs in six layers, a contract and a DQDL ruleset per dataset, CSV
   samples, pytest tests, a ruff.toml) and the dbt-duckdb project with the same models and
   the same tests. ``sluice check`` must pass on it before anything is timed.
2. Creates the dbt venv under benchmarks/.venvs/dbt on first run (pinned below). When dbt
   cannot be installed or run, says why and still reports the sluice numbers.
3. Measures, every time as the wall time of a subprocess:
   - a cold first ``sluice check`` on a fresh copy (no cache), and dbt's first build (no
     partial-parse cache), once each;
   - ``--repeat`` rounds of: ``sluice check --no-cache`` (full), ``sluice check`` right after
     (the no-op re-run), ``dbt build`` (dbt has no cache: each build does the full work);
   - ``--repeat`` one-job changes: an expression of one mid-graph job is changed (not
     committed), then ``sluice check`` (cache) and, after another edit, ``sluice check
     --changed-since HEAD``; dbt runs ``dbt build --select state:modified+ --state`` against
     the manifest of its full build (its "slim CI").
4. Prints tables with ratios and the goals of the issue as PASS/MISS: the no-op re-run under
   1 s, and the one-job change re-checking only that job and its downstream (the units that
   ran and the jobs the integration check recomputed, compared with the downstream computed
   from the generated graph).

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
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shared import dist_versions, ensure_project_python

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
DBT_VENV = BENCH / ".venvs" / "dbt"
# exact pins that install on Python 3.11 here (an unpinned dbt-core does not)
DBT_PINS = ["dbt-core==1.11.16", "dbt-duckdb==1.11.1"]
DBT_VERSIONS = ["dbt-core", "dbt-duckdb", "duckdb"]
NOOP_LIMIT_S = 1.0
TIMEOUT_S = 1800
ENV = "dev"  # the generated project's only environment: the integration check deploys to it
PER_SUBJECT = {"sql", "dqdl"}  # kinds with one unit per job or dataset
GIT_USER = (("user.name", "Bench"), ("user.email", "bench@example.com"))

sys.path.insert(0, str(HERE))
if TYPE_CHECKING:  # imported lazily: generate needs PyYAML, which the project's venv has
    from generate import Plan




def _say(text: str) -> None:
    print(text, flush=True)


def _median(values: list[float | None]) -> float | None:
    """The median, or None when any run failed (a partial median would flatter)."""
    if not values or any(v is None for v in values):
        return None
    return statistics.median(v for v in values if v is not None)


def _tail(text: str, lines: int = 12, width: int = 300) -> str:
    return "\n".join(line[:width] for line in text.strip().splitlines()[-lines:])


# ------------------------------------------------------------------ sluice


def _sluice_bin() -> str:
    beside = Path(sys.executable).with_name("sluice")
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "sluice")


def _sluice_env() -> dict[str, str]:
    # everything lives in the project's own .sluice; no CI annotations on stdout
    drop = {"SLUICE_HOME", "SLUICE_STATE_URL", "GITHUB_ACTIONS"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "SLUICE_USER": "bench"}


@dataclass
class SluiceRun:
    args: tuple[str, ...]
    wall: float
    code: int
    report: dict[str, Any] | None = None
    error: str | None = None
    integration_jobs: set[str] | None = None  # jobs the integration deploy recomputed

    @property
    def results(self) -> list[dict[str, Any]]:
        return self.report["results"] if self.report else []

    @property
    def ran(self) -> list[str]:
        """``kind:subject`` of every unit that ran (was not reused from the cache)."""
        return [f"{r['kind']}:{r['name']}" for r in self.results if not r["cached"]]

    @property
    def inner(self) -> float | None:
        return self.report["seconds"] if self.report else None

    def unit(self, kind: str) -> dict[str, Any] | None:
        return next((r for r in self.results if r["kind"] == kind), None)


def sluice_check(project: Path, *args: str) -> SluiceRun:
    cmd = [_sluice_bin(), "check", "--json", *args]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True,
                              env=_sluice_env(), timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return SluiceRun(args, time.perf_counter() - t0, -9,
                         error=f"`sluice check {' '.join(args)}` ran over {TIMEOUT_S} s")
    wall = time.perf_counter() - t0
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    run = SluiceRun(args, wall, proc.returncode, report)
    if report is None or proc.returncode != 0:
        run.error = (f"`sluice check --json {' '.join(args)}` in {project} exited "
                     f"{proc.returncode}:\n{_failures(report) or _tail(proc.stderr + proc.stdout)}")
    if report is not None:
        run.integration_jobs = _integration_jobs(project, run.unit("integration"))
    return run


def _failures(report: dict[str, Any] | None) -> str:
    lines = []
    for r in (report or {}).get("results", []):
        if r["status"] == "failed":
            lines.append(f"  {r['kind']}:{r['name']} failed: {r['detail']}")
            for f in r["findings"][:5]:
                where = ":".join(str(x) for x in (f["path"], f["line"], f["col"]) if x)
                lines.append(f"    {where} {f['message']}".rstrip())
    return "\n".join(lines)


def _integration_jobs(project: Path, unit: dict[str, Any] | None) -> set[str] | None:
    """The jobs that ran in the integration check's latest deployment (its own state store
    in .sluice/check/integration), or None when that cannot be read."""
    if unit is None:
        return None
    if unit["cached"]:
        return set()  # reused: no deployment ran
    from sluice.state import StateStore

    db = project / ".sluice" / "check" / "integration" / "state.db"
    if not db.is_file():
        return None
    store = StateStore(f"sqlite:///{db}")
    try:
        latest = store.deployments(ENV, limit=1)
        if not latest:
            return None
        return {r.job for r in store.job_runs(latest[0].id) if r.status.value == "succeeded"}
    except Exception:  # a changed state schema must not hide the timings
        return None
    finally:
        store.close()


def startup_wall() -> float | None:
    """Wall time of ``sluice --version``: interpreter start-up and the CLI's imports, the
    floor under any ``sluice`` command."""
    t0 = time.perf_counter()
    proc = subprocess.run([_sluice_bin(), "--version"], capture_output=True, env=_sluice_env())
    return time.perf_counter() - t0 if proc.returncode == 0 else None


# ------------------------------------------------------------------ dbt


def _dbt_bin() -> Path:
    return DBT_VENV / "bin" / "dbt"


def ensure_dbt() -> str | None:
    """Create benchmarks/.venvs/dbt with its pins unless it has them; None when ready,
    else why dbt is not available."""
    marker = DBT_VENV / ".sluice-bench-requirements"
    wanted = "\n".join(DBT_PINS)
    python = DBT_VENV / "bin" / "python"
    if marker.exists() and marker.read_text() == wanted and _dbt_bin().exists():
        return None
    _say(f"creating venv {os.path.relpath(DBT_VENV, ROOT)} ({', '.join(DBT_PINS)}) ...")
    if DBT_VENV.exists():
        shutil.rmtree(DBT_VENV)
    base = VENV_PY if VENV_PY.exists() else Path(sys.executable)
    proc = subprocess.run([str(base), "-m", "venv", str(DBT_VENV)], capture_output=True,
                          text=True)
    if proc.returncode:
        return f"cannot create {DBT_VENV}: {_tail(proc.stderr, 5)}"
    log = DBT_VENV / "pip-install.log"
    with log.open("w") as fh:
        rc = subprocess.run([str(python), "-m", "pip", "install", "--upgrade", "pip"],
                            stdout=fh, stderr=subprocess.STDOUT).returncode
        rc = rc or subprocess.run([str(python), "-m", "pip", "install", *DBT_PINS],
                                  stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc:
        return f"pip install {' '.join(DBT_PINS)} failed (see {log}):\n{_tail(log.read_text())}"
    marker.write_text(wanted)
    return None




@dataclass
class DbtRun:
    args: tuple[str, ...]
    wall: float
    code: int
    models: list[str] = field(default_factory=list)  # models built
    tests: int = 0  # data tests run
    statuses: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def nodes(self) -> int:
        return len(self.models) + self.tests


def dbt_build(project: Path, *args: str) -> DbtRun:
    results = project / "target" / "run_results.json"
    results.unlink(missing_ok=True)
    cmd = [str(_dbt_bin()), "build", "--project-dir", str(project), "--profiles-dir",
           str(project), *args]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=env,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return DbtRun(args, time.perf_counter() - t0, -9, error=f"ran over {TIMEOUT_S} s")
    run = DbtRun(args, time.perf_counter() - t0, proc.returncode)
    if results.is_file():
        data = json.loads(results.read_text())["results"]
        run.models = sorted(r["unique_id"].split(".")[-1] for r in data
                            if r["unique_id"].startswith("model."))
        run.tests = sum(r["unique_id"].startswith("test.") for r in data)
        run.statuses = dict(Counter(r["status"] for r in data))
    if proc.returncode != 0:
        run.error = f"`dbt build {' '.join(args)}` exited {proc.returncode}:\n" \
                    f"{_tail(proc.stdout + proc.stderr)}"
    return run


# ------------------------------------------------------------------ the projects


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_projects(work: Path, n_jobs: int, seed: int) -> tuple[Plan, Path, Path]:
    import generate

    p = generate.plan(n_jobs, seed)
    sluice_dir, dbt_dir = work / "sluice", work / "dbt"
    generate.write_sluice_project(p, sluice_dir)
    _git(sluice_dir, "init", "-q", "-b", "main")
    for key, value in GIT_USER:
        _git(sluice_dir, "config", key, value)
    _git(sluice_dir, "add", "-A")
    _git(sluice_dir, "commit", "-q", "-m", "generated project")
    # dbt reads the very CSV files that are sluice's check samples
    generate.write_dbt_project(p, dbt_dir, sluice_dir / "data", work / "dbt.duckdb")
    return p, sluice_dir, dbt_dir


def edit_job(p: Plan, sluice_dir: Path, dbt_dir: Path | None, job: str, bump: int) -> None:
    """Change one job's expression in both projects (compatibly: same columns and types)."""
    import generate

    generate.write_job(p, sluice_dir, job, bump)
    if dbt_dir is not None:
        generate.write_dbt_job(p, dbt_dir, job, bump)


# ------------------------------------------------------------------ measuring


def _show(label: str, run: SluiceRun | DbtRun) -> None:
    extra = ""
    if isinstance(run, SluiceRun) and run.report is not None:
        extra = (f"  {len(run.ran)}/{len(run.results)} units ran, "
                 f"{run.report['reused']} reused")
        if run.integration_jobs:
            extra += f", integration ran {len(run.integration_jobs)} jobs"
    elif isinstance(run, DbtRun) and not run.error:
        extra = f"  {len(run.models)} models, {run.tests} tests"
    status = "ERROR" if run.error else f"{run.wall:7.2f} s"
    _say(f"    {label:<46} {status}{extra}")


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"errors": [], "machine": {
        "cores": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "load_before": os.getloadavg()}}
    _say(f"[1/5] generating {args.jobs} jobs (sluice project + dbt-duckdb project)")
    p, sl, dbt = make_projects(work, args.jobs, args.seed)
    changed = p.pick_changed()
    expected = p.downstream(changed.name)
    res["graph"] = {"jobs": len(p.jobs), "changed": changed.name, "layer": changed.layer,
                    "kind": changed.kind, "downstream": sorted(expected),
                    "layers": dict(Counter(j.layer for j in p.jobs.values())),
                    "kinds": dict(Counter(j.kind for j in p.jobs.values()))}
    res["dbt_error"] = "skipped (--skip-dbt)" if args.skip_dbt else ensure_dbt()
    use_dbt = res["dbt_error"] is None
    res["versions"] = {"sluice": dist_versions(Path(sys.executable), ["sluice", "duckdb"])}
    if use_dbt:
        res["versions"]["dbt"] = dist_versions(DBT_VENV / "bin" / "python", DBT_VERSIONS)

    _say("[2/5] sluice check must pass on the generated project; first builds")
    verify = sluice_check(sl)
    _show("sluice check (verification, first run)", verify)
    res["verify"] = verify
    use_sluice = verify.error is None
    if not use_sluice:
        res["errors"].append(f"sluice check fails on the generated project: {verify.error}")
    if use_sluice:
        cold_dir = work / "sluice-cold"
        shutil.copytree(sl, cold_dir, ignore=shutil.ignore_patterns(".sluice"))
        res["sluice_cold"] = sluice_check(cold_dir)
        _show("sluice check, cold first run (fresh copy)", res["sluice_cold"])
        shutil.rmtree(cold_dir, ignore_errors=True)
    if use_dbt:
        res["dbt_cold"] = dbt_build(dbt)
        _show("dbt build, cold first run", res["dbt_cold"])
        if res["dbt_cold"].error:
            res["dbt_error"] = res["dbt_cold"].error
            use_dbt = False

    _say(f"[3/5] {args.repeat} rounds: sluice check --no-cache, sluice check (no-op), "
         "dbt build")
    res["full"], res["noop"], res["dbt_full"], startup = [], [], [], []
    for i in range(args.repeat):
        if use_sluice:
            res["full"].append(sluice_check(sl, "--no-cache"))
            _show(f"round {i + 1}: sluice check --no-cache", res["full"][-1])
            res["noop"].append(sluice_check(sl))
            _show(f"round {i + 1}: sluice check (no-op)", res["noop"][-1])
            startup.append(startup_wall())
            label = f"round {i + 1}: sluice --version (CLI start-up)"
            _say(f"    {label:<46} {_fmt(startup[-1], '7.2f')} s")
        if use_dbt:
            res["dbt_full"].append(dbt_build(dbt))
            _show(f"round {i + 1}: dbt build", res["dbt_full"][-1])
    res["startup"] = _median(startup)
    state = work / "dbt-state"  # the manifest of the unchanged project, for state:modified
    manifest = dbt / "target" / "manifest.json"
    if use_dbt and manifest.is_file():
        state.mkdir()
        shutil.copy2(manifest, state / "manifest.json")
    elif use_dbt:
        res["dbt_error"], use_dbt = f"dbt wrote no {manifest} to compare changes with", False

    _say(f"[4/5] {args.repeat} one-job changes of jobs/{changed.name}.sql "
         f"({len(expected)} jobs in it and its downstream)")
    res["one"], res["one_cs"], res["dbt_one"] = [], [], []
    for i in range(args.repeat):
        # each edit is new content, so no run can reuse a result cached by an earlier one
        edit_job(p, sl, dbt, changed.name, 2 * i + 1)
        if use_sluice:
            res["one"].append(sluice_check(sl))
            _show(f"change {i + 1}: sluice check", res["one"][-1])
            edit_job(p, sl, None, changed.name, 2 * i + 2)
            res["one_cs"].append(sluice_check(sl, "--changed-since", "HEAD"))
            _show(f"change {i + 1}: sluice check --changed-since HEAD", res["one_cs"][-1])
        if use_dbt:
            res["dbt_one"].append(dbt_build(dbt, "--select", "state:modified+", "--state",
                                            str(state)))
            _show(f"change {i + 1}: dbt build -s state:modified+", res["dbt_one"][-1])
    for run in [*res["full"], *res["noop"], *res["one"], *res["one_cs"], res.get("sluice_cold")]:
        if run is not None and run.error:
            res["errors"].append(run.error)
    for run in [*res["dbt_full"], *res["dbt_one"]]:
        if run.error:
            res["errors"].append(run.error)
    _say("[5/5] done")
    res["goals"] = goals(res)
    return res


# ------------------------------------------------------------------ judging


def one_job_verdict(run: SluiceRun, changed: str, expected: set[str]) -> tuple[bool, str]:
    """Did this run re-check only ``changed`` and its downstream? Per-job and per-dataset
    units that ran must concern those jobs, the changed job's SQL check must have run, and
    the integration check must have recomputed exactly those jobs."""
    if run.error or run.report is None:
        return False, "the run failed"
    nodes = expected | {f"marts.{j}" for j in expected} | {f"staging.{j}" for j in expected}
    subjects = [u.split(":", 1) for u in run.ran]
    outside = [f"{k}:{n}" for k, n in subjects if k in PER_SUBJECT and n not in nodes]
    problems = []
    if outside:
        problems.append(f"units outside the downstream ran: {', '.join(outside)}")
    if f"sql:{changed}" not in run.ran:
        problems.append(f"sql:{changed} did not run")
    jobs = run.integration_jobs
    if jobs is None:
        problems.append("the integration check's job runs could not be read")
    elif jobs != expected:
        extra, missing = sorted(jobs - expected), sorted(expected - jobs)
        problems.append(f"integration ran {len(jobs)} jobs (extra: {extra}, missing: {missing})")
    affected = (run.report.get("selection") or {}).get("affected")
    if affected is not None and {a for a in affected if "." not in a} != expected:
        problems.append(f"--changed-since selected jobs {sorted(affected)}")
    return not problems, "; ".join(problems)


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    noop = _median([r.wall if not r.error else None for r in res["noop"]])
    inner = _median([r.inner for r in res["noop"]])
    startup = res.get("startup")
    if noop is None:
        out.append({"goal": f"no-op re-run of sluice check < {NOOP_LIMIT_S:.0f} s",
                    "ok": False, "detail": "not measured"})
    else:
        out.append({"goal": f"no-op re-run of sluice check < {NOOP_LIMIT_S:.0f} s",
                    "ok": noop < NOOP_LIMIT_S,
                    "detail": f"{noop:.2f} s wall (median of {len(res['noop'])}); "
                              f"{inner:.2f} s inside the command; CLI start-up alone "
                              f"(sluice --version) {_fmt(startup)} s"})
    g = res["graph"]
    expected = set(g["downstream"])
    verdicts = [(f"{label} run {i + 1}", *one_job_verdict(r, g["changed"], expected))
                for label, runs in (("cached", res["one"]), ("--changed-since", res["one_cs"]))
                for i, r in enumerate(runs)]
    ok = bool(verdicts) and all(v[1] for v in verdicts)
    if not verdicts:
        detail = "not measured"
    elif ok:
        detail = (f"every run: per-job units ran only for {g['changed']} and its downstream, "
                  f"integration recomputed exactly the {len(expected)} jobs")
    else:
        detail = "; ".join(f"{name}: {why}" for name, good, why in verdicts if not good)
    out.append({"goal": "one-job change re-checks only that job and its downstream",
                "ok": ok, "detail": detail})
    return out


# ------------------------------------------------------------------ report


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def _walls(runs: list[Any]) -> float | None:
    return _median([r.wall if not r.error else None for r in runs])


def report(res: dict[str, Any], repeat: int) -> None:
    g = res["graph"]
    n = g["jobs"]
    full = _walls(res["full"])
    dbt_full = _walls(res["dbt_full"])
    dbt_cold = res.get("dbt_cold")
    cold = res.get("sluice_cold")
    ref = res["full"][0] if res["full"] else res["verify"]
    units = len(ref.results)
    dbt_nodes = f"{len(dbt_cold.models)} models + {dbt_cold.tests} data tests" \
        if dbt_cold is not None and not dbt_cold.error else "dbt not run"
    print()
    print(f"== 1. full check: {n} SQL jobs in 6 layers (sluice: {units} check units; dbt: "
          f"{dbt_nodes})")
    print(f"{'run':<52} {'wall s':>7} {'runs':>5}  {'vs dbt build':>12}")
    integ = _median([(r.unit("integration") or {}).get("seconds") for r in res["full"]])
    cold_wall = cold.wall if cold is not None and not cold.error else None
    dbt_cold_wall = dbt_cold.wall if dbt_cold is not None and not dbt_cold.error else None
    rows = [
        ("sluice check, cold first run (fresh copy, no cache)", cold_wall, int(bool(cold)),
         f"{_ratio(cold_wall, dbt_cold_wall)} (cold)"),
        ("sluice check --no-cache (full)", full, len(res["full"]), _ratio(full, dbt_full)),
        ("  its integration unit (deploy, run, audit all jobs)", integ, len(res["full"]),
         _ratio(integ, dbt_full)),
        ("dbt build, cold first run (no partial-parse cache)", dbt_cold_wall,
         int(bool(dbt_cold)), ""),
        ("dbt build, again (no cache: the full work each time)", dbt_full,
         len(res["dbt_full"]), _ratio(dbt_full, dbt_full)),
    ]
    for label, wall, runs, ratio in rows:
        if runs:
            print(f"{label:<52} {_fmt(wall):>7} {runs:>5}  {ratio:>12}")
    if res["full"] and not res["full"][0].error:
        by_kind: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        for r in res["full"][-1].results:
            by_kind[r["kind"]] += r["seconds"]
            counts[r["kind"]] += 1
        print(f"  sluice --no-cache, seconds by kind (last run, summed over its units; "
              f"they run in parallel\n  on {os.cpu_count()} workers): "
              + ", ".join(f"{k} {s:.2f} ({counts[k]})" for k, s in by_kind.most_common()))

    print()
    print(f"== 2. no-op re-run, right after a full run (goal: sluice check < "
          f"{NOOP_LIMIT_S:.0f} s)")
    print(f"{'run':<52} {'wall s':>7} {'inside s':>9} {'reused':>14}  ran again")
    noop = _walls(res["noop"])
    last = res["noop"][-1] if res["noop"] else None
    if last is not None and last.report is not None:
        print(f"{'sluice check':<52} {_fmt(noop):>7} "
              f"{_fmt(_median([r.inner for r in res['noop']])):>9} "
              f"{last.report['reused']:>6} / {len(last.results):<5}  "
              f"{', '.join(last.ran) or '-'}")
    print(f"{'sluice --version (CLI start-up floor)':<52} {_fmt(res.get('startup')):>7}")
    if dbt_full is not None:
        nodes = res["dbt_full"][-1].nodes
        print(f"{'dbt build again (dbt has no cache)':<52} {_fmt(dbt_full):>7} {'-':>9} "
              f"{0:>6} / {nodes:<5}  all {nodes}")
    print(f"  sluice no-op / dbt build again: {_ratio(noop, dbt_full)}; median of "
          f"{len(res['noop'])} runs; 'inside': the report's own seconds (no start-up)")

    print()
    exp = g["downstream"]
    print(f"== 3. one-job change: jobs/{g['changed']}.sql ({g['kind']}, layer {g['layer']} of "
          f"0-5), one expression changed,\n   not committed; it and its downstream: "
          f"{len(exp)} of {n} jobs")
    print(f"  {', '.join(exp)}")
    print(f"{'run':<52} {'wall s':>7} {'vs full':>8} {'units ran':>20} {'jobs run':>10}  "
          "as expected")
    for label, runs in (("sluice check (cache)", res["one"]),
                        ("sluice check --changed-since HEAD", res["one_cs"])):
        if not runs:
            continue
        wall = _walls(runs)
        last = runs[-1]
        sel = (last.report or {}).get("selection") or {}
        scope = f"{sel['units_selected']} selected" if sel else f"{len(last.results)}"
        jobs = "?" if last.integration_jobs is None else str(len(last.integration_jobs))
        verdicts = [one_job_verdict(r, g["changed"], set(exp))[0] for r in runs]
        print(f"{label:<52} {_fmt(wall):>7} {_ratio(wall, full):>8} "
              f"{f'{len(last.ran)} / {scope}':>20} {jobs:>4} / {n:<3}  "
              f"{'yes' if all(verdicts) else 'NO'}")
    if res["dbt_one"]:
        wall = _walls(res["dbt_one"])
        last = res["dbt_one"][-1]
        total = res["dbt_full"][-1].nodes if res["dbt_full"] else 0
        good = all(set(r.models) == set(exp) for r in res["dbt_one"])
        print(f"{'dbt build --select state:modified+ --state <base>':<52} {_fmt(wall):>7} "
              f"{_ratio(wall, dbt_full):>8} {f'{last.nodes} / {total} nodes':>20} "
              f"{len(last.models):>4} / {n:<3}  {'yes' if good else 'NO'}")
    if res["one"] and res["one"][-1].report:
        print(f"  sluice units that ran (cache): {', '.join(res['one'][-1].ran)}")
    if res["one_cs"] and res["one_cs"][-1].report:
        print(f"  sluice units that ran (--changed-since): {', '.join(res['one_cs'][-1].ran)}")
    print(f"  median of {repeat} changes each; 'vs full': against the same tool's full run "
          "(sluice --no-cache, dbt build).\n"
          "  graph, unit and integration are project-wide units (they read every SQL file or "
          "every\n  project file): any change re-runs them; the integration deploy then "
          "recomputes only the\n  changed job and its downstream. dbt's state:modified+ "
          "needs the manifest of an earlier\n  build (--state); sluice finds what changed "
          "by itself.")

    print()
    print("== goals")
    for goal in res["goals"]:
        print(f"  {'PASS' if goal['ok'] else 'MISS'}  {goal['goal']}: {goal['detail']}")
    print(f"  info  sluice check --no-cache / dbt build: {_ratio(full, dbt_full)} "
          f"({_fmt(full)} s vs {_fmt(dbt_full)} s)")
    if res["dbt_error"]:
        print(f"\ndbt not measured: {res['dbt_error']}")
    for e in res["errors"]:
        print(f"\nerror: {e}")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, SluiceRun | DbtRun):
        data = {k: v for k, v in vars(obj).items() if k != "report"}
        if isinstance(obj, SluiceRun):
            data["integration_jobs"] = sorted(obj.integration_jobs or [])
            data["ran"] = obj.ran
            if obj.report:
                data["report"] = {k: v for k, v in obj.report.items() if k != "results"}
        return data
    if isinstance(obj, set):
        return sorted(obj)
    return str(obj)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200, help="SQL jobs to generate (default 200)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each timed scenario; the median is reported (default 3)")
    ap.add_argument("--seed", type=int, default=None, help="generator seed")
    ap.add_argument("--skip-dbt", action="store_true", help="measure sluice only")
    ap.add_argument("--json", type=Path, help="write every measurement to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    ensure_project_python()
    import generate

    if args.seed is None:
        args.seed = generate.SEED
    load = os.getloadavg()[0]
    _say(f"sluice check benchmark: {args.jobs} jobs, median of {args.repeat}, "
         f"{os.cpu_count()} cores, load {load:.2f}, Python {platform.python_version()}")
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="sluice-check-bench-"))
    try:
        res = measure(args, work)
    finally:
        if args.keep:
            _say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for env, versions in res["versions"].items():
        _say(f"  {env}: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    res["machine"]["load_after"] = os.getloadavg()
    report(res, args.repeat)
    print(f"\nload average {load:.2f} before, {os.getloadavg()[0]:.2f} after "
          f"({os.cpu_count()} cores: other work on the machine makes the times noisy); "
          f"{time.perf_counter() - started:.0f} s in all")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2, default=_jsonable))
        print(f"wrote {args.json}")
    return 0 if all(g["ok"] for g in res["goals"]) and not res["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
