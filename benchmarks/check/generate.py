"""Deterministic generation of the ``sluice check`` benchmark projects.

One graph of N SQL jobs (``plan(N)``) is written twice:

- ``write_sluice_project``: a sluice project (``sluice.yaml``, ``jobs/*.sql``, a contract and
  a DQDL ruleset ``quality/<job>.dqdl`` per dataset, three CSV sources under ``data/raw/``
  used as the check samples, a ``tests/`` folder and a ``ruff.toml``);
- ``write_dbt_project``: the equivalent dbt-duckdb project (same SQL with ``ref()`` and
  ``source()``, every model a table with an enforced contract, and per model the tests that
  match the DQDL rules).

The graph has depth 6: a tenth of the jobs are staging jobs reading one CSV source each, the
rest are marts in five layers. A mart reads one dataset of the layer just before it (so every
layer really is one deeper) and, when it joins, one or two datasets of any earlier layer.
Every dataset has the same five columns, ``id`` (unique, the primary key), ``grp``,
``amount``, ``label`` (nullable) and ``day``, so that any job can read any earlier dataset.
Everything comes from ``random.Random(seed)``: the same N and seed give the same projects.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

SEED = 20240601
LAYERS = 6  # staging + five layers of marts
SOURCES = ("orders", "customers", "products")
SOURCE_ROWS = {"orders": 600, "customers": 400, "products": 250}
#: the contract of every dataset: column -> (type, nullable)
COLUMNS: dict[str, tuple[str, bool]] = {
    "id": ("BIGINT", False),
    "grp": ("BIGINT", False),
    "amount": ("DOUBLE", False),
    "label": ("VARCHAR", True),
    "day": ("DATE", False),
}
RULES = 'Rules = [\n    RowCount > 0,\n    IsComplete "id",\n    IsUnique "id"\n]\n'

Kind = Literal["staging", "join", "transform", "aggregate"]


@dataclass(frozen=True)
class Job:
    name: str
    layer: int
    kind: Kind
    inputs: tuple[str, ...]  # job names, or the source name for a staging job
    salt: int

    @property
    def dataset(self) -> str:
        return f"{'staging' if self.layer == 0 else 'marts'}.{self.name}"


@dataclass
class Plan:
    jobs: dict[str, Job]
    children: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.children = {n: set() for n in self.jobs}
        for job in self.jobs.values():
            if job.layer:
                for parent in job.inputs:
                    self.children[parent].add(job.name)

    def downstream(self, name: str) -> set[str]:
        """The job and every job that reads, directly or not, what it writes."""
        out, todo = {name}, [name]
        while todo:
            for child in self.children[todo.pop()]:
                if child not in out:
                    out.add(child)
                    todo.append(child)
        return out

    def pick_changed(self) -> Job:
        """A mid-graph transform job (layer 2 of 0-5) whose downstream is the median among
        them: the job the one-job-change scenario edits."""
        mids = [j for j in self.jobs.values() if j.kind == "transform" and j.layer == 2]
        mids = mids or [j for j in self.jobs.values() if j.kind == "transform"]
        if not mids:
            raise ValueError("the generated graph has no transform job to change")
        mids.sort(key=lambda j: (len(self.downstream(j.name)), j.name))
        return mids[len(mids) // 2]


def plan(n_jobs: int, seed: int = SEED) -> Plan:
    """The job graph: ``n_jobs // 10`` staging jobs, the rest spread over five mart layers."""
    if n_jobs < 2 * LAYERS:
        raise ValueError(f"--jobs must be at least {2 * LAYERS} (one job per layer and more)")
    rng = random.Random(seed)
    n_staging = max(3, n_jobs // 10)
    rest = n_jobs - n_staging
    sizes = [n_staging] + [rest // (LAYERS - 1) + (i < rest % (LAYERS - 1))
                           for i in range(LAYERS - 1)]
    jobs: dict[str, Job] = {}
    layers: list[list[str]] = []
    for layer, size in enumerate(sizes):
        names = []
        for i in range(size):
            if layer == 0:
                job = Job(f"stg_{i:02d}", 0, "staging", (SOURCES[i % len(SOURCES)],), i)
            else:
                kind: Kind = rng.choices(("join", "transform", "aggregate"), (5, 3, 2))[0]
                first = rng.choice(layers[layer - 1])
                inputs = [first]
                if kind == "join":
                    earlier = [n for lay in layers for n in lay if n != first]
                    inputs += rng.sample(earlier, rng.choice((1, 2)))
                job = Job(f"m{layer}_{i:02d}", layer, kind, tuple(inputs), rng.randrange(1, 90))
            jobs[job.name] = job
            names.append(job.name)
        layers.append(names)
    return Plan(jobs)


# ------------------------------------------------------------------ SQL

_STAGING = {
    # source -> (id, grp, amount, label, day) expressions over the source's CSV columns
    "orders": ("order_id", "customer_id % 50", "amount * {f}", "status",
               "CAST(ordered_at AS DATE)"),
    "customers": ("customer_id", "customer_id % 40", "customer_id * 1.5 + {f}", "name",
                  "signup_date"),
    "products": ("product_id", "product_id % 10", "price * {f}", "category", "added_on"),
}


def job_sql(job: Job, ref: Callable[[str], str], bump: int = 0) -> str:
    """The SELECT of ``job``; ``ref(name)`` spells a source or a job's dataset (sluice:
    ``raw.orders`` / ``marts.m1_02``, dbt: ``{{ source(...) }}`` / ``{{ ref(...) }}``).
    ``bump`` changes a transform job's expression, compatibly (the one-job change)."""
    if job.kind == "staging":
        source = job.inputs[0]
        ident, grp, amount, label, day = _STAGING[source]
        key = ident
        return (f"-- staging {job.name}: typed rows of raw.{source}\n"
                f"SELECT\n"
                f"    CAST({ident} AS BIGINT) AS id,\n"
                f"    CAST({grp} AS BIGINT) AS grp,\n"
                f"    CAST({amount.format(f=1 + job.salt / 100)} AS DOUBLE) AS amount,\n"
                f"    CAST({label} AS VARCHAR) AS label,\n"
                f"    CAST({day} AS DATE) AS day\n"
                f"FROM {ref(source)}\n"
                f"WHERE {key} % 20 <> {job.salt % 20}\n")
    if job.kind == "transform":
        return (f"-- {job.name}: rescaled amounts of {job.inputs[0]}\n"
                f"SELECT\n"
                f"    id,\n"
                f"    grp,\n"
                f"    CAST(amount * 1.{job.salt:02d} + {3 + bump} AS DOUBLE) AS amount,\n"
                f"    upper(label) AS label,\n"
                f"    day\n"
                f"FROM {ref(job.inputs[0])}\n"
                f"WHERE amount >= 0\n")
    if job.kind == "aggregate":
        return (f"-- {job.name}: {job.inputs[0]} summed per group\n"
                f"SELECT\n"
                f"    CAST(grp AS BIGINT) AS id,\n"
                f"    CAST((grp + {job.salt}) % 7 AS BIGINT) AS grp,\n"
                f"    CAST(sum(amount) AS DOUBLE) AS amount,\n"
                f"    min(label) AS label,\n"
                f"    max(day) AS day\n"
                f"FROM {ref(job.inputs[0])}\n"
                f"GROUP BY grp\n")
    aliases = "abc"[: len(job.inputs)]
    extra = " + ".join(f"coalesce({a}.amount, 0) * 0.{5 - i}" for i, a in enumerate(aliases[1:]))
    labels = ", ".join(f"{a}.label" for a in aliases)
    joins = "".join(f"LEFT JOIN {ref(n)} AS {a} ON {a}.id = a.id\n"
                    for a, n in zip(aliases[1:], job.inputs[1:], strict=True))
    return (f"-- {job.name}: {job.inputs[0]} enriched with {', '.join(job.inputs[1:])}\n"
            f"SELECT\n"
            f"    a.id,\n"
            f"    a.grp,\n"
            f"    CAST(a.amount + {extra} AS DOUBLE) AS amount,\n"
            f"    coalesce({labels}) AS label,\n"
            f"    a.day\n"
            f"FROM {ref(job.inputs[0])} AS a\n"
            f"{joins}")


def sluice_ref(p: Plan) -> Callable[[str], str]:
    return lambda name: f"raw.{name}" if name in SOURCES else p.jobs[name].dataset


def dbt_ref(p: Plan) -> Callable[[str], str]:
    return lambda name: ("{{ source('raw', '%s') }}" % name if name in SOURCES  # noqa: UP031
                         else "{{ ref('%s') }}" % name)  # noqa: UP031


# ------------------------------------------------------------------ data

def write_sources(data: Path, seed: int = SEED) -> dict[str, Path]:
    """Three CSV files under ``data/raw/<source>/``, a few hundred rows each."""
    rng = random.Random(seed + 1)
    start = dt.datetime(2024, 1, 1)
    statuses = ("placed", "shipped", "delivered", "cancelled")
    rows: dict[str, list[str]] = {
        "orders": ["order_id,customer_id,product_id,quantity,amount,status,ordered_at"],
        "customers": ["customer_id,name,country,signup_date"],
        "products": ["product_id,product,category,price,added_on"],
    }
    for i in range(1, SOURCE_ROWS["orders"] + 1):
        at = start + dt.timedelta(minutes=37 * i)
        rows["orders"].append(
            f"{i},{rng.randint(1, SOURCE_ROWS['customers'])},"
            f"{rng.randint(1, SOURCE_ROWS['products'])},{rng.randint(1, 9)},"
            f"{rng.randint(100, 50000) / 100:.2f},{rng.choice(statuses)},{at:%Y-%m-%d %H:%M:%S}")
    for i in range(1, SOURCE_ROWS["customers"] + 1):
        name = "" if i % 23 == 0 else f"customer {i}"  # empty: NULL, label is nullable
        day = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
        rows["customers"].append(f"{i},{name},{rng.choice(('DE', 'FR', 'NL', 'US'))},{day}")
    for i in range(1, SOURCE_ROWS["products"] + 1):
        day = dt.date(2022, 6, 1) + dt.timedelta(days=i)
        rows["products"].append(f"{i},product {i},{rng.choice(('a', 'b', 'c', 'd'))},"
                                f"{rng.randint(100, 20000) / 100:.2f},{day}")
    out = {}
    for source, lines in rows.items():
        path = data / "raw" / source / f"{source}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        out[source] = path
    return out


# ------------------------------------------------------------------ sluice

_TESTS = '''"""Trivial tests of the generated project (``sluice check`` runs them with pytest)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_job_has_its_sql() -> None:
    assert len(list((ROOT / "jobs").glob("*.sql"))) == {n}


def test_every_dataset_has_rules() -> None:
    for path in (ROOT / "quality").glob("*.dqdl"):
        assert "IsUnique" in path.read_text()
'''

_RUFF = 'line-length = 100\ntarget-version = "py311"\n\n[lint]\nselect = ["E", "F", "W", "I"]\n'


class _Dumper(yaml.SafeDumper):
    """Writes the shared contract out in full under every dataset (no &anchors)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_job(p: Plan, root: Path, name: str, bump: int = 0) -> Path:
    path = root / "jobs" / f"{name}.sql"
    _write(path, job_sql(p.jobs[name], sluice_ref(p), bump))
    return path


def write_sluice_project(p: Plan, root: Path) -> None:
    """The sluice project (not yet a git repository: the runner makes it one)."""
    contract = {"columns": {c: ({"type": t, "nullable": False} if not null else t)
                            for c, (t, null) in COLUMNS.items()},
                "primary_key": ["id"]}
    config = {
        "project": "checkbench",
        "dialect": "duckdb",
        "sources": {f"raw.{s}": {"format": "csv", "path": f"raw/{s}/*.csv"} for s in SOURCES},
        "datasets": {j.dataset: {"contract": contract, "rules": f"quality/{j.name}.dqdl"}
                     for j in p.jobs.values()},
        "jobs": {j.name: {"type": "sql", "sql": f"jobs/{j.name}.sql", "output": j.dataset}
                 for j in p.jobs.values()},
        "environments": {"dev": {"target": {"type": "local"}}},
        "checks": {"samples": "data"},
    }
    head = (f"# generated by benchmarks/check/generate.py: {len(p.jobs)} SQL jobs in "
            f"{LAYERS} layers\n")
    # leaf mappings in flow style, as examples/retail writes them: {type: BIGINT, ...}
    _write(root / "sluice.yaml", head + yaml.dump(config, Dumper=_Dumper, sort_keys=False,
                                                width=100, default_flow_style=None))
    for name in p.jobs:
        write_job(p, root, name)
        _write(root / "quality" / f"{name}.dqdl", RULES)
    write_sources(root / "data")
    _write(root / "tests" / "test_project.py", _TESTS.replace("{n}", str(len(p.jobs))))
    _write(root / "ruff.toml", _RUFF)
    _write(root / ".gitignore", ".sluice/\n__pycache__/\n")


# ------------------------------------------------------------------ dbt

# dbt-duckdb reads each source with read_csv_auto over the very CSV files sluice's check
# uses as samples (an "external" source), at build time, inside the models that select from
# it: the same work sluice's integration run does (its local target substitutes
# read_csv_auto('<objects>/raw/x/*.csv') for raw.x). `dbt seed` would instead load the CSVs
# row by row through agate into tables first, work sluice does not do.
_NOT_EMPTY = """{% test not_empty(model) %}
-- DQDL RowCount > 0: fails (returns a row) when the model has no rows
select 1 as empty_model where not exists (select 1 from {{ model }})
{% endtest %}
"""


def write_dbt_project(p: Plan, root: Path, data: Path, database: Path,
                      threads: int = 2) -> None:
    """The dbt-duckdb project: every model a table with an enforced contract (column types,
    not_null constraints: sluice's contract audit) and the tests of the DQDL rules
    (RowCount > 0: not_empty; IsComplete "id": not_null; IsUnique "id": unique)."""
    _write(root / "dbt_project.yml", yaml.safe_dump({
        "name": "checkbench", "version": "1.0.0", "config-version": 2,
        "profile": "checkbench", "model-paths": ["models"], "macro-paths": ["macros"],
        "test-paths": ["tests"],
        "models": {"checkbench": {"+materialized": "table"}},
    }, sort_keys=False))
    _write(root / "profiles.yml", yaml.safe_dump({"checkbench": {
        "target": "dev",
        "outputs": {"dev": {"type": "duckdb", "path": str(database), "threads": threads}},
    }}, sort_keys=False))
    sources = {"version": 2, "sources": [{
        "name": "raw", "schema": "raw",
        "tables": [{"name": s, "meta": {"external_location":
                                        f"read_csv_auto('{data / 'raw' / s}/*.csv')"}}
                   for s in SOURCES],
    }]}
    _write(root / "models" / "sources.yml", yaml.safe_dump(sources, sort_keys=False))
    ref = dbt_ref(p)
    for layer in range(LAYERS):
        jobs = [j for j in p.jobs.values() if j.layer == layer]
        folder = root / "models" / ("staging" if layer == 0 else f"marts_{layer}")
        for job in jobs:
            _write(folder / f"{job.name}.sql", job_sql(job, ref))
        _write(folder / "schema.yml", yaml.safe_dump(
            {"version": 2, "models": [_dbt_model(j) for j in jobs]}, sort_keys=False))
    _write(root / "macros" / "not_empty.sql", _NOT_EMPTY)


def _dbt_model(job: Job) -> dict[str, object]:
    columns = []
    for name, (typ, nullable) in COLUMNS.items():
        col: dict[str, object] = {"name": name, "data_type": typ.lower()}
        if not nullable:
            col["constraints"] = [{"type": "not_null"}]
        if name == "id":
            col["data_tests"] = ["unique", "not_null"]
        columns.append(col)
    return {"name": job.name, "config": {"contract": {"enforced": True}},
            "data_tests": ["not_empty"], "columns": columns}


def write_dbt_job(p: Plan, root: Path, name: str, bump: int = 0) -> Path:
    job = p.jobs[name]
    folder = "staging" if job.layer == 0 else f"marts_{job.layer}"
    path = root / "models" / folder / f"{name}.sql"
    _write(path, job_sql(job, dbt_ref(p), bump))
    return path
