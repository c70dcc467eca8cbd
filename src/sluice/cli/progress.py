"""The progress of ``plan``, ``deploy``, ``run``, ``promote`` and ``ship`` on stderr.

The deployer reports steps as ``(step, state)`` (``started``, ``done``, ``failed``,
``skipped``, ``event`` for a streamed line such as a stack event, ``progress`` for a live
status such as a Spark job's stage). Every finished step becomes one line with its elapsed
time (``✓ run:orders  1.24s``), on a terminal and when piped alike; on a terminal a live line
below them shows the running step, its elapsed time (ticking) and its latest progress.
Elapsed time is measured from the step's ``started`` report, or for a step reported only
once finished, from the previous report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

_MARKS = {"done": ("✓", "green"), "failed": ("✗", "red"), "skipped": ("↷", "yellow")}


def elapsed(seconds: float) -> str:
    """``0.04s``, ``12.3s``, ``2m05s``, ``1h02m``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class StepProgress:
    """The ``on_step`` callback of the flow commands (see the module docstring)."""

    def __init__(self, console: Console, label: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.label = label
        self.clock = clock
        self.started: dict[str, float] = {}
        self.last = clock()
        self.current: str | None = None
        self.detail = ""

    def __call__(self, step: str, state: str) -> None:
        now = self.clock()
        if state == "started":
            self.started[step] = now
            self.current, self.detail = step, ""
        elif state == "progress":
            name, _, detail = step.partition(": ")
            self.current = name if name in self.started else self.current or name
            self.detail = detail
        elif state == "event":
            self.console.print(Text(f"  … {step}", style="dim"))
        else:
            begun = self.started.pop(step, self.last)
            mark, style = _MARKS.get(state, ("•", ""))
            line = Text.assemble(("  " + mark, style), f" {step}  ",
                                 (elapsed(now - begun), "dim"))
            if self.current == step:  # before printing: the live line redraws below it
                self.current, self.detail = None, ""
            self.console.print(line)
        if state != "progress":
            self.last = now

    def __rich__(self) -> Text:
        """The live line: what runs now, for how long, and its latest progress."""
        if self.current is None:
            return Text(self.label)
        since = self.started.get(self.current, self.last)
        text = f"{self.label}: {self.current} {elapsed(self.clock() - since)}"
        return Text(text + (f" — {self.detail}" if self.detail else ""))


@contextmanager
def step_progress(console: Console, label: str,
                  quiet: bool) -> Iterator[Callable[[str, str], None]]:
    """An ``on_step`` for a command: silent when ``quiet`` (``--json``), a live line only on
    a terminal, the finished steps with their elapsed times in any case."""
    if quiet:
        yield lambda step, state: None
        return
    progress = StepProgress(console, label)
    if not console.is_terminal:
        yield progress
        return
    with console.status(progress):
        yield progress


__all__ = ["StepProgress", "elapsed", "step_progress"]
