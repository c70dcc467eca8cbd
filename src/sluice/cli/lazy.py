"""A root command group that knows its commands from a table and imports only the one invoked.

``sluice --help`` lists every command from the table (name and one-line help) without importing
a command module; ``sluice status`` imports the module that defines ``status`` and builds that
command alone, so start-up does not pay for the deployer, DuckDB or sqlglot unless the command
uses them. The table (:data:`sluice.cli.app.COMMANDS`) is checked against the real commands by
``tests/cli/test_registry.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer import _click as click  # the click that typer builds its commands with
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_name
from typer.models import CommandInfo

if TYPE_CHECKING:
    from sluice.cli.app import Entry


def add_to(app: typer.Typer, entry: Entry) -> None:
    """Add what ``entry`` points at to ``app`` (every command its registrar defines)."""
    obj = entry.load()
    if isinstance(obj, typer.Typer):
        app.add_typer(obj, name=entry.name)
    elif callable(obj):
        obj(app)
    else:
        raise TypeError(f"{entry.target} is neither a Typer app nor a register function")


def _name(info: CommandInfo) -> str:
    if info.name:
        return info.name
    assert info.callback is not None
    return get_command_name(info.callback.__name__)  # typer's name for an unnamed command


def command_names(app: typer.Typer) -> list[str]:
    """Names of the commands and groups registered on ``app``, in registration order."""
    return [_name(c) for c in app.registered_commands] + \
        [str(g.name) for g in app.registered_groups]


def build_command(entry: Entry, make_root: Callable[[], typer.Typer],
                  finish: Callable[[typer.Typer], typer.Typer] = lambda app: app,
                  ) -> click.Command:
    """The click command of ``entry`` alone: its registrar runs on a throwaway root app, and
    only the command named ``entry.name`` is built (building means inspecting every parameter
    of a command function, which the other commands of the module do not need)."""
    root = make_root()
    add_to(root, entry)
    root.registered_commands = [c for c in root.registered_commands if _name(c) == entry.name]
    root.registered_groups = [g for g in root.registered_groups if g.name == entry.name]
    group = typer.main.get_command(finish(root))
    assert isinstance(group, TyperGroup)
    command = group.commands.get(entry.name)
    if command is None:  # the table and the module disagree; tests/cli/test_registry.py
        raise LookupError(f"{entry.target} does not define the command {entry.name!r}")
    return command


class _Commands(MutableMapping[str, click.Command]):
    """The root's commands: every name of the table, each built on first access."""

    def __init__(self, entries: Mapping[str, Entry],
                 build: Callable[[Entry], click.Command]) -> None:
        self.entries = entries
        self.build = build
        self.built: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.built:
            entry = self.entries[name]  # KeyError: no such command
            self.built[name] = self.build(entry)
        return self.built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        del self.built[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.entries
        yield from (n for n in self.built if n not in self.entries)

    def __len__(self) -> int:
        return len(set(self.entries) | set(self.built))


class LazyGroup(TyperGroup):
    """A Typer root group whose commands come from a table of :class:`Entry`.

    A subclass sets :attr:`entries` and :meth:`build` (typically :func:`build_command`).
    """

    entries: ClassVar[Mapping[str, Entry]] = {}

    @staticmethod
    def build(entry: Entry) -> click.Command:
        """The click command of ``entry``."""
        raise NotImplementedError

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.entries, self.build)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        commands = self.commands
        assert isinstance(commands, _Commands)
        if self._listing and cmd_name not in commands.built and cmd_name in self.entries:
            # `sluice --help` shows the name and the help of the table, nothing imported
            return TyperCommand(name=cmd_name, help=self.entries[cmd_name].help)
        return commands.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
