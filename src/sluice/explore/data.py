"""The data behind ``sluice datasets``, ``show``, ``query`` and ``quality check --env``.

Every function opens the environment's warehouse through :meth:`Target.reader` (read-only,
a connection of its own) and closes it before returning. Names are resolved against what the
environment serves: the datasets of its catalog, its quarantined versions (when named with
``--version``) and the project's sources; anything else is refused with a suggestion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from sluice.config import ProjectConfig, load_project
from sluice.config.base import did_you_mean
from sluice.engines.base import DataRef
from sluice.errors import UsageError
from sluice.project.sqlguard import resolve_dataset, vet_read_query
from sluice.project.workspace import Workspace
from sluice.targets.reader import SourceSpec, WarehouseReader

#: the columns of ``sluice datasets`` (the table's headers and the ``--json`` keys)
DATASET_COLUMNS = ("env", "dataset", "live_version", "rows", "columns", "updated",
                   "quarantine")


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset of one environment: its live version and the versions in quarantine."""

    env: str
    dataset: str
    live_version: str | None
    rows: int | None
    columns: int | None
    updated: str | None  # when the live version was written (UTC ISO-8601)
    quarantined: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "dataset": self.dataset, "live_version": self.live_version,
                "rows": self.rows, "columns": self.columns, "updated": utc_second(self.updated),
                "quarantine": list(self.quarantined)}


@dataclass
class Rows:
    """Rows read from an environment, and which versions they came from."""

    env: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more rows exist than the limit let through
    read: dict[str, str] = field(default_factory=dict)  # dataset -> version read
    quarantined: list[str] = field(default_factory=list)  # "dataset=version" in quarantine

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "read": self.read, "quarantined": self.quarantined,
                "columns": self.columns, "rows": self.records(), "truncated": self.truncated}


def utc_second(iso: str | None) -> str | None:
    """An ISO timestamp to the second, in UTC (for JSON)."""
    if not iso:
        return None
    return dt.datetime.fromisoformat(iso).astimezone(dt.UTC).replace(microsecond=0).isoformat()


def local_time(iso: str | None) -> str:
    """An ISO timestamp to the second, in local time with the zone (for tables)."""
    if not iso:
        return "-"
    return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def parse_pins(values: Sequence[str]) -> dict[str, str]:
    """``--version DATASET=VERSION`` options as a mapping."""
    out: dict[str, str] = {}
    for value in values:
        dataset, sep, version = value.partition("=")
        if not sep or not dataset.strip() or not version.strip():
            raise UsageError(f"--version {value!r} is not DATASET=VERSION",
                             tip="for example  --version staging.orders=v20260105090000_ab12cd")
        out[dataset.strip()] = version.strip()
    return out


# ------------------------------------------------------------------ opening an environment


def _config_of(ws: Workspace, env: str) -> ProjectConfig:
    """The live release's configuration where it is installed (its sources are what the
    environment reads), else the work tree's."""
    cfg = ws.config()
    cfg.environment(env)  # an unknown name fails here, with a suggestion
    live = ws.state.live(env)
    if live is not None:
        folder = ws.target(env, cfg).release_dir(live.release_id)
        if (folder / "sluice.yaml").is_file():
            return load_project(folder, environment=env)
    return cfg


def _deployed(ws: Workspace, env: str) -> bool:
    return bool(ws.state.deployments(env, limit=1))


@contextmanager
def _reading(ws: Workspace, env: str, cfg: ProjectConfig | None = None,
             ) -> Iterator[tuple[ProjectConfig, WarehouseReader]]:
    """The environment's reader; ``cfg`` (the work tree's) where no source is read, else the
    live release's configuration is loaded (its sources are what the environment reads)."""
    if cfg is None:
        cfg = _config_of(ws, env)
    else:
        cfg.environment(env)  # an unknown name fails here, with a suggestion
    if not _deployed(ws, env):
        raise UsageError(f"nothing was ever deployed to {env}",
                         tip=f"deploy first:  sluice deploy {env}")
    reader: WarehouseReader = ws.target(env, cfg).reader()
    try:
        yield cfg, reader
    finally:
        reader.close()


def _quarantined(ws: Workspace, env: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for q in ws.state.quarantined(env):
        out.setdefault(q.dataset, []).append(q.version)
    return out


def _dataset(env: str, name: str, known: Sequence[str]) -> str:
    found = resolve_dataset(name, known)
    if found is None:
        raise UsageError(f"{env} serves no dataset {name!r}{did_you_mean(name, sorted(known))}",
                         tip=f"list what it serves:  sluice datasets {env}")
    return found


def _version(env: str, dataset: str, version: str, reader: WarehouseReader) -> str:
    known = [v.version for v in reader.versions(dataset)]
    if version not in known:
        raise UsageError(
            f"{dataset} has no version {version!r} in {env}{did_you_mean(version, known)}",
            tip=f"its live and quarantined versions:  sluice datasets {env}")
    return version


# ------------------------------------------------------------------ the commands


def list_datasets(ws: Workspace, env: str | None = None) -> list[DatasetInfo]:
    """Datasets of ``env`` (every deployed environment when None), live and quarantined."""
    cfg = ws.config()
    names = [env] if env is not None else list(cfg.environments)
    if env is not None:
        cfg.environment(env)
    out: list[DatasetInfo] = []
    for name in names:
        if not _deployed(ws, name):
            if env is not None:
                raise UsageError(f"nothing was ever deployed to {name}",
                                 tip=f"deploy first:  sluice deploy {name}")
            continue
        quarantined = _quarantined(ws, name)
        with _reading(ws, name, cfg) as (_, reader):
            catalog = reader.catalog()
            info = {(v.dataset, v.version): v for v in reader.versions()}
            for dataset in sorted(set(catalog) | set(quarantined)):
                version = catalog.get(dataset)
                found = info.get((dataset, version)) if version else None
                columns = (reader.column_count(reader.version_relation(dataset, version))
                           if version and found else None)
                kept = tuple(v for v in quarantined.get(dataset, [])
                             if (dataset, v) in info)
                out.append(DatasetInfo(name, dataset, version, found.rows if found else None,
                                       columns, found.created_at if found else None, kept))
    return out


def show(ws: Workspace, env: str, dataset: str, *, version: str | None = None,
         limit: int = 20) -> Rows:
    """The first ``limit`` rows of a dataset's live version (or of ``version``: a retained
    or quarantined one)."""
    quarantined = _quarantined(ws, env)
    with _reading(ws, env, ws.config()) as (_, reader):
        catalog = reader.catalog()
        name = _dataset(env, dataset, sorted(set(catalog) | set(quarantined)))
        if version is None:
            if name not in catalog:
                kept = ", ".join(quarantined.get(name, []))
                raise UsageError(f"{name} is not live in {env}; versions in quarantine: {kept}",
                                 tip=f"show one:  sluice show {env} {name} --version VERSION")
            version = catalog[name]
        version = _version(env, name, version, reader)
        relation = reader.version_relation(name, version)
        columns, rows = reader.fetch(f"SELECT * FROM {relation}",
                                     None if limit <= 0 else limit + 1)
    truncated = 0 < limit < len(rows)
    return Rows(env, columns, rows[:limit] if limit > 0 else rows, truncated, {name: version},
                [f"{name}={version}"] if version in quarantined.get(name, []) else [])


def query(ws: Workspace, env: str, sql: str, *, pins: Mapping[str, str] | None = None,
          limit: int = 1000) -> Rows:
    """Run one SELECT over what ``env`` serves and its sources, read-only.

    Dataset names read their live version unless ``pins`` names another version (a retained
    or quarantined one) of that environment. The SQL is in the project's dialect; it is
    vetted (:func:`vet_read_query`) and its table names are rewritten to the versions read.
    """
    quarantined = _quarantined(ws, env)
    with _reading(ws, env) as (cfg, reader):
        catalog = reader.catalog()
        pinned: dict[str, str] = {}
        for pin, pinned_version in (pins or {}).items():
            ds = _dataset(env, pin, sorted(set(catalog) | set(quarantined)))
            pinned[ds] = _version(env, ds, pinned_version, reader)
        vetted = vet_read_query(sql, cfg.dialect)
        if not vetted.ok or vetted.tree is None:
            r = vetted.refusals[0]
            raise UsageError(f"query refused (line {r.line}, column {r.column}): {r.message}",
                             tip=r.tip)
        served = sorted(set(catalog) | set(pinned))
        sources = sorted(cfg.sources)
        reads: list[tuple[exp.Table, str, str]] = []
        needed: dict[str, SourceSpec] = {}
        for t in vetted.tables:
            found = resolve_dataset(t.name, served)
            if found is not None:
                reads.append((t.node, "dataset", found))
                continue
            s = resolve_dataset(t.name, sources)
            if s is None:
                raise UsageError(
                    f"the query reads {t.name} (line {t.line}, column {t.column}), which {env} "
                    f"neither serves nor reads as a source{did_you_mean(t.name, served + sources)}",
                    tip=f"list what it serves:  sluice datasets {env}")
            src = cfg.sources[s]
            needed[s] = SourceSpec(s, src.format, str(src.table or src.path))
            reads.append((t.node, "source", s))
        relations = reader.attach_sources(needed)  # locks the reader: nothing else is read
        read: dict[str, str] = {}
        for node, kind, name in reads:
            if kind == "dataset":
                version = pinned.get(name) or catalog[name]
                read[name] = version
                relation = reader.version_relation(name, version)
            else:
                relation = relations[name]
            table = exp.to_table(relation, dialect=reader.dialect)
            alias = node.args.get("alias")
            table.set("alias", alias.copy() if alias is not None
                      else exp.TableAlias(this=exp.to_identifier(node.name)))
            node.replace(table)
        text = vetted.tree.sql(reader.dialect)
        columns, rows = reader.fetch(text, None if limit <= 0 else limit + 1)
    truncated = 0 < limit < len(rows)
    marked = [f"{d}={v}" for d, v in sorted(read.items()) if v in quarantined.get(d, [])]
    return Rows(env, columns, rows[:limit] if limit > 0 else rows, truncated, read, marked)


def evaluate_in_env(ws: Workspace, env: str, dataset: str, ruleset: Any, *,
                    version: str | None = None, references: Mapping[str, str] | None = None,
                    options: Any = None, history: Any = None) -> tuple[Any, str, str]:
    """Evaluate a DQDL ruleset on what ``env`` serves as ``dataset`` (or on ``version`` of
    it); ``references`` map rule aliases to datasets of ``env``. Returns the result, the
    dataset and the version evaluated."""
    from dataclasses import replace

    from sluice.quality import EvaluationOptions, evaluate

    quarantined = _quarantined(ws, env)
    with _reading(ws, env, ws.config()) as (_, reader):
        catalog = reader.catalog()
        known = sorted(set(catalog) | set(quarantined))
        name = _dataset(env, dataset, known)
        if version is None:
            if name not in catalog:
                raise UsageError(f"{name} is not live in {env}",
                                 tip="name a quarantined version with --version VERSION")
            version = catalog[name]
        version = _version(env, name, version, reader)

        def table(d: str, v: str) -> DataRef:
            return DataRef(reader.version_relation(d, v).replace('"', ""), "table")

        refs: dict[str, str | DataRef] = {}
        for alias, ref in (references or {}).items():
            d = _dataset(env, ref, sorted(catalog))
            refs[alias] = table(d, catalog[d])
        opts = options or EvaluationOptions()
        opts = replace(opts, references=refs, dataset_name=opts.dataset_name or name)
        result = evaluate(ruleset, table(name, version), engine=reader.engine(),
                          history=history, options=opts)
    return result, name, version


__all__ = ["DATASET_COLUMNS", "DatasetInfo", "Rows", "evaluate_in_env", "list_datasets",
           "local_time", "parse_pins", "query", "show", "utc_second"]
