"""``sluice`` console script: Typer commands that call the library and report.

Exit codes (:data:`EXIT_CODES`): 0 success (warnings allowed), 1 something checked failed,
2 unusable input or surroundings, 3 a bug in sluice. Errors print ``Error: …`` and
``Tip: …``; tracebacks only with ``--debug``.

Start-up: this module imports neither Typer nor a command. ``sluice --version`` is answered
here; ``sluice --help`` lists :data:`COMMANDS`; a command imports only the module that defines
it (:mod:`sluice.cli.root`, :mod:`sluice.cli.lazy`).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sluice import __version__

if TYPE_CHECKING:
    import typer

#: The exit codes, shown under ``sluice --help`` (and in README.md / docs/check.md).
EXIT_CODES = (
    "Exit codes: 0 success (warnings allowed); 1 a check, a job, an audit or a migration "
    "failed; 2 unusable input (config, rules, SQL, command line) or surroundings (files, "
    "state store); 3 an internal error, a bug in sluice: re-run with --debug and report it. "
    "Errors print 'Error: …' and 'Tip: …'; tracebacks only with --debug."
)


@dataclass(frozen=True)
class Entry:
    """One command or command group of the root app, known without importing its module."""

    name: str
    #: ``"module:attribute"``: a ``register(app)`` function that adds the command to a Typer
    #: app (it may add others too), or a ``typer.Typer`` that is the command group itself.
    target: str
    #: What ``sluice --help`` lists: the first paragraph of the command's help.
    help: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def load(self) -> Any:
        """The register function or the Typer group (imports its module)."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


_FLOW = "sluice.cli.flow:register"
_EXTRA = "sluice.cli.flow:register_extra"
_EXPLORE = "sluice.cli.explore:register_explore"

#: Every command of ``sluice``, in the order ``sluice --help`` lists them: where it is defined
#: and the help line shown there. ``sluice --help`` reads only this table; running a command
#: imports only its module. A new command needs its row here (tests/cli/test_registry.py
#: checks the table against the modules).
COMMANDS: tuple[Entry, ...] = (
    Entry("check", "sluice.cli.check:register_check",
          "Lint, SQL, contracts, DQDL, unit tests, CloudFormation, Step Functions and an "
          "integration run on sample data. Exit 0 when everything passed, 1 when a check "
          "failed."),
    Entry("release", _FLOW, "Build an immutable release of the current git tree."),
    Entry("releases", _FLOW, "List releases, newest first."),
    Entry("plan", _FLOW, "Show what deploying a release to ENV would change."),
    Entry("deploy", _FLOW, "Deploy a release to ENV with write-audit-publish."),
    Entry("run", _FLOW,
          "Run the live release's pipeline on ENV's current inputs (write-audit-publish)."),
    Entry("promote", _FLOW, "Deploy to DEST the release live in SOURCE, when its gates hold."),
    Entry("approve", _FLOW, "Approve a release (default: the one live upstream) for ENV."),
    Entry("reject", _FLOW,
          "Reject a release for ENV: no command puts it there until a later approval."),
    Entry("rollback", _FLOW,
          "Re-point ENV to an earlier release and its data versions, without recomputing; "
          "migrations the earlier release lacks are undone first."),
    Entry("status", _FLOW,
          "Which release and data versions are live where; pending approvals."),
    Entry("history", _FLOW, "Deployments, runs, approvals and rollbacks: who, when, why."),
    Entry("load", _FLOW,
          "Copy FOLDER into ENV's object storage (the local stand-in for `aws s3 sync`)."),
    Entry("gc", _FLOW,
          "Drop dataset versions and releases that no retained live state refers to."),
    Entry("invoke", "sluice.cli.workflows:register_workflows",
          "Invoke a function locally, as Lambda would: its handler in a process of its own "
          "with its environment variables and timeout. Exit 1 when the function fails."),
    Entry("ship", _EXTRA,
          "Release the current commit and move it along the promotion order while gates "
          "hold."),
    Entry("demo", _EXTRA, "Walk the whole story on the retail example in a fresh workspace."),
    Entry("init", _EXTRA,
          "Scaffold a working project in DIRECTORY from a template (default: blank)."),
    Entry("serve", "sluice.cli.serve:register_serve",
          "Run the control plane for this project: the JSON API, pipeline executions, "
          "triggers and notifications. Stop it with Ctrl-C (or SIGTERM)."),
    Entry("login", "sluice.cli.serve:register_serve",
          "Store a token for a sluice server after checking it there; later commands use "
          "that server (team mode)."),
    Entry("logout", "sluice.cli.serve:register_serve",
          "Forget the stored token of a sluice server."),
    Entry("doctor", "sluice.cli.aws:register_aws",
          "Check that this machine can deploy to ENV: credentials, bucket, roles, "
          "permissions. Exits 1 when something would fail."),
    Entry("datasets", _EXPLORE,
          "List the datasets an environment serves: live version, rows, columns, when it was "
          "written, and versions kept in quarantine after a failed audit."),
    Entry("show", _EXPLORE,
          "Show the rows of a dataset in ENV (its live version unless --version)."),
    Entry("query", _EXPLORE,
          "Run a read-only SELECT against what ENV serves. Writing statements, several "
          "statements and file or network functions are refused (exit 2)."),
    Entry("quality", "sluice.cli.quality:quality_app", "Data-quality rules in DQDL."),
    Entry("migrate", "sluice.cli.migrate:migrate_app",
          "Warehouse schema migrations (Flyway-compatible)."),
    Entry("export", "sluice.cli.aws:export_app",
          "Export what an environment needs, for other tools."),
    Entry("users", "sluice.cli.users:users_app",
          "Users and service accounts of sluice serve, and their tokens."),
)


def build_app() -> typer.Typer:
    """The whole CLI as one Typer app, every command built (tests use it in-process);
    ``main()`` builds only the command it runs."""
    from sluice.cli.root import full_app

    return full_app()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: builds the root group and only the command it runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args.remove("--debug")
        os.environ["SLUICE_DEBUG"] = "1"
    if args == ["--version"]:  # answered before anything else is imported or built
        sys.stdout.write(f"sluice {__version__}\n")
        return
    # Start-up creates a few hundred thousand objects that live until exit (modules, classes,
    # pydantic schemas) and no garbage: the collector would walk them again and again while
    # importing, a third of the start-up. It stays off until the command's body starts
    # (sluice.cli.errors.start_up_done); at exit everything is frozen, so the final collection
    # does not walk it once more (objects alive at exit are not finalised by it anyway).
    gc.disable()
    try:
        from sluice.cli.errors import mask_output
        from sluice.cli.root import lazy_root

        mask_output()  # secrets never reach a terminal or a CI log
        lazy_root().main(args=args, prog_name="sluice")
    finally:
        gc.freeze()


def __getattr__(name: str) -> typer.Typer:
    """``app``, the full CLI, built on first use (tests and ``python -m`` use it)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


__all__ = ["COMMANDS", "Entry", "build_app", "main"]
