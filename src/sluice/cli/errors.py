"""Turn exceptions into ``Error:``/``Tip:`` lines and exit codes; no tracebacks by default.

Everything the CLI prints is masked: :func:`mask_output` wraps ``sys.stdout`` and
``sys.stderr`` so that no known secret value (:mod:`sluice.secrecy`) reaches a terminal or a
CI log, whichever command printed it; the error printer masks on its own too.
"""

from __future__ import annotations

import functools
import gc
import io
import os
import sys
import traceback
from collections.abc import Callable
from typing import ParamSpec, TextIO, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from sluice.errors import SluiceError
from sluice.secrecy import mask

P = ParamSpec("P")
R = TypeVar("R")


def debug_enabled() -> bool:
    return os.environ.get("SLUICE_DEBUG", "") not in {"", "0", "false"}


class MaskedStream(io.TextIOBase):
    """A text stream that masks secret values in everything written to it.

    Only ``str`` is accepted (click then writes text, not bytes), and the underlying
    ``buffer`` is not exposed, so nothing can write around the mask.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self.inner.write(mask(s))
        return len(s)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.inner.errors


def mask_output() -> None:
    """Mask secrets in all further output of this process (the CLI's entry point)."""
    if not isinstance(sys.stdout, MaskedStream):
        sys.stdout = MaskedStream(sys.stdout)
    if not isinstance(sys.stderr, MaskedStream):
        sys.stderr = MaskedStream(sys.stderr)


def print_error(exc: SluiceError) -> None:
    err = Console(stderr=True)
    err.print(Text(f"Error: {mask(exc.message)}", style="bold red"))
    if exc.tip:
        err.print(Text(f"Tip: {mask(exc.tip)}", style="cyan"))


def start_up_done() -> None:
    """A command is about to run (the root callback calls this). The console script keeps
    the garbage collector off while it imports and builds the command (``main()``): what
    exists by now are modules, classes and schemas that live as long as the process, so they
    are frozen (never scanned again) and collection resumes for the command's own objects.
    In-process (tests) nothing changes."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


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
        except OSError as exc:
            # the surroundings, not sluice: a path that is a file, a full disk, no permission
            if debug_enabled():
                traceback.print_exc()
            where = f": {exc.filename}" if exc.filename else ""
            print_error(SluiceError(f"{exc.strerror or exc}{where}",
                                    tip="check that path (its folders, type and permissions)"))
            raise typer.Exit(2) from None
        except Exception as exc:
            if debug_enabled():
                traceback.print_exc()
            Console(stderr=True).print(
                Text(f"Error: internal error: {type(exc).__name__}: {mask(str(exc))}",
                     style="bold red")
            )
            Console(stderr=True).print(
                Text("Tip: re-run with --debug and report the traceback", style="cyan")
            )
            raise typer.Exit(3) from None
        raise typer.Exit(code)

    return wrapper
