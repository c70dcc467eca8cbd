"""Every command's help: each option and argument says what it does, and the rendered
``--help`` (80 columns, as when piped) has no placeholder noise."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sluice.cli.app import build_app

#: Python types (`<bool>`, `<int range>`, `<list[str]>`), `{env}` for required arguments,
#: defaults nobody chose.
ODD = re.compile(r"<[a-z][a-z \[\],]*>|\{[A-Za-z_][\w-]*\}|\[default: (None|)\]|\[default: \[\]\]")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(build_app())))
IDS = [" ".join(path) or "sluice" for path, _ in COMMANDS]


def test_the_walk_sees_the_whole_tree() -> None:
    paths = {path for path, _ in COMMANDS}
    for expected in [(), ("init",), ("deploy",), ("quality", "check"), ("migrate", "apply")]:
        assert expected in paths


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_option_and_argument_has_a_help_text(path: tuple[str, ...], command: Any) -> None:
    missing = [param.name for param in command.params
               if not (getattr(param, "help", None) or "").strip()]
    assert missing == [], f"sluice {' '.join(path)}: no help for {missing}"
    assert (command.help or "").strip(), f"sluice {' '.join(path)} has no description"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_rendered_help_has_no_placeholder_noise(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(build_app(), [*path, "--help"], prog_name="sluice",
                                env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"Usage: sluice {' '.join(path)}".replace("  ", " ").strip() in text
    odd = [m.group(0) for m in ODD.finditer(text)]
    assert odd == [], f"sluice {' '.join(path)} --help shows {odd}:\n{text}"
    assert max(len(line) for line in text.splitlines()) <= 80


def test_usage_names_arguments_as_conventions_do() -> None:
    runner = CliRunner()
    promote = runner.invoke(build_app(), ["promote", "--help"], prog_name="sluice",
                            env={"COLUMNS": "80"})
    assert "Usage: sluice promote [OPTIONS] SOURCE DEST" in promote.output
    history = runner.invoke(build_app(), ["history", "--help"], prog_name="sluice",
                            env={"COLUMNS": "80"})
    assert "Usage: sluice history [OPTIONS] [ENV]" in history.output
    missing = runner.invoke(build_app(), ["promote"], prog_name="sluice", env={"COLUMNS": "80"})
    assert missing.exit_code == 2
    assert "Missing argument 'SOURCE'" in missing.output
