"""The Glue corpus: scripts in the styles of AWS's Glue documentation and samples, each a
mini project under corpus/ deployed to a local dev environment as written.

Every case pins its output twice: in the project (contracts and DQDL rules the deploy's
audit enforces) and here (the published data's exact columns and rows, read through the
environment's catalog). A case that passes ran its script unmodified on sluice's awsglue
runtime inside write-audit-publish.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice.deploy import spark_driver
from sluice.deploy.deployer import DeployOutcome, deploy
from sluice.deploy.jobs import JobError
from sluice.flow.releases import make_release
from sluice.project.workspace import Workspace

CORPUS = Path(__file__).with_name("corpus")
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "sluice.yaml").is_file())

_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
            "GIT_COMMITTER_NAME": "tester", "GIT_COMMITTER_EMAIL": "tester@example.com"}


@dataclass(frozen=True)
class Pin:
    """What one published dataset must hold: exactly ``columns`` (any order), and ``rows``
    from ``query`` (SQL over the environment's published datasets)."""

    dataset: str
    columns: frozenset[str]
    query: str
    rows: list[tuple[Any, ...]]


def pin(dataset: str, columns: str, query: str, rows: list[tuple[Any, ...]]) -> Pin:
    return Pin(dataset, frozenset(columns.split()), query, rows)


D, T = dt.date, dt.datetime

PINS: dict[str, list[Pin]] = {
    "legislators_history": [pin(
        "curated.legislator_history",
        "id name gender birth_date organization_id role start_date org_name classification",
        "SELECT id, organization_id, name, gender, org_name, role, start_date "
        "FROM curated.legislator_history ORDER BY id, organization_id",
        [("p1", "o1", "Ada Byron", "female", "Senate", "member", "2001-01-03"),
         ("p2", "o1", "Alan Mathison", "male", "Senate", "member", "2003-01-03"),
         ("p2", "o2", "Alan Mathison", "male", "House", "member", "2007-01-04"),
         ("p3", "o2", "Grace Brewster", "female", "House", "member", "2009-01-06")])],
    "legislators_relationalize": [
        pin("curated.persons", "id given_name family_name contact_ref",
            "SELECT p.id, p.given_name, p.family_name, c.position, c.kind, c.value "
            "FROM curated.persons p JOIN curated.person_contacts c "
            "ON c.contact_ref = p.contact_ref ORDER BY p.id, c.position",
            [("p1", "Ada", "Byron", 0, "email", "ada@example.org"),
             ("p1", "Ada", "Byron", 1, "twitter", "@ada"),
             ("p2", "Alan", "Mathison", 0, "email", "alan@example.org"),
             ("p3", "Grace", "Brewster", 0, "email", "grace@example.org")]),
        pin("curated.person_contacts", "contact_ref position kind value",
            "SELECT count(*), count(DISTINCT contact_ref) FROM curated.person_contacts",
            [(4, 3)])],
    "medicare_cleaning": [pin(
        "curated.medicare",
        "drg provider_id provider city state discharges avg_total_payments",
        "SELECT provider_id, drg, provider, city, state, discharges, avg_total_payments "
        "FROM curated.medicare ORDER BY provider_id",
        [(10001, "039 - EXTRACRANIAL PROCEDURES W/O CC/MCC", "RIVERBEND MEDICAL CENTER",
          "DOTHAN", "AL", 91, 5777.24),
         (10005, "039 - EXTRACRANIAL PROCEDURES W/O CC/MCC", "LAKESIDE GENERAL", "BOAZ", "AL",
          14, 5787.57),
         (10006, "057 - DEGENERATIVE NERVOUS SYSTEM DISORDERS W/O MCC",
          "NORTH SHOALS HOSPITAL", "FLORENCE", "AL", 24, 5434.95),
         (10011, "069 - TRANSIENT ISCHEMIA", "EASTSIDE REGIONAL", "BIRMINGHAM", "AL", 25,
          4468.04),
         (10016, "069 - TRANSIENT ISCHEMIA", "VALLEY BAPTIST MEDICAL", "ALABASTER", "AL", 18,
          4231.95)])],
    "sales_partitioned": [pin(
        "curated.sales", "order_id order_date region amount year month",
        "SELECT year, month, count(*), round(sum(amount), 2), min(order_date) "
        "FROM curated.sales GROUP BY year, month ORDER BY year, month",
        [(2024, 1, 3, 245.75, D(2024, 1, 5)), (2024, 2, 3, 315.74, D(2024, 2, 2)),
         (2025, 1, 4, 108.51, D(2025, 1, 1))])],
    "clickstream_bookmarks": [pin(
        "curated.clicks", "event_id user_id page event_time",
        "SELECT event_id, user_id, page, event_time FROM curated.clicks ORDER BY event_id",
        [("e101", 1, "/", "2026-12-01T08:00:00Z"), ("e102", 2, "/pricing", "2026-12-01T09:30:00Z"),
         ("e103", 1, "/docs", "2026-12-01T10:15:00Z"), ("e201", 3, "/", "2026-12-02T07:45:00Z"),
         ("e202", 2, "/signup", "2026-12-02T11:05:00Z")])],
    "studio_orders_mapping": [pin(
        "curated.orders", "order_id customer quantity unit_price status",
        "SELECT order_id, customer, quantity, unit_price, status FROM curated.orders "
        "ORDER BY order_id",
        [(5001, "Smith; J.", 2, 9.5, "shipped"), (5002, "O'Neil", 1, 45.0, "placed"),
         (5003, "Ng", 5, 3.2, "delivered"), (5004, "Dupont, M.", 3, 12.0, "shipped"),
         (5005, "Ng", 4, 7.25, "placed"), (5006, "Smith; J.", 2, 26.5, "cancelled")])],
    "studio_select_dropnull": [pin(
        "curated.eu_customers", "id name email country",
        "SELECT id, name, email, country FROM curated.eu_customers ORDER BY id",
        [(1, "Anna", "anna@example.de", "DE"), (2, "Bruno", "bruno@example.fr", "FR"),
         (4, "Dieter", None, "DE"), (6, "Fabien", "fabien@example.fr", "FR"),
         (7, "Greta", "greta@example.de", "DE")])],
    "getsink_catalog_update": [pin(
        "curated.stores", "store_id name opened sqm country",
        "SELECT store_id, name, country, opened, sqm FROM curated.stores ORDER BY store_id",
        [(11, "Gamla Stan", "SE", D(2012, 3, 1), 900),
         (12, "Sodermalm", "SE", D(2015, 6, 15), 1200),
         (13, "Malmo Hamn", "SE", D(2019, 9, 9), 1500),
         (21, "Aker Brygge", "NO", D(2016, 4, 20), 1100),
         (22, "Bergen Sentrum", "NO", D(2021, 11, 11), 800),
         (31, "Stroget", "DK", D(2010, 1, 4), 1800)])],
    "spark_sql_totals": [pin(
        "marts.customer_totals", "customer orders revenue",
        "SELECT customer, orders, revenue FROM marts.customer_totals ORDER BY customer",
        [("acme", 2, 150.0), ("globex", 1, 12.5), ("initech", 2, 102.0)])],
    "map_filter_functions": [pin(
        "curated.adult_members", "id full_name age bracket city",
        "SELECT id, full_name, age, bracket, city FROM curated.adult_members ORDER BY id",
        [(1, "Maria Silva", 36, "35-64", "Lisbon"), (3, "Chen Wei", 68, "65+", "Taipei"),
         (4, "Ines Costa", 51, "35-64", None), (5, "Lukas Meyer", 18, "18-34", "Graz"),
         (7, "Omar Haddad", 43, "35-64", "Amman")])],
    "split_pii": [
        pin("secure.customer_pii", "customer_id email phone",
            "SELECT customer_id, email, phone FROM secure.customer_pii ORDER BY customer_id",
            [(1, "kim@example.org", "+1 555 0101"), (2, "lee@example.org", None),
             (3, "mo@example.org", "+44 20 7946 0000"), (4, "noor@example.org", None)]),
        pin("public.customer_profiles", "segment country lifetime_value",
            "SELECT country, segment, lifetime_value FROM public.customer_profiles "
            "ORDER BY country",
            [("AE", "business", 700.0), ("GB", "retail", 49.5), ("KR", "business", 980.5),
             ("US", "retail", 120.0)])],
    "json_multiline_nested": [pin(
        "curated.signups", "event_id kind plan seats",
        "SELECT event_id, kind, plan, seats FROM curated.signups ORDER BY event_id",
        [(1, "signup", "free", 1), (2, "signup", "team", 10), (3, "upgrade", "team", 5),
         (4, "signup", "enterprise", 50), (5, "signup", "free", 1)])],
    "csv_pipe_to_csv": [pin(
        "curated.low_stock", "sku warehouse on_hand reorder_level",
        "SELECT sku, warehouse, on_hand, reorder_level FROM curated.low_stock "
        "ORDER BY sku, warehouse",
        [("A-100", "south", 4, 50), ("B-200", "north", 0, 25), ("C-300", "north", 3, 10)])],
    "chained_jobs": [
        pin("curated.orgs", "org_id org_name chamber",
            "SELECT org_id, org_name, chamber FROM curated.orgs ORDER BY org_id",
            [("o1", "Senate", "upper"), ("o2", "Assembly", "lower"), ("o3", "Council", "upper")]),
        pin("marts.org_members", "org_name chamber members",
            "SELECT org_name, chamber, members FROM marts.org_members ORDER BY org_name",
            [("Assembly", "lower", 3), ("Council", "upper", 2), ("Senate", "upper", 1)])],
    "unit_tested_script": [pin(
        "marts.account_tiers", "account_id spend tier",
        "SELECT account_id, spend, tier FROM marts.account_tiers ORDER BY account_id",
        [("acc-1", 1500.0, "gold"), ("acc-2", 999.99, "standard"), ("acc-4", 1000.0, "gold"),
         ("acc-6", 0.0, "standard")])],
    "optional_args_purge": [pin(
        "curated.latest_readings", "sensor country reading taken_at",
        "SELECT sensor, country, reading, taken_at FROM curated.latest_readings "
        "ORDER BY taken_at",
        [("s2", "NL", 21.0, T(2026, 12, 2, 10)), ("s1", "NL", 22.0, T(2026, 12, 3, 10)),
         ("s2", "NL", 20.5, T(2026, 12, 4, 11))])],
    "resolve_choice_prices": [pin(
        "curated.products", "sku title price stock",
        "SELECT sku, title, price, stock FROM curated.products ORDER BY sku",
        [("K-1", "Kettle", 25.0, 10), ("K-2", "Teapot", 18.5, 7), ("M-1", "Mug", 4.75, 3),
         ("M-2", "Mug set", 16.0, None), ("P-1", "Press", 62.0, 7)])],
    "parquet_to_json": [pin(
        "ops.low_battery", "device firmware battery_pct site",
        "SELECT device, firmware, battery_pct, site FROM ops.low_battery ORDER BY device",
        [(102, "2.1", 15, "oslo"), (103, "1.9", 42, "bergen"), (104, "2.0", 9, "bergen")])],
}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **_GIT_ENV}, check=True,
                   capture_output=True)


def make_project(case: str, dest: Path) -> Path:
    """A committed copy of one case with its data/ in the dev environment's object store
    (later/ stays out: the bookmarks test adds it between two runs)."""
    root = dest / case
    shutil.copytree(CORPUS / case, root, ignore=shutil.ignore_patterns(
        "later", "__pycache__", ".sluice"))
    (root / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    shutil.copytree(root / "data", root / ".sluice" / "envs" / "dev" / "objects")
    return root


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG", "SLUICE_TEST_KILL_AT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_USER", "tester")


@pytest.fixture(scope="session")
def one_spark_driver() -> Iterator[None]:
    """One Spark driver for every deploy of the corpus: each deploy's own scope nests in this
    one, so Spark starts once for the whole corpus, not once per case."""
    with spark_driver.shared():
        yield


@pytest.fixture
def glue_project(request: pytest.FixtureRequest, tmp_path: Path, clean_env: None,
                 spark_runtime: None,
                 one_spark_driver: None) -> Iterator[tuple[Path, Workspace]]:
    root = make_project(request.param, tmp_path)
    ws = Workspace.open(root)
    try:
        yield root, ws
    finally:
        ws.close()


def deploy_release(ws: Workspace) -> DeployOutcome:
    manifest, _ = make_release(ws)
    return deploy(ws, "dev", manifest.id, actor="tester")


def assert_published(ws: Workspace, case: str, outcome: DeployOutcome) -> None:
    """Every job ran, every output was audited and passed, and the catalog serves them."""
    config = yaml.safe_load((CORPUS / case / "sluice.yaml").read_text(encoding="utf-8"))
    jobs = config["jobs"]
    outputs = {d for job in jobs.values() for d in job["outputs"]}
    assert sorted(outcome.plan.recompute) == sorted(jobs)
    failed = [a.summary() for a in outcome.audits if not a.passed]
    assert not failed, failed
    assert {a.dataset for a in outcome.audits} == outputs
    assert set(outcome.versions) == outputs
    live = ws.state.live("dev")
    assert live is not None and live.release_id == outcome.release_id
    catalog = ws.target("dev").catalog()
    assert {d: catalog.get(d) for d in outputs} == outcome.versions


def published_rows(ws: Workspace, query: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in ws.target("dev").engine().con.execute(query).fetchall()]


def published_columns(ws: Workspace, dataset: str) -> frozenset[str]:
    con = ws.target("dev").engine().con
    return frozenset(d[0] for d in con.execute(f"SELECT * FROM {dataset} LIMIT 0").description)


def test_the_corpus_has_fifteen_glue_projects_each_pinned() -> None:
    assert len(CASES) >= 15
    assert set(PINS) == set(CASES)
    for case in CASES:
        config = yaml.safe_load((CORPUS / case / "sluice.yaml").read_text(encoding="utf-8"))
        assert {j["type"] for j in config["jobs"].values()} == {"glue"}, case
        for name, ds in config["datasets"].items():  # each output: a contract and DQDL rules
            assert ds.get("contract") and ds.get("rules"), f"{case}: {name}"
            assert (CORPUS / case / ds["rules"]).is_file(), f"{case}: {ds['rules']}"
        pinned = {p.dataset for p in PINS[case]}
        assert pinned == set(config["datasets"]), case


@pytest.mark.spark
@pytest.mark.parametrize("glue_project", CASES, indirect=True)
def test_a_glue_script_deploys_unmodified_and_publishes_its_pinned_output(
        glue_project: tuple[Path, Workspace]) -> None:
    root, ws = glue_project
    outcome = deploy_release(ws)
    assert_published(ws, root.name, outcome)
    for p in PINS[root.name]:
        assert published_columns(ws, p.dataset) == p.columns, p.dataset
        assert published_rows(ws, p.query) == p.rows, p.dataset


@pytest.mark.spark
@pytest.mark.parametrize("glue_project", ["clickstream_bookmarks"], indirect=True)
def test_with_bookmarks_the_second_run_reads_only_the_new_daily_file(
        glue_project: tuple[Path, Workspace]) -> None:
    root, ws = glue_project
    first = deploy_release(ws)
    assert_published(ws, root.name, first)
    assert first.rows == {"curated.clicks": 5}

    shutil.copy(CORPUS / root.name / "later" / "clicks" / "2026-12-03.json",
                ws.home / "envs" / "dev" / "objects" / "clicks")
    manifest, _ = make_release(ws)
    second = deploy(ws, "dev", manifest.id, actor="tester", kind="run", force_all=True)
    assert second.plan.recompute == ["clicks"]
    assert all(a.passed for a in second.audits)
    assert second.versions["curated.clicks"] != first.versions["curated.clicks"]
    assert published_rows(ws, "SELECT event_id, user_id, page, event_time FROM curated.clicks "
                              "ORDER BY event_id") == [
        ("e301", 4, "/", "2026-12-03T06:10:00Z"), ("e302", 4, "/pricing", "2026-12-03T06:12:00Z"),
        ("e303", 5, "/docs", "2026-12-03T13:40:00Z"),
        ("e304", 1, "/signup", "2026-12-03T18:00:00Z")]


JDBC_LOAD = """
# the sample's last step: load every relational table into Redshift
for name in dfc.keys():
    glueContext.write_dynamic_frame.from_jdbc_conf(
        frame=dfc.select(name), catalog_connection="redshift-legislators",
        connection_options={"dbtable": name, "database": "legislators"},
        redshift_tmp_dir=args["TempDir"])
"""


@pytest.mark.spark
@pytest.mark.parametrize("glue_project", ["legislators_relationalize"], indirect=True)
def test_an_unsupported_glue_api_fails_the_deploy_naming_it_and_publishes_nothing(
        glue_project: tuple[Path, Workspace]) -> None:
    root, ws = glue_project
    script = root / "glue" / "relationalize_persons.py"
    script.write_text(script.read_text(encoding="utf-8") + JDBC_LOAD, encoding="utf-8")
    _git(root, "commit", "-qam", "load into redshift")
    with pytest.raises(JobError) as info:
        deploy_release(ws)
    message = info.value.message
    assert "write_dynamic_frame.from_jdbc_conf is not supported" in message, message
    assert "docs/glue.md" in message
    assert "glue/relationalize_persons.py:" in message  # where the script called it
    assert ws.target("dev").catalog() == {}
    assert ws.state.live("dev") is None


@pytest.mark.spark
def test_sluice_check_runs_the_scripts_own_tests_with_the_glue_context_fixture(
        tmp_path: Path, clean_env: None, spark_runtime: None) -> None:
    root = make_project("unit_tested_script", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "GITHUB_"))}
    proc = subprocess.run([sys.executable, "-m", "sluice.cli", "check", "--json"], cwd=root,
                          env={**env, **_GIT_ENV, "SLUICE_USER": "tester", "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=600, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    by_kind: dict[str, list[Any]] = {}
    for result in report["results"]:
        by_kind.setdefault(result["kind"], []).append(result)
    [unit] = by_kind["unit"]
    assert unit["status"] == "passed", unit
    assert sorted(c["name"] for c in unit["cases"]) == [
        "test_a_test_that_builds_its_own_glue_context",
        "test_only_active_accounts_are_kept_and_spend_is_typed",
        "test_the_gold_tier_starts_at_its_threshold"]
    assert {c["outcome"] for c in unit["cases"]} == {"passed"}
    [integration] = by_kind["integration"]  # the glue job on the sample data, audited
    assert integration["status"] == "passed", integration
    assert proc.returncode == 0 and report["passed"] is True, proc.stdout


@pytest.mark.spark
def test_the_integration_check_reads_every_sample_in_each_run_of_a_bookmarked_job(
        tmp_path: Path, clean_env: None, spark_runtime: None, one_spark_driver: None) -> None:
    """A check's bookmarks never carry over: after an edit, the bookmarked job runs on the
    samples again and reads them all (not 'no new files', an empty output)."""
    from sluice.check.context import CheckOptions
    from sluice.check.registry import all_checks
    from sluice.check.runner import run_checks

    root = make_project("clickstream_bookmarks", tmp_path)
    options = CheckOptions(only=frozenset({"integration"}))

    def integration() -> Any:
        report = run_checks(root, root / ".sluice", options, all_checks())
        [result] = report.results
        return result

    first = integration()
    assert first.status == "passed", first
    script = root / "glue" / "incremental_clicks.py"
    script.write_text(script.read_text() + "# an edit: the job runs again\n")
    second = integration()
    assert second.status == "passed", second
    assert "1/1 jobs ran" in second.detail and "(0 rows)" not in second.detail, second.detail
    # a script that raises: the finding is at the script's line, with the job's own advice
    text = script.read_text()
    script.write_text(text.replace("job.commit()", "raise ValueError('no clicks today')"))
    line = script.read_text().splitlines().index("raise ValueError('no clicks today')") + 1
    third = integration()
    [finding] = third.findings
    assert (finding.path, finding.line) == ("glue/incremental_clicks.py", line), finding
    assert finding.message == "job clicks failed: ValueError: no clicks today"
    assert finding.tip.startswith("fix glue/incremental_clicks.py, then run  sluice check")
