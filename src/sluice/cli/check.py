"""``sluice check``: every check a pipeline change needs, with CI-friendly outputs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sluice.check.base import Unit
from sluice.check.context import CheckOptions
from sluice.check.model import KINDS, CheckReport, CheckResult, Status
from sluice.check.registry import all_checks
from sluice.check.reports import github_annotations, markdown, write_junit
from sluice.check.runner import run_checks
from sluice.cli.errors import guarded
from sluice.project.workspace import Workspace, current_actor
from sluice.secrecy import private_file

out = Console()
err = Console(stderr=True)
_STYLE = {Status.PASSED: "green", Status.FAILED: "red", Status.SKIPPED: "yellow"}


def _kinds(values: list[str] | None) -> frozenset[str]:
    return frozenset(k.strip() for v in values or [] for k in v.split(",") if k.strip())


def register_check(app: typer.Typer) -> None:
    @app.command("check")
    @guarded
    def check_cmd(
        only: Annotated[list[str] | None, typer.Option(
            help=f"Run only these kinds (comma-separated): {', '.join(KINDS)}.")] = None,
        skip: Annotated[list[str] | None, typer.Option(help="Skip these kinds.")] = None,
        changed_since: Annotated[str | None, typer.Option(
            help="Check only what changed since this git ref, and its downstream.")] = None,
        against: Annotated[str | None, typer.Option(
            help="Contracts baseline: an environment (its live release) or a git ref.")] = None,
        no_cache: Annotated[bool, typer.Option(
            "--no-cache", help="Run every check again, reusing nothing.")] = False,
        junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
        markdown_file: Annotated[Path | None, typer.Option(
            "--markdown", help="Write a Markdown summary here (for a PR comment).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
        workers: Annotated[int, typer.Option(
            min=0, help="Checks run in parallel (0: one per core).")] = 0,
    ) -> int:
        """Lint, SQL, contracts, DQDL, unit tests, CloudFormation, Step Functions and an
        integration run on sample data. Exit 0 when everything passed, 1 when a check failed."""
        ws = Workspace.open()
        try:
            options = CheckOptions(against=against, changed_since=changed_since,
                                   only=_kinds(only), skip=_kinds(skip),
                                   use_cache=not no_cache)
            if workers:
                options.workers = workers
            report = _run(ws, options, quiet=as_json)
            if report.tree is not None:
                _record(ws, report, reuse=options.use_cache)
        finally:
            ws.close()
        if junit is not None:
            write_junit(report, junit)
        if markdown_file is not None:
            markdown_file.parent.mkdir(parents=True, exist_ok=True)
            markdown_file.write_text(markdown(report), encoding="utf-8")
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for line in github_annotations(report):
                typer.echo(line)
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            _print(report)
        return 0 if report.passed else 1


def _record(ws: Workspace, report: CheckReport, *, reuse: bool) -> None:
    """Record the run in the state store, where ``sluice release`` finds it. A re-run with the
    same outcome on the same tree and store is already recorded: skipping it spares loading
    SQLAlchemy, a good part of a cached check's start-up."""
    assert report.tree is not None
    what = f"{ws.state_url}|{report.tree}|{report.passed}|{report.complete}"
    marker = ws.home / "cache" / "checks" / "recorded" / hashlib.sha256(what.encode()).hexdigest()
    local_db = ws.home / "state.db"
    if reuse and marker.exists() and ("SLUICE_STATE_URL" in os.environ or local_db.exists()):
        return
    ws.state.record_check_run(report.tree, report.passed, report.complete, _summary(report),
                              current_actor())
    private_file(marker)  # in the check cache: 0600 in 0700 folders


def _detail(r: CheckResult) -> str:
    return r.detail + (f" · {len(r.errors)} error(s)" if r.errors else "") + \
        (f" · {len(r.warnings)} warning(s)" if r.warnings else "")


def _summary(report: CheckReport) -> dict[str, object]:
    return {"counts": report.counts(), "seconds": round(report.seconds, 3),
            "results": [{"kind": r.kind, "name": r.name, "status": r.status.value}
                        for r in report.results]}


def _run(ws: Workspace, options: CheckOptions, *, quiet: bool) -> CheckReport:
    if quiet or not err.is_terminal:
        return run_checks(ws.root, ws.home, options, all_checks())
    with Progress(TextColumn("[bold]check[/]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task("", total=None)

        def on_plan(units: list[Unit]) -> None:
            progress.update(task, total=len(units))

        def on_unit(unit: Unit, result: CheckResult | None) -> None:
            if result is None:
                progress.update(task, description=f"{unit.kind}:{unit.name}")
            else:
                progress.advance(task)

        return run_checks(ws.root, ws.home, options, all_checks(), on_plan=on_plan,
                          on_unit=on_unit)


#: Above this many units the table shows one row per kind (and every unit that did not pass).
PER_UNIT_ROWS = 40


def _print(report: CheckReport) -> None:
    t = Table("check", "subject", "result", "time", "details")
    per_unit = len(report.results) <= PER_UNIT_ROWS
    kinds: dict[str, list[CheckResult]] = {}
    for r in report.results:
        kinds.setdefault(r.kind, []).append(r)
    for kind, results in kinds.items():
        shown = results if per_unit or len(results) == 1 else \
            [r for r in results if r.status != Status.PASSED or r.findings]
        for r in shown:
            took = "cached" if r.cached else f"{r.seconds:.2f}s"
            t.add_row(kind, r.name, Text(r.status.value, style=_STYLE[r.status]), took,
                      _detail(r))
        if len(shown) < len(results):
            passed = sum(r.status == Status.PASSED for r in results)
            cached = sum(r.cached for r in results)
            t.add_row(kind, f"{len(results)} subjects", Text(f"{passed} passed", style="green"),
                      f"{sum(r.seconds for r in results if not r.cached):.2f}s",
                      f"{cached} reused from cache" if cached else "")
    out.print(t)
    for r in report.results:
        for f in r.findings:
            mark = {"error": "✗", "info": "·"}.get(f.severity, "!")
            where = f"{f.where}: " if f.where else ""
            code = f" [{f.code}]" if f.code else ""
            out.print(Text(f"{mark} {r.kind}: {where}{f.message}{code}",
                           style={"error": "red", "info": "dim"}.get(f.severity, "yellow")))
            if f.tip and f.severity == "error":
                out.print(Text(f"    tip: {f.tip}", style="cyan"))
    counts = report.counts()
    sel = report.selection
    scope = (f" · {sel['units_selected']}/{sel['units_total']} checks selected by the diff "
             f"since {sel['changed_since']}") if sel else ""
    verdict = Text("passed" if report.passed else "FAILED",
                   style="bold green" if report.passed else "bold red")
    out.print(Text.assemble("check ", verdict, f": {counts['passed']} passed, "
                            f"{counts['failed']} failed, {counts['skipped']} skipped in "
                            f"{report.seconds:.2f}s · reused {report.reused} cached "
                            f"result(s){scope}"))
