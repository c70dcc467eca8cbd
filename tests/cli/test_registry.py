"""The command table of ``sluice`` against the real commands, and what start-up imports.

``sluice --help`` lists :data:`sluice.cli.app.COMMANDS` without importing any command module,
so the table must match what the modules define: the same names, the same help lines, no
command left out. ``main()`` must give the same CLI as the full app that the in-process tests
use.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

import sluice.cli
from sluice.cli.app import COMMANDS, Entry, build_app
from sluice.cli.helpfmt import tidy_help
from sluice.cli.lazy import add_to, build_command, command_names
from sluice.cli.root import lazy_app, root_app


def _summary(help_text: str | None) -> str:
    """The first paragraph of a help text, on one line (what a command list shows)."""
    return " ".join((help_text or "").strip().split("\n\n")[0].split())


def _words(output: str) -> list[str]:
    return re.sub(r"[│╭╮╰╯─]", " ", output).split()


@pytest.mark.parametrize("entry", COMMANDS, ids=[e.name for e in COMMANDS])
def test_each_entry_is_the_command_its_module_defines(entry: Entry) -> None:
    command = build_command(entry, root_app, tidy_help)
    assert command.name == entry.name
    assert _summary(command.help) == entry.help


def test_no_module_defines_a_command_missing_from_the_table() -> None:
    names = [e.name for e in COMMANDS]
    assert len(set(names)) == len(names), "a name appears twice in COMMANDS"
    for target in dict.fromkeys(e.target for e in COMMANDS):
        app = root_app()
        add_to(app, next(e for e in COMMANDS if e.target == target))
        missing = set(command_names(app)) - set(names)
        assert not missing, f"{target} defines {sorted(missing)}, not in COMMANDS"


def test_every_registrar_and_group_of_the_cli_package_is_in_the_table() -> None:
    """A module of sluice.cli with a ``register…`` function or a Typer group that no entry
    points at would define commands that neither --help nor the console script knows."""
    targets = {e.target for e in COMMANDS}
    names_of: dict[int, set[str]] = {}  # a Typer group may be imported under other names
    for info in pkgutil.iter_modules(sluice.cli.__path__):
        if info.name == "__main__":  # runs the CLI when imported
            continue
        module = importlib.import_module(f"sluice.cli.{info.name}")
        for attr, value in vars(module).items():
            registrar = inspect.isfunction(value) and attr.startswith("register") and \
                value.__module__ == module.__name__
            if registrar or isinstance(value, typer.Typer):
                names_of.setdefault(id(value), set()).add(f"{module.__name__}:{attr}")
    assert [sorted(n) for n in names_of.values() if not n & targets] == []
    found = set().union(*names_of.values())
    assert targets - found == set()


def test_the_full_app_lists_the_commands_in_the_order_of_the_table() -> None:
    group = typer.main.get_command(build_app())
    assert isinstance(group, TyperGroup)
    assert list(group.commands) == [e.name for e in COMMANDS]


def test_help_of_the_console_script_is_the_help_of_the_full_app() -> None:
    runner = CliRunner()
    full = runner.invoke(build_app(), ["--help"], terminal_width=100)
    lazy = runner.invoke(lazy_app(), ["--help"], terminal_width=100)
    assert full.exit_code == lazy.exit_code == 0
    # the same words in the same order; line breaks may differ (the table's help lines are
    # one line each, a docstring's first paragraph may span several)
    assert _words(lazy.output) == _words(full.output)
    assert all(e.name in lazy.output for e in COMMANDS)


def test_a_mistyped_command_is_suggested_from_the_table() -> None:
    result = CliRunner().invoke(lazy_app(), ["stauts"])
    assert result.exit_code == 2
    assert "Did you mean 'status'?" in result.output


def test_a_group_runs_from_the_console_script() -> None:
    result = CliRunner().invoke(lazy_app(), ["migrate", "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "Warehouse schema migrations" in result.output and "apply" in result.output


HEAVY = ("typer", "rich", "sluice.cli.flow", "sluice.cli.check", "sluice.deploy.deployer",
         "sluice.project.graph", "sqlglot", "duckdb", "pandas", "pyarrow", "lark", "cfnlint")

PROBE = textwrap.dedent("""
    import json, sys
    from sluice.cli.app import main
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        assert not exc.code, exc.code
    heavy = json.loads(sys.stdin.read())
    print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
""")


def _imported(args: list[str], cwd: Path) -> list[str]:
    """The modules of HEAVY that ``sluice ARGS`` has imported once it is done."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], input=json.dumps(HEAVY),
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stderr.strip().splitlines()[-1])
    return loaded


def test_version_imports_nothing_heavy(tmp_path: Path) -> None:
    assert _imported(["--version"], tmp_path) == []


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    assert _imported(["--help"], tmp_path) == ["rich", "typer"]


def test_status_imports_neither_the_deployer_nor_sqlglot(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(textwrap.dedent("""
        project: startup
        datasets:
          marts.totals:
            contract:
              columns:
                id: {type: BIGINT, nullable: false}
                amount: double
        jobs:
          totals: {type: sql, sql: jobs/totals.sql, output: marts.totals}
        environments:
          dev: {target: {type: local}}
          prod: {target: {type: local}, protection: {approval_required: true}}
        promotion: [dev, prod]
    """))
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "totals.sql").write_text("SELECT 1 AS id, 2.0 AS amount\n")
    assert _imported(["status"], tmp_path) == ["rich", "sluice.cli.flow", "typer"]


@pytest.mark.parametrize("path", [["promote"], ["history"], ["quality", "check"], ["query"]])
def test_a_command_has_the_same_help_in_the_console_script(path: list[str]) -> None:
    runner = CliRunner()
    full = runner.invoke(build_app(), [*path, "--help"], prog_name="sluice", terminal_width=80)
    lazy = runner.invoke(lazy_app(), [*path, "--help"], prog_name="sluice", terminal_width=80)
    assert full.exit_code == lazy.exit_code == 0, lazy.output
    assert lazy.output == full.output
    assert "<bool>" not in lazy.output
