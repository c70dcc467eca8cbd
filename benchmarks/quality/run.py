"""sluice quality benchmark: the same 8 rules on one Parquet table, sluice against its peers.

    python benchmarks/quality/run.py [--rows N] [--repeat K] [--json FILE]

One command does everything (see benchmarks/README.md):
  1. generates the tables into benchmarks/.data/ when absent (generate.py, deterministic):
     a passing table of N rows and a table of 1.3*N rows on which every rule fails;
  2. creates a venv per peer under benchmarks/.venvs/<peer> on first run (pinned below);
  3. runs every contender K times, each run in a fresh subprocess, and takes the median of
     the load+check wall time that the subprocess reports, and the peak RSS of the
     subprocess (os.wait4 -> ru_maxrss);
  4. prints a table per scenario and the goal checks of the issue as PASS/MISS.

Scenarios: "pass, samples off" (the N-row table where every rule holds; nobody collects
failing rows) and "fail, samples on" (every rule fails; sluice and the peers collect
failing-row samples, the hand-written query stays the bare single SELECT it is compared to;
sluice also runs with samples off there, to show what the samples cost).

This script uses the standard library only; sluice, the hand-written query and the table
generator run in the project's venv (.venv at the repository root, else this interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shared import dist_versions

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
DATA_DIR = BENCH / ".data"
VENV_DIR = BENCH / ".venvs"
sys.path.insert(0, str(HERE))
from common import DEFAULT_ROWS, RULES, expected, fail_rows, row_bounds  # noqa: E402

# Peer venvs: what gets installed (exact pins that install on Python 3.11 here).
PEERS: dict[str, list[str]] = {
    "great_expectations": ["great-expectations==1.24.1", "pandas==3.1.1", "pyarrow==26.0.1"],
    "soda": ["soda-core-duckdb==3.5.6"],
    "pandera": ["pandera[polars]==0.35.0", "polars==2.1.0"],
}
# distributions whose versions go into the report
VERSIONS: dict[str, list[str]] = {
    "project": ["sluice", "duckdb", "sqlglot", "pyarrow"],
    "great_expectations": ["great-expectations", "pandas", "numpy", "pyarrow"],
    "soda": ["soda-core", "soda-core-duckdb", "duckdb"],
    "pandera": ["pandera", "polars"],
}


@dataclass(frozen=True)
class Contender:
    name: str
    script: str
    env: str  # "project" or a key of PEERS
    samples: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    table: str  # "pass" or "fail"
    contenders: tuple[Contender, ...]


HANDWRITTEN = "handwritten duckdb"


def scenarios() -> list[Scenario]:
    def peers(samples: bool) -> list[Contender]:
        return [
            Contender("great_expectations (pandas)", "great_expectations_pandas.py",
                      "great_expectations", samples),
            Contender("soda-core (duckdb)", "soda_duckdb.py", "soda", samples),
            Contender("pandera (polars)", "pandera_polars.py", "pandera", samples),
        ]

    return [
        Scenario("pass table, samples off", "pass", (
            Contender(HANDWRITTEN, "handwritten.py", "project", False),
            Contender("sluice", "sluice_dqdl.py", "project", False),
            *peers(False),
        )),
        Scenario("all-failing table, samples on", "fail", (
            Contender(HANDWRITTEN, "handwritten.py", "project", False),
            Contender("sluice", "sluice_dqdl.py", "project", True),
            Contender("sluice", "sluice_dqdl.py", "project", False),
            *peers(True),
        )),
    ]


@dataclass
class Run:
    seconds: float | None
    peak_rss_mb: float
    verdicts: dict[str, bool] | None
    error: str | None = None


@dataclass
class Outcome:
    scenario: str
    contender: str
    table: str
    samples: bool
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        secs = [r.seconds for r in self.runs if r.seconds is not None]
        return statistics.median(secs) if secs and len(secs) == len(self.runs) else None

    @property
    def best(self) -> float | None:
        secs = [r.seconds for r in self.runs if r.seconds is not None]
        return min(secs) if secs else None

    @property
    def peak_rss_mb(self) -> float:
        return max((r.peak_rss_mb for r in self.runs), default=0.0)

    @property
    def error(self) -> str | None:
        return next((r.error for r in self.runs if r.error), None)

    def wrong(self) -> list[str]:
        """Rules whose verdict differs from the expected one, in any run."""
        want = expected(self.table)
        bad: set[str] = set()
        for r in self.runs:
            if r.verdicts is not None:
                bad |= {k for k in RULES if r.verdicts.get(k) != want[k]}
        return [k for k in RULES if k in bad]


# ------------------------------------------------------------------ environments


def project_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def peer_python(peer: str) -> str:
    return str(VENV_DIR / peer / "bin" / "python")


def ensure_venv(peer: str) -> None:
    """Create benchmarks/.venvs/<peer> with its pins unless it already has exactly them."""
    venv = VENV_DIR / peer
    marker = venv / ".sluice-bench-requirements"
    wanted = "\n".join(PEERS[peer])
    if marker.exists() and marker.read_text() == wanted and Path(peer_python(peer)).exists():
        return
    print(f"creating venv {venv.relative_to(ROOT)} ({', '.join(PEERS[peer])}) ...", flush=True)
    if venv.exists():
        subprocess.run([project_python(), "-c", "import shutil,sys; shutil.rmtree(sys.argv[1])",
                        str(venv)], check=True)
    # the base interpreter of the project's venv (a venv made from a venv uses it)
    subprocess.run([project_python(), "-m", "venv", str(venv)], check=True)
    log = venv / "pip-install.log"
    with log.open("w") as fh:
        rc = subprocess.run([peer_python(peer), "-m", "pip", "install", "--upgrade", "pip"],
                            stdout=fh, stderr=subprocess.STDOUT).returncode
        rc = rc or subprocess.run([peer_python(peer), "-m", "pip", "install", *PEERS[peer]],
                                  stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc:
        tail = log.read_text().splitlines()[-15:]
        raise SystemExit(f"pip install for {peer} failed (see {log}):\n" + "\n".join(tail))
    marker.write_text(wanted)




def ensure_tables(rows: int) -> dict[str, Path]:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "import generate; generate.ensure_tables(Path(sys.argv[2]), int(sys.argv[3]))")
    subprocess.run([project_python(), "-c", code, str(HERE), str(DATA_DIR), str(rows)],
                   check=True)
    return {"pass": DATA_DIR / f"orders_pass_{rows}.parquet",
            "fail": DATA_DIR / f"orders_fail_{rows}.parquet"}


# ------------------------------------------------------------------ running


def run_once(c: Contender, data: Path, rows: int, timeout: float) -> Run:
    """One fresh subprocess: its reported load+check time and its own peak RSS."""
    lo, hi = row_bounds(rows)
    args = json.dumps({"data": str(data), "samples": c.samples, "rows_min": lo, "rows_max": hi})
    python = project_python() if c.env == "project" else peer_python(c.env)
    env = dict(os.environ, TQDM_DISABLE="1", GX_ANALYTICS_ENABLED="false",
               PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([python, str(HERE / "contenders" / c.script), args],
                                stdout=out, stderr=err, env=env, cwd=str(ROOT))
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return Run(None, usage.ru_maxrss / 1024, None, f"timed out after {timeout:.0f}s")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        detail = (stderr.strip() or stdout.strip())[-4000:]
        return Run(None, rss_mb, None, f"exit {proc.returncode}:\n{detail}")
    payload = json.loads(line[len("RESULT "):])
    return Run(payload["seconds"], rss_mb, payload["verdicts"])


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                    help=f"rows of the passing table (default {DEFAULT_ROWS:,})")
    ap.add_argument("--repeat", type=int, default=5, help="runs per contender (median)")
    ap.add_argument("--json", type=Path, help="also save the results to this file")
    ap.add_argument("--timeout", type=float, default=1800,
                    help="seconds before one run is killed (default 1800)")
    ap.add_argument("--only", nargs="*", metavar="NAME",
                    help="run only contenders whose name contains one of these "
                    "(the hand-written query always runs)")
    a = ap.parse_args(argv)

    wanted = [s for s in scenarios()]
    if a.only:
        wanted = [Scenario(s.name, s.table, tuple(
            c for c in s.contenders
            if c.name == HANDWRITTEN or any(o.lower() in c.name.lower() for o in a.only)))
            for s in wanted]
    peers = sorted({c.env for s in wanted for c in s.contenders if c.env != "project"})
    for peer in peers:
        ensure_venv(peer)
    tables = ensure_tables(a.rows)
    vers = {"project": dist_versions(project_python(), VERSIONS["project"])}
    vers.update({p: dist_versions(peer_python(p), VERSIONS[p]) for p in peers})

    print(f"\nsluice quality benchmark: {a.rows:,} rows (all-failing table "
          f"{fail_rows(a.rows):,}), 8 rules, median of {a.repeat} runs, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    for env, v in vers.items():
        print(f"  {env}: " + ", ".join(f"{k} {x}" for k, x in v.items()))

    outcomes: list[Outcome] = []
    for s in wanted:
        results = {c: Outcome(s.name, c.name, s.table, c.samples) for c in s.contenders}
        print(f"\n[{s.name}] {tables[s.table].name}", flush=True)
        # round-robin over the contenders so that drift of the machine hits all alike
        for i in range(a.repeat):
            for c in s.contenders:
                r = run_once(c, tables[s.table], a.rows, a.timeout)
                results[c].runs.append(r)
                shown = f"{r.seconds:.3f}s" if r.seconds is not None else "ERROR"
                label = c.name + (" +samples" if c.samples else "")
                print(f"  run {i + 1}/{a.repeat} {label:<38} {shown:>9} "
                      f"{r.peak_rss_mb:8.0f} MB", flush=True)
        outcomes.extend(results.values())

    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (over {os.cpu_count()} cores; "
          "other work on the machine makes the times noisy)")
    print_report(wanted, outcomes)
    goals = goal_checks(outcomes)
    print("\nGoal checks (issue):")
    for g in goals:
        print(f"  {'PASS' if g['ok'] else 'MISS'}  {g['goal']:<58} {g['actual']}")

    errors = [o for o in outcomes if o.error]
    for o in errors:
        print(f"\n{o.contender} [{o.scenario}] failed: {o.error}", file=sys.stderr)

    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({
            "rows": a.rows, "fail_rows": fail_rows(a.rows), "repeat": a.repeat,
            "cores": os.cpu_count(), "python": platform.python_version(), "versions": vers,
            "results": [{**{k: v for k, v in asdict(o).items() if k != "runs"},
                         "median_seconds": o.median, "best_seconds": o.best,
                         "peak_rss_mb": o.peak_rss_mb,
                         "ratio_vs_handwritten": ratio(outcomes, o),
                         "correct": not o.error and not o.wrong(), "wrong_rules": o.wrong(),
                         "runs": [asdict(r) for r in o.runs]} for o in outcomes],
            "goals": goals,
        }, indent=2))
        print(f"\nsaved {a.json}")
    return 1 if errors else 0


def find(outcomes: list[Outcome], table: str, contender: str,
         samples: bool | None = None) -> Outcome | None:
    """The outcome of ``contender`` on ``table``; samples on on the all-failing table."""
    if samples is None:
        samples = table == "fail" and contender != HANDWRITTEN
    return next((o for o in outcomes if o.table == table and o.contender == contender
                 and o.samples == samples), None)


def ratio(outcomes: list[Outcome], o: Outcome) -> float | None:
    base = find(outcomes, o.table, HANDWRITTEN, False)
    if base is None or base.median is None or o.median is None:
        return None
    return o.median / base.median


def print_report(wanted: list[Scenario], outcomes: list[Outcome]) -> None:
    for s in wanted:
        print(f"\n== {s.name} ==")
        print(f"{'contender':<38} {'median s':>9} {'best s':>7} {'vs hand-written':>16} "
              f"{'peak RSS MB':>12}  correct")
        for o in outcomes:
            if o.scenario != s.name:
                continue
            med = f"{o.median:.3f}" if o.median is not None else "ERROR"
            wrong = o.wrong()
            correct = "ERROR" if o.error else ("yes" if not wrong else "NO: " + ", ".join(wrong))
            label = o.contender + (" +samples" if o.samples else "")
            best = f"{o.best:.3f}" if o.best is not None else "-"
            print(f"{label:<38} {med:>9} {best:>7} {fmt_ratio(ratio(outcomes, o)):>16} "
                  f"{o.peak_rss_mb:>12.0f}  {correct}")


def goal_checks(outcomes: list[Outcome]) -> list[dict[str, object]]:
    def med(table: str, name: str) -> float | None:
        o = find(outcomes, table, name)  # pass: samples off; fail: samples on
        return None if o is None or o.error or o.wrong() else o.median

    goals: list[dict[str, object]] = []

    def add(goal: str, num: float | None, den: float | None, ok: object) -> None:
        if num is None or den is None:
            goals.append({"goal": goal, "ok": False, "value": None, "actual": "not measured"})
            return
        v = num / den
        goals.append({"goal": goal, "ok": bool(ok(v)), "value": v, "actual": f"{v:.2f}"})

    s_pass, h_pass = med("pass", "sluice"), med("pass", HANDWRITTEN)
    s_fail, h_fail = med("fail", "sluice"), med("fail", HANDWRITTEN)
    add("sluice / hand-written <= 1.2 (samples off)", s_pass, h_pass, lambda v: v <= 1.2)
    add("sluice / hand-written <= 1.5 (samples on, all rules fail)", s_fail, h_fail,
        lambda v: v <= 1.5)
    add("great_expectations / sluice >= 4 (samples off)",
        med("pass", "great_expectations (pandas)"), s_pass, lambda v: v >= 4)
    add("soda / sluice > 1 (samples off)", med("pass", "soda-core (duckdb)"), s_pass,
        lambda v: v > 1)
    add("pandera / sluice > 1 (samples off)", med("pass", "pandera (polars)"), s_pass,
        lambda v: v > 1)
    return goals


if __name__ == "__main__":
    sys.exit(main())
