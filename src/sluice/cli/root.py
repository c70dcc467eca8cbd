"""The root of the ``sluice`` CLI: its options (``--version``, ``--debug``), help and epilog.

:func:`lazy_root` is what the console script runs: a group that lists
:data:`~sluice.cli.app.COMMANDS` and builds only the command invoked. :func:`full_app` is the
same CLI with every command registered, as one Typer app (tests drive it in-process).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, ClassVar

import typer
from typer import _click as click
from typer.core import TyperGroup

from sluice import __version__
from sluice.cli.app import COMMANDS, EXIT_CODES, Entry
from sluice.cli.errors import start_up_done
from sluice.cli.helpfmt import SluiceGroup, tidy_help
from sluice.cli.lazy import LazyGroup, add_to, build_command


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
    start_up_done()  # the command is built: garbage collection resumes (app.main)
    if debug:  # main() strips --debug wherever it is; this serves `sluice --debug …` in-process
        os.environ["SLUICE_DEBUG"] = "1"


def root_app(cls: type[TyperGroup] = SluiceGroup) -> typer.Typer:
    """The root app (its options, help and epilog) without any command."""
    cli = typer.Typer(
        name="sluice",
        help="CI/CD for data pipelines: data-quality gates, releases, deploys, promotion.",
        epilog=EXIT_CODES,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=cls,
    )
    cli.callback()(root)
    return cli


class _LazyRoot(LazyGroup, SluiceGroup):
    entries: ClassVar[Mapping[str, Entry]] = {e.name: e for e in COMMANDS}

    @staticmethod
    def build(entry: Entry) -> click.Command:
        return build_command(entry, root_app, tidy_help)


def lazy_app() -> typer.Typer:
    """The CLI of the console script: its root group builds a command on first use."""
    return root_app(_LazyRoot)


def lazy_root() -> TyperGroup:
    """The root group of :func:`lazy_app`."""
    group = typer.main.get_command(lazy_app())
    assert isinstance(group, _LazyRoot)
    return group


def full_app() -> typer.Typer:
    """Every command registered on one Typer app."""
    cli = root_app()
    added: set[str] = set()
    for entry in COMMANDS:
        if entry.target not in added:  # a registrar adds all of its commands at once
            added.add(entry.target)
            add_to(cli, entry)
    return tidy_help(cli)
