"""``sluice quality …``: check a dataset against a DQDL ruleset."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sluice.cli.errors import guarded
from sluice.console import JsonReporter, RichReporter
from sluice.engines.base import create_engine
from sluice.errors import SluiceError, UsageError
from sluice.quality import EvaluationOptions, MetricHistory, evaluate, parse_ruleset_file
from sluice.quality.evaluate import DEFAULT_SAMPLE_LIMIT, explain
from sluice.quality.junit import write_junit

quality_app = typer.Typer(help="Data-quality rules in DQDL.", no_args_is_help=True)


def _refs(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        name, sep, loc = v.partition("=")
        if not sep or not name or not loc:
            raise UsageError(f"--ref {v!r} is not NAME=PATH_OR_TABLE",
                             tip="for example  --ref reference=data/customers.parquet")
        out[name.strip()] = loc.strip()
    return out


@quality_app.command("check")
@guarded
def check(
    rules: Annotated[Path, typer.Argument(help="The DQDL ruleset file.")],
    dataset: Annotated[str | None, typer.Argument(
        help="With --env: the dataset of that environment to check.")] = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Parquet/CSV/JSON file, glob, folder or table.")] = None,
    env: Annotated[str | None, typer.Option(
        "--env", help="Check what this environment serves as DATASET (read-only).")] = None,
    version: Annotated[str | None, typer.Option(
        "--version", help="With --env: a version of DATASET other than the live one "
                          "(e.g. a quarantined one).")] = None,
    engine: Annotated[str, typer.Option(help="duckdb, postgres or spark.")] = "duckdb",
    ref: Annotated[list[str] | None, typer.Option(
        "--ref", help="Reference dataset for cross-dataset rules: NAME=PATH_OR_TABLE "
                      "(with --env: NAME=DATASET of that environment).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    junit: Annotated[Path | None, typer.Option(help="Also write JUnit XML here.")] = None,
    sample_limit: Annotated[int, typer.Option(
        help="Failing rows to sample per rule (0: none).", min=0)] = DEFAULT_SAMPLE_LIMIT,
    history: Annotated[Path | None, typer.Option(
        help="Metric history database (default .sluice/state.db or $SLUICE_HOME).")] = None,
    no_history: Annotated[bool, typer.Option(
        "--no-history", help="Neither read nor record metric history.")] = False,
    dataset_name: Annotated[str | None, typer.Option(
        help="Name the metrics are recorded under (default: file stem or table).")] = None,
    postgres_url: Annotated[str | None, typer.Option(
        envvar="SLUICE_POSTGRES_URL", help="Connection URL for --engine postgres.")] = None,
) -> int:
    """Evaluate RULES on a dataset: files or a table (--data), or what an environment serves
    (--env ENV DATASET). Exit 0 passed (warnings allowed), 1 failed, 2 bad input."""
    reporter: JsonReporter | RichReporter = JsonReporter() if as_json else RichReporter()
    try:
        if env is not None or dataset is not None:
            return _check_env(rules, env, dataset, data, version, ref or [], as_json, junit,
                              sample_limit, reporter)
        if data is None:
            raise UsageError("nothing to check: give --data PATH_OR_TABLE, or --env ENV "
                             "DATASET", tip="sluice quality check rules.dqdl --env dev "
                                            "staging.orders")
        ruleset = parse_ruleset_file(rules)
        options = EvaluationOptions(sample_limit=sample_limit, dataset_name=dataset_name,
                                    references=_refs(ref or []))
        kwargs = {"url": postgres_url} if engine == "postgres" else {}
        store = None if no_history else MetricHistory(history)
        status = Console(stderr=True).status(
            f"Evaluating {len(ruleset.leaves())} rules on {data} with {engine}…"
        )
        eng = create_engine(engine, **kwargs)
        try:
            with status if not as_json else contextlib.nullcontext():
                result = evaluate(ruleset, data, engine=eng, history=store, options=options)
        finally:
            eng.close()
            if store is not None:
                store.close()
    except SluiceError as exc:
        if as_json:
            reporter.error(exc)
            return exc.exit_code
        raise
    reporter.ruleset_result(result)
    if junit is not None:
        write_junit(result, junit)
    return 0 if result.passed else 1


def _check_env(rules: Path, env: str | None, dataset: str | None, data: str | None,
               version: str | None, ref: list[str], as_json: bool, junit: Path | None,
               sample_limit: int, reporter: JsonReporter | RichReporter) -> int:
    """``quality check RULES --env ENV DATASET``: the rules on what ENV serves (read-only;
    no metric history is recorded, since only published data feeds it)."""
    if env is None or dataset is None or data is not None:
        raise UsageError("--env ENV needs a DATASET argument, and no --data",
                         tip="sluice quality check rules.dqdl --env dev staging.orders")
    from sluice.explore import evaluate_in_env
    from sluice.project.workspace import Workspace

    ruleset = parse_ruleset_file(rules)
    options = EvaluationOptions(sample_limit=sample_limit, record_metrics=False)
    ws = Workspace.open()
    try:
        with (Console(stderr=True).status(f"Evaluating {len(ruleset.leaves())} rules on "
                                          f"{dataset} in {env}…")
              if not as_json else contextlib.nullcontext()):
            result, _, _ = evaluate_in_env(ws, env, dataset, ruleset, version=version,
                                           references=_refs(ref), options=options)
    finally:
        ws.close()
    reporter.ruleset_result(result)
    if junit is not None:
        write_junit(result, junit)
    return 0 if result.passed else 1


@quality_app.command("parse")
@guarded
def parse(rules: Annotated[Path, typer.Argument(help="The DQDL ruleset file.")]) -> int:
    """Parse and validate RULES without data; list the rules found."""
    ruleset = parse_ruleset_file(rules)
    for leaf in ruleset.leaves():
        typer.echo(f"{leaf.location}  {leaf.type:<24} {leaf.text}")
    typer.echo(f"{len(ruleset.rules)} rules, {len(ruleset.analyzers)} analyzers: OK")
    return 0


@quality_app.command("sql")
@guarded
def sql(
    rules: Annotated[Path, typer.Argument(help="The DQDL ruleset file.")],
    data: Annotated[str, typer.Option("--data", "-d", help="Data whose schema to compile for.")],
    dialect: Annotated[str, typer.Option(
        help="duckdb, postgres, spark, redshift, trino or athena.")] = "duckdb",
    ref: Annotated[list[str] | None, typer.Option("--ref", help="NAME=PATH_OR_TABLE.")] = None,
) -> int:
    """Print the SQL that evaluates RULES, in any supported dialect (nothing is run)."""
    ruleset = parse_ruleset_file(rules)
    options = EvaluationOptions(references=_refs(ref or []))
    for label, text in explain(ruleset, data, dialect=dialect, options=options):
        typer.echo(f"-- {label}\n{text};\n")
    return 0
