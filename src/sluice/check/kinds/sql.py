"""SQL jobs: each parses strictly in the project's dialect, reads only declared datasets and
sources (no files, no network: :mod:`sluice.project.sqlguard`), and names only columns those
datasets have (where a contract says which columns they have)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.kinds.project import error_findings
from sluice.check.model import Finding
from sluice.config import ProjectConfig, SqlJob, substitute
from sluice.config.base import did_you_mean
from sluice.errors import SluiceError
from sluice.project.sqlguard import resolve_dataset, undeclared, vet_query


class SqlCheck:
    kind = "sql"
    description = "SQL jobs parse, and read only known datasets and columns"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        if cfg is None:
            return []
        units = []
        schemas = _schemas(cfg)
        known = sorted(cfg.all_datasets())  # what a query may read
        for name, job in sorted(cfg.jobs.items()):
            if not isinstance(job, SqlJob):
                continue
            outputs = frozenset(cfg.job_outputs(job))
            units.append(Unit(
                "sql", name, _runner(ctx, cfg, name, job), files=(job.sql,),
                nodes=frozenset({name}) | outputs,
                # the contracts of every dataset define the columns a query may name
                key={"dialect": cfg.dialect, "params": ctx.params, "schemas": schemas,
                     "datasets": known},
            ))
        return units


def _runner(ctx: CheckContext, cfg: ProjectConfig, name: str,
            job: SqlJob) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        return findings_outcome(check_sql(ctx, cfg, name, job), f"{cfg.dialect} dialect")

    return run


def _schemas(cfg: ProjectConfig) -> dict[str, dict[str, str]]:
    """Known columns per dataset (from contracts); datasets without one are left out."""
    out: dict[str, dict[str, str]] = {}
    for name, spec in cfg.all_datasets().items():
        if spec.contract is not None and spec.contract.columns:
            out[name] = {c: col.type for c, col in spec.contract.columns.items()}
    return out


def check_sql(ctx: CheckContext, cfg: ProjectConfig, name: str, job: SqlJob) -> list[Finding]:
    try:
        raw = (ctx.root / job.sql).read_text(encoding="utf-8")
        text = substitute(raw, ctx.params, where=job.sql)
    except SluiceError as exc:
        return error_findings(exc)
    except OSError as exc:
        return [Finding(f"cannot read {job.sql}: {exc.strerror}", *ctx.locate("jobs", name))]
    except UnicodeDecodeError as exc:  # a binary file, or another encoding
        line = exc.object[: exc.start].count(b"\n") + 1
        return [Finding(f"not UTF-8 text ({exc.reason} at byte {exc.start})", job.sql, line,
                        None, tip="save the file as UTF-8")]
    vetted = vet_query(text, cfg.dialect)
    known = set(cfg.all_datasets())
    refusals = vetted.refusals + undeclared(vetted.tables, known, job=name)
    findings = [Finding(r.message, job.sql, r.line, r.column, tip=r.tip) for r in refusals]
    if findings or vetted.tree is None:
        return findings
    # table as written (lowercase) -> dataset; every table resolves once nothing is refused
    tables = {t.name.lower(): d for t in vetted.tables
              if (d := resolve_dataset(t.name, known)) is not None}
    return _unknown_columns(vetted.tree, cfg, job, tables)


def _unknown_columns(tree: exp.Expr, cfg: ProjectConfig, job: SqlJob,
                     tables: dict[str, str]) -> list[Finding]:
    """Columns that name a dataset with a contract but are not in it. A column counts when
    its qualifier names a table of its scope, or when its scope reads a single table."""
    schemas = _schemas(cfg)
    findings: list[Finding] = []
    try:
        scopes = traverse_scope(tree)
    except SqlglotError:
        return []
    for scope in scopes:
        table_sources = {alias: src for alias, src in scope.sources.items()
                         if isinstance(src, exp.Table)}
        aliases = {e.alias.lower() for e in scope.expression.expressions
                   if isinstance(e, exp.Alias)} if isinstance(scope.expression, exp.Select) \
            else set()
        for column in scope.columns:
            if column.table:
                source = table_sources.get(column.table)
            elif len(scope.sources) == 1 and len(table_sources) == 1 \
                    and column.name.lower() not in aliases:
                source = next(iter(table_sources.values()))
            else:
                source = None
            if source is None:
                continue
            written = f"{source.db}.{source.name}" if source.db else source.name
            dataset = tables.get(written.lower())
            if dataset is None or dataset not in schemas:
                continue
            cols = schemas[dataset]
            if column.name.lower() not in {c.lower() for c in cols}:
                line, col = _position(column.this)
                findings.append(Finding(
                    f"column {column.name} is not in {dataset}'s contract"
                    f"{did_you_mean(column.name, sorted(cols))}", job.sql, line, col,
                    tip=f"the contract of {dataset} has: {', '.join(cols)}"))
    return findings


def _position(node: exp.Expr | None) -> tuple[int | None, int | None]:
    meta = node.meta if isinstance(node, exp.Expr) else {}
    line = meta.get("line")
    if line is None:
        return None, None
    width = int(meta.get("end", 0)) - int(meta.get("start", 0))
    return int(line), int(meta.get("col", 1)) - width
