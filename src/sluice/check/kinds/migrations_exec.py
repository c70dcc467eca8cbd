"""The migrations check's execution: every versioned script, then the repeatables, applied
by the migrator on a scratch DuckDB and, when an environment's warehouse is PostgreSQL, on a
scratch PostgreSQL schema (:mod:`sluice.migrations.scratch`). The scratch starts empty, as a
new environment does: migrations run before any job, so they see only what earlier scripts
created. A translated ``COPY`` reads the sample data (the check's stand-in for an
environment's object store)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sluice.check.model import Finding
from sluice.config import ProjectConfig
from sluice.migrations.scripts import FOLDER, Scripts
from sluice.migrations.session import Session

ACTOR = "sluice check"
Opener = Callable[[], AbstractContextManager[Session]]


def postgres_warehouse(cfg: ProjectConfig) -> tuple[str, str] | None:
    """(environment, URL) of the first environment whose warehouse is PostgreSQL."""
    for name, env in cfg.environments.items():
        warehouse = getattr(env.target, "warehouse", "")
        if isinstance(warehouse, str) and warehouse.startswith(("postgresql://", "postgres://")):
            return name, warehouse
    return None


def scratch_engines(cfg: ProjectConfig, objects: Path | None) -> list[tuple[str, Opener]]:
    from sluice.migrations.scratch import duckdb_scratch, postgres_scratch

    out: list[tuple[str, Opener]] = [("duckdb", lambda: duckdb_scratch(objects))]
    pg = postgres_warehouse(cfg)
    if pg is not None:
        url = pg[1]
        out.append(("postgres", lambda: postgres_scratch(url, objects)))
    return out


def execution_findings(cfg: ProjectConfig, scripts: Scripts,
                       objects: Path | None) -> list[Finding]:
    """The first failing statement on each scratch engine, as a located finding."""
    from sluice.migrations import MigrationError, apply
    from sluice.migrations.scratch import ScratchUnavailable

    out: list[Finding] = []
    for engine, opener in scratch_engines(cfg, objects):
        try:
            with opener() as session:
                apply(scripts, session, cfg.migrations_dialect, ACTOR)
        except ScratchUnavailable as exc:
            where = postgres_warehouse(cfg)
            out.append(Finding(
                f"not executed on postgres: the warehouse of environment "
                f"{where[0] if where else '?'} is unreachable ({exc.message}); the scripts "
                "ran on DuckDB only", FOLDER, severity="warning",
                tip="start the PostgreSQL server (or fix its URL) and check again"))
        except MigrationError as exc:
            if exc.script is None:  # refused before running: the translation findings say why
                out.append(Finding(f"not executed on {engine} until the problems above are "
                                   "fixed", FOLDER, severity="info"))
                continue
            out.append(Finding(
                f"fails on {engine}: {exc.cause}", f"{FOLDER}/{exc.script}", exc.line,
                tip=f"the statement failed on a scratch {engine} after every script before it "
                    "ran, as `sluice migrate apply` would fail: fix it, or mark the script "
                    "`-- sluice: engine=redshift` if it only makes sense on Redshift"))
    return out
