"""How ``--help`` shows parameters: conventional usage lines and no type noise on flags.

Typer writes a required argument as ``{env}`` in the usage line (it reads like a format
placeholder nobody filled in) and a ``<bool>`` type next to every flag (``--json``,
``--help``). :func:`tidy_help` makes every command of an app use :class:`SluiceCommand` /
:class:`SluiceGroup`, which show ``sluice plan [OPTIONS] ENV``, ``[ENV]`` for an optional
argument, flags without a type and options whose value is named after them. Commands
that set a class of their own keep it.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class _Argument(TyperArgument):
    """An argument whose help row shows its name alone: ``ENV``, not ``ENV <str>``."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _tidy(param: Any) -> None:
    if isinstance(param, TyperArgument):
        if param.metavar is None:
            param.metavar = (param.name or "arg").upper()
        param.__class__ = _Argument
    elif isinstance(param, TyperOption) and param.metavar is None:
        # a flag takes no value: no `<bool>` in its row; an option's value is named after
        # it (`--limit LIMIT`), not after a Python type (`<int range>`, `<list[str]>`)
        param.metavar = "" if param.is_flag else (param.name or "value").upper()


def _usage(param: Any) -> list[str]:
    if not isinstance(param, TyperArgument):
        return []
    name = param.metavar or (param.name or "arg").upper()
    piece = name if param.required else f"[{name}]"
    return [piece + ("..." if param.nargs != 1 else "")]


class _Tidy:
    """Mixed into typer's command classes (before them in the MRO)."""

    options_metavar: str | None

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            _tidy(param)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            pieces.extend(_usage(param))
        return pieces


class SluiceCommand(_Tidy, TyperCommand):
    """A command whose help has conventional usage and untyped flags."""


class SluiceGroup(_Tidy, TyperGroup):
    """A command group whose help has conventional usage and untyped flags."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*super().collect_usage_pieces(ctx), self.subcommand_metavar]


def _default(cls: object, base: type) -> bool:
    """Typer's own class (or none, or its default placeholder): not chosen by the command."""
    return cls is None or cls is base or not isinstance(cls, type)


def tidy_help(app: typer.Typer) -> typer.Typer:
    """Make ``app``, its commands and its sub-apps (recursively) use the classes above."""
    if _default(app.info.cls, TyperGroup):
        app.info.cls = SluiceGroup
    for command in app.registered_commands:
        if _default(command.cls, TyperCommand):
            command.cls = SluiceCommand
    for group in app.registered_groups:
        if _default(group.cls, TyperGroup):
            group.cls = SluiceGroup
        if group.typer_instance is not None:
            tidy_help(group.typer_instance)
    return app
