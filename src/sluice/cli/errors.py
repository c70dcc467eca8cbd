"""Turn exceptions into ``Error:``/``Tip:`` lines and exit codes; no tracebacks by default."""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from sluice.errors import SluiceError

P = ParamSpec("P")
R = TypeVar("R")


def debug_enabled() -> bool:
    return os.environ.get("SLUICE_DEBUG", "") not in {"", "0", "false"}


def print_error(exc: SluiceError) -> None:
    err = Console(stderr=True)
    err.print(Text(f"Error: {exc.message}", style="bold red"))
    if exc.tip:
        err.print(Text(f"Tip: {exc.tip}", style="cyan"))


def guarded(fn: Callable[P, int]) -> Callable[P, None]:
    """Run a command body; its int result is the exit code; SluiceError → Error/Tip lines."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            code = fn(*args, **kwargs)
        except SluiceError as exc:
            if debug_enabled():
                traceback.print_exc()
            print_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug_enabled():
                traceback.print_exc()
            Console(stderr=True).print(
                Text(f"Error: internal error: {type(exc).__name__}: {exc}", style="bold red")
            )
            Console(stderr=True).print(
                Text("Tip: re-run with --debug and report the traceback", style="cyan")
            )
            raise typer.Exit(3) from None
        raise typer.Exit(code)

    return wrapper
