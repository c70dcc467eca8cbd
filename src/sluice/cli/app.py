"""``sluice`` console script: Typer commands that call the library and report.

Exit codes (:data:`EXIT_CODES`): 0 success (warnings allowed), 1 something checked failed,
2 unusable input or surroundings, 3 a bug in sluice. Errors print ``Error: …`` and
``Tip: …``; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from sluice import __version__
from sluice.cli.check import register_check

#: The exit codes, shown under ``sluice --help`` (and in README.md / docs/check.md).
EXIT_CODES = (
    "Exit codes: 0 success (warnings allowed); 1 a check, a job, an audit or a migration "
    "failed; 2 unusable input (config, rules, SQL, command line) or surroundings (files, "
    "state store); 3 an internal error, a bug in sluice: re-run with --debug and report it. "
    "Errors print 'Error: …' and 'Tip: …'; tracebacks only with --debug."
)


def build_app(only_check: bool = False) -> typer.Typer:
    """The CLI. ``only_check`` leaves out the deploy and quality commands, whose imports
    (the deployer, DuckDB, pandas) would double the start-up of a cached ``sluice check``."""
    cli = typer.Typer(
        name="sluice",
        help="CI/CD for data pipelines: data-quality gates, releases, deploys, promotion.",
        epilog=EXIT_CODES,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    cli.callback()(root)
    register_check(cli)
    if not only_check:
        from sluice.cli.aws import register_aws
        from sluice.cli.flow import register as register_flow
        from sluice.cli.flow import register_extra
        from sluice.cli.migrate import migrate_app
        from sluice.cli.quality import quality_app

        cli.add_typer(quality_app, name="quality")
        cli.add_typer(migrate_app, name="migrate")
        register_flow(cli)
        register_extra(cli)
        register_aws(cli)
        from sluice.cli.explore import register_explore

        register_explore(cli)
    from sluice.cli.helpfmt import tidy_help

    return tidy_help(cli)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sluice {__version__}")
        raise typer.Exit(0)


def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an error (also anywhere on the command line, "
                        "or SLUICE_DEBUG=1).")] = False,
) -> None:
    """sluice — CI/CD for data pipelines."""
    if debug:  # main() strips --debug wherever it is; this serves `sluice --debug …` in-process
        os.environ["SLUICE_DEBUG"] = "1"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from sluice.cli.errors import mask_output

    mask_output()  # secrets never reach a terminal or a CI log
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args.remove("--debug")
        os.environ["SLUICE_DEBUG"] = "1"
    build_app(only_check=bool(args) and args[0] == "check")(args=args, prog_name="sluice")


def __getattr__(name: str) -> typer.Typer:
    """``app``, the full CLI, built on first use (tests and ``python -m`` use it)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


__all__ = ["build_app", "main"]
