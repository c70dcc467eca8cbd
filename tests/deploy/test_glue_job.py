"""Glue jobs on the local target: a Glue script run as written inside write-audit-publish.

One project (built once for the module) goes through four deploys over daily files: the
first reads day 1, the second only day 2 (its bookmark), the third reads day 3, whose audit
fails (the bookmark stays), the fourth reads day 3 again. The script parses Glue's argv and
the run context file itself (no ``awsglue``), so this file tests what sluice gives a Glue
script; tests/deploy/test_glue_runtime_job.py runs scripts on sluice's awsglue runtime.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice.deploy.deployer import AuditFailed, deploy, plan_deploy
from sluice.deploy.jobs import JobError
from sluice.errors import SluiceError
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace
from sluice.targets.local.target import LocalTarget

TOKEN = "glue-tok-5f0c2a9e71"

CONFIG = """\
project: gluey
sources:
  raw.sales: {format: csv, path: sales/*.csv}
  raw.rates: {format: csv, path: rates.csv}
datasets:
  staging.rates:
    contract:
      columns: {currency: VARCHAR, to_eur: DOUBLE}
  curated.sales:
    contract:
      columns:
        store: VARCHAR
        amount_eur: DOUBLE
        country: VARCHAR
        token_seen: BOOLEAN
        token_on_cmdline: BOOLEAN
        day: VARCHAR
    rules: quality/sales.dqdl
jobs:
  rates:
    type: sql
    sql: jobs/rates.sql
    output: staging.rates
  sales:
    type: glue
    script: glue/sales.py
    inputs: [raw.sales, staging.rates]
    outputs: [curated.sales]
    arguments:
      --SOURCE_PATH: ${input:raw.sales}
      --RATES_PATH: ${input:staging.rates}
      --OUTPUT_PATH: ${output:curated.sales}
      --COUNTRY: ${country}
      --API_TOKEN: ${api_token}
      --job-bookmark-option: job-bookmark-enable
environments:
  dev:
    target: {type: local}
    parameters: {country: FR, api_token: "@TOKEN@"}
""".replace("@TOKEN@", TOKEN)

RATES_SQL = "SELECT currency, CAST(to_eur AS DOUBLE) AS to_eur FROM raw.rates\n"

RULES = 'Rules = [ ColumnValues "amount_eur" >= 0 ]\n'

# What a Glue script does with its argv, its catalog and its bookmark, written without
# awsglue: the run context file is the contract between sluice and any runtime.
SCRIPT = """\
import json
import os
import sys

from pyspark.sql import SparkSession, functions as F


def option(name):
    return sys.argv[sys.argv.index("--" + name) + 1]


context = json.load(open(os.environ["SLUICE_GLUE_CONTEXT"]))
marks = context["bookmarks"]
done = set(json.load(open(marks["state"]))["files"]) if marks["state"] else set()
source = option("SOURCE_PATH")
new = sorted(os.path.join(source, f) for f in os.listdir(source)
             if f.endswith(".csv") and os.path.join(source, f) not in done)
with open("/proc/self/cmdline", "rb") as fh:
    on_cmdline = option("API_TOKEN").encode() in fh.read()
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1").getOrCreate())
rates = spark.read.parquet(option("RATES_PATH"))
sales = spark.read.option("header", True).csv(new)
out = (sales.join(rates, "currency")
       .select("store", (F.col("amount").cast("double") * F.col("to_eur")).alias("amount_eur"),
               F.lit(option("COUNTRY")).alias("country"),
               F.lit(option("API_TOKEN") == "@TOKEN@").alias("token_seen"),
               F.lit(on_cmdline).alias("token_on_cmdline"), "day"))
out.write.partitionBy("day").parquet(option("OUTPUT_PATH"))
spark.stop()
with open(marks["pending"], "w") as fh:
    json.dump({"job": option("JOB_NAME"), "files": sorted(done | set(new))}, fh)
""".replace("@TOKEN@", TOKEN)

GIT_ENV = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, env=GIT_ENV, capture_output=True)


def commit_all(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


def day(objects: Path, date: str, rows: list[tuple[str, str, float]]) -> None:
    lines = ["day,store,currency,amount", *(f"{date},{s},{c},{a}" for s, c, a in rows)]
    (objects / "sales" / f"{date}.csv").write_text("\n".join(lines) + "\n")


def make_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / ".gitignore").write_text(".sluice/\n")
    _git(root, "init", "-q")
    commit_all(root, "init")
    return root


@contextmanager
def open_ws(root: Path) -> Iterator[Workspace]:
    ws = Workspace.open(root)
    try:
        yield ws
    finally:
        ws.close()


def sales_rows(ws: Workspace) -> list[tuple[object, ...]]:
    con = ws.target("dev").engine().con
    return con.execute("SELECT day, store, amount_eur, country, token_seen, token_on_cmdline "
                       "FROM curated.sales ORDER BY day, store").fetchall()


@dataclass
class Daily:
    root: Path
    first: list[tuple[object, ...]]
    second: list[tuple[object, ...]]
    audit_error: str
    state_after_failure: dict[str, object]
    late_error: str
    state_after_late_failure: dict[str, object]
    fourth: list[tuple[object, ...]]
    state: dict[str, object]
    staged_left: list[str]


def _refuse_activation(self: LocalTarget, release_id: str) -> None:
    raise SluiceError(f"activating {release_id} failed (test)")


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory, spark_runtime: None) -> Daily:
    saved = {k: os.environ.pop(k) for k in ("SLUICE_HOME", "SLUICE_STATE_URL")
             if k in os.environ}
    root = make_project(tmp_path_factory.mktemp("glue") / "gluey", {
        "sluice.yaml": CONFIG, "jobs/rates.sql": RATES_SQL, "glue/sales.py": SCRIPT,
        "quality/sales.dqdl": RULES})
    objects = root / ".sluice" / "envs" / "dev" / "objects"
    (objects / "sales").mkdir(parents=True)
    (objects / "rates.csv").write_text("currency,to_eur\nEUR,1.0\nUSD,0.5\n")
    day(objects, "2024-01-01", [("lyon", "EUR", 10.0), ("nice", "USD", 4.0)])
    marks = root / ".sluice" / "envs" / "dev" / "glue-bookmarks" / "sales.json"
    try:
        with open_ws(root) as ws:
            release, _ = make_release(ws)
            deploy(ws, "dev", release.id, actor="ann")
            first = sales_rows(ws)
            day(objects, "2024-01-02", [("lyon", "EUR", 7.0)])
            deploy(ws, "dev", release.id, actor="ann", kind="run", force_all=True)
            second = sales_rows(ws)
            state = json.loads(marks.read_text())
            day(objects, "2024-01-03", [("lyon", "EUR", -1.0)])
            with pytest.raises(AuditFailed) as failed:
                deploy(ws, "dev", release.id, actor="ann", kind="run", force_all=True)
            after_failure = json.loads(marks.read_text())
            assert state == after_failure
            day(objects, "2024-01-03", [("lyon", "EUR", 3.0)])
            # the catalog already points at the new version when activating fails: the
            # deploy is rolled back, so what its run read must be read again
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(LocalTarget, "activate_release", _refuse_activation)
                with pytest.raises(SluiceError) as late:
                    deploy(ws, "dev", release.id, actor="ann", kind="run", force_all=True)
            after_late_failure = json.loads(marks.read_text())
            deploy(ws, "dev", release.id, actor="ann", kind="run", force_all=True)
            fourth = sales_rows(ws)
        return Daily(root, first, second, str(failed.value), after_failure,
                     late.value.message, after_late_failure, fourth,
                     json.loads(marks.read_text()),
                     sorted(p.name for p in marks.parent.glob("*.pending.json")))
    finally:
        os.environ.update(saved)


@pytest.mark.spark
@pytest.mark.slow
def test_a_glue_job_writes_an_audited_partitioned_version(daily: Daily) -> None:
    # ${input:} of a file source is its folder, of a dataset its Parquet export; ${param}
    # substituted; the day partition folders came back as a column
    assert daily.first == [("2024-01-01", "lyon", 10.0, "FR", True, False),
                           ("2024-01-01", "nice", 2.0, "FR", True, False)]


@pytest.mark.spark
@pytest.mark.slow
def test_no_argument_value_is_on_the_command_line(daily: Daily) -> None:
    assert all(row[4] is True and row[5] is False for row in daily.first + daily.fourth)


@pytest.mark.spark
@pytest.mark.slow
def test_the_second_run_reads_only_the_new_day(daily: Daily) -> None:
    assert daily.second == [("2024-01-02", "lyon", 7.0, "FR", True, False)]
    assert daily.state_after_failure["job"] == "sales"
    assert [Path(str(f)).name for f in daily.state_after_failure["files"]] == [  # type: ignore[union-attr]
        "2024-01-01.csv", "2024-01-02.csv"]


@pytest.mark.spark
@pytest.mark.slow
def test_a_failed_audit_leaves_the_bookmark_so_the_day_is_read_again(daily: Daily) -> None:
    assert "curated.sales" in daily.audit_error
    assert daily.fourth == [("2024-01-03", "lyon", 3.0, "FR", True, False)]
    assert [Path(str(f)).name for f in daily.state["files"]] == [  # type: ignore[union-attr]
        "2024-01-01.csv", "2024-01-02.csv", "2024-01-03.csv"]
    assert daily.staged_left == []


@pytest.mark.spark
@pytest.mark.slow
def test_a_deploy_failing_after_the_catalog_swap_leaves_the_bookmark(daily: Daily) -> None:
    assert "failed (test)" in daily.late_error
    assert daily.state_after_late_failure == daily.state_after_failure


@pytest.mark.spark
@pytest.mark.slow
def test_deploy_reuses_an_unchanged_glue_job_and_recomputes_on_a_change(
        daily: Daily, tmp_path: Path) -> None:
    root = tmp_path / "gluey"
    shutil.copytree(daily.root, root, symlinks=True)

    def recomputed() -> list[str]:
        with open_ws(root) as ws:
            release, _ = make_release(ws)
            plan, _, _ = plan_deploy(ws, "dev", release, read_only=True)
            return plan.recompute

    assert recomputed() == []
    config = root / "sluice.yaml"
    config.write_text(config.read_text().replace("--COUNTRY: ${country}", "--COUNTRY: BE"))
    commit_all(root, "an argument changes")
    assert recomputed() == ["sales"]
    config.write_text(config.read_text().replace("--COUNTRY: BE", "--COUNTRY: ${country}"))
    script = root / "glue" / "sales.py"
    script.write_text(script.read_text() + "# the script changes\n")
    commit_all(root, "the script changes")
    assert recomputed() == ["sales"]


FAILING = """\
import sys

def options(argv):
    return dict(zip(argv[1::2], argv[2::2]))

args = options(sys.argv)
print(args["--NOT_GIVEN"])
"""

SILENT = "import sys\nassert '--OUTPUT_PATH' in sys.argv\n"


def _small_project(tmp_path: Path, script: str) -> Path:
    config = CONFIG.split("jobs:\n")[0].replace("    rules: quality/sales.dqdl\n", "")
    config += """\
jobs:
  sales:
    type: glue
    script: glue/sales.py
    inputs: [raw.sales]
    outputs: [curated.sales]
    arguments: {--OUTPUT_PATH: "${output:curated.sales}"}
environments:
  dev: {target: {type: local}}
"""
    root = make_project(tmp_path / "small", {"sluice.yaml": config, "glue/sales.py": script})
    objects = root / ".sluice" / "envs" / "dev" / "objects"
    (objects / "sales").mkdir(parents=True)
    day(objects, "2024-01-01", [("lyon", "EUR", 1.0)])
    return root


def _deploy_error(root: Path) -> JobError:
    with open_ws(root) as ws:
        release, _ = make_release(ws)
        with pytest.raises(JobError) as info:
            deploy(ws, "dev", release.id, actor="ann")
        assert ws.target("dev").catalog() == {}
    return info.value


# the scripts fail before starting Spark: no JVM, but the same launcher and argv file
def test_a_failing_script_is_named_with_its_line(tmp_path: Path, spark_runtime: None) -> None:
    error = _deploy_error(_small_project(tmp_path, FAILING))
    assert "job sales failed at glue/sales.py:7" in error.message
    assert "KeyError: '--NOT_GIVEN'" in error.message


def test_an_output_never_written_names_its_argument(tmp_path: Path,
                                                    spark_runtime: None) -> None:
    error = _deploy_error(_small_project(tmp_path, SILENT))
    assert "--OUTPUT_PATH (${output:curated.sales}) was never written" in error.message
    # the job's own advice reaches the user, before the command that reproduces the deploy
    assert error.tip is not None
    assert error.tip.startswith("write it to the path of that argument"), error.tip
    assert "--debug` reproduces this deployment" in error.tip


MISSING_ARGUMENT = """\
import sys
from awsglue.utils import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "COUNTRY", "OUTPUT_PATH"])
"""


def test_an_argument_the_script_asks_for_is_to_be_passed_in_sluice_yaml(
        tmp_path: Path, spark_runtime: None) -> None:
    error = _deploy_error(_small_project(tmp_path, MISSING_ARGUMENT))
    assert "the following arguments are required: --COUNTRY" in error.message
    assert error.tip is not None
    assert error.tip.startswith("pass --COUNTRY in jobs.sales.arguments of sluice.yaml"), \
        error.tip


def test_an_argument_the_script_misspells_is_named_beside_the_one_passed(
        tmp_path: Path, spark_runtime: None) -> None:
    script = MISSING_ARGUMENT.replace('"COUNTRY", "OUTPUT_PATH"', '"OUTPUT_PTH"')
    error = _deploy_error(_small_project(tmp_path, script))
    assert "the following arguments are required: --OUTPUT_PTH" in error.message
    assert error.tip is not None
    assert error.tip.startswith("sluice.yaml passes --OUTPUT_PATH (jobs.sales.arguments) but "
                                "glue/sales.py asks for --OUTPUT_PTH: rename one of them"), \
        error.tip
