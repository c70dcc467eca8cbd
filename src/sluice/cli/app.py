"""``sluice`` console script: Typer commands that call the library and report.

Exit codes: 0 success (warnings allowed), 1 a check failed, 2 unusable input or usage.
Errors print ``Error: …`` and ``Tip: …``; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from sluice import __version__
from sluice.cli.check import register_check


def build_app(only_check: bool = False) -> typer.Typer:
    """The CLI. ``only_check`` leaves out the deploy and quality commands, whose imports
    (the deployer, DuckDB, pandas) would double the start-up of a cached ``sluice check``."""
    cli = typer.Typer(
        name="sluice",
        help="CI/CD for data pipelines: data-quality gates, releases, deploys, promotion.",
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
    return cli


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sluice {__version__}")
        raise typer.Exit(0)


def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """sluice — CI/CD for data pipelines."""


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
