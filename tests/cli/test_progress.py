"""Step lines with their elapsed time; the live line of the running step."""

from __future__ import annotations

import io

from rich.console import Console

from sluice.cli.progress import StepProgress, elapsed, step_progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress() -> tuple[StepProgress, Clock, io.StringIO]:
    buf = io.StringIO()
    clock = Clock()
    console = Console(file=buf, width=80, no_color=True, highlight=False)
    return StepProgress(console, "deploying to dev", clock=clock), clock, buf


def test_elapsed_formats() -> None:
    assert elapsed(0.041) == "0.04s"
    assert elapsed(12.34) == "12.3s"
    assert elapsed(125) == "2m05s"
    assert elapsed(3720) == "1h02m"


def test_each_finished_step_is_one_line_with_its_elapsed_time() -> None:
    progress, clock, buf = _progress()
    clock.now += 0.5
    progress("verify", "done")  # reported only when done: since the previous report
    progress("run:orders", "started")
    clock.now += 2.25
    progress("run:orders: Spark job 1, stage 2/3, 5/8 tasks", "progress")
    clock.now += 1.0
    progress("run:orders", "done")
    progress("run:daily", "skipped")
    progress("stack retail-dev UPDATE_COMPLETE", "event")
    progress("audit:staging.orders", "started")
    clock.now += 0.1
    progress("audit:staging.orders", "failed")
    assert buf.getvalue().splitlines() == [
        "  ✓ verify  0.50s",
        "  ✓ run:orders  3.25s",
        "  ↷ run:daily  0.00s",
        "  … stack retail-dev UPDATE_COMPLETE",
        "  ✗ audit:staging.orders  0.10s",
    ]


def test_the_live_line_shows_the_running_step_its_time_and_progress() -> None:
    progress, clock, buf = _progress()
    assert progress.__rich__().plain == "deploying to dev"
    progress("run:orders", "started")
    clock.now += 4
    assert progress.__rich__().plain == "deploying to dev: run:orders 4.00s"
    progress("run:orders: Spark job 1, stage 2/3, 5/8 tasks", "progress")
    clock.now += 1
    assert progress.__rich__().plain == \
        "deploying to dev: run:orders 5.00s — Spark job 1, stage 2/3, 5/8 tasks"
    assert buf.getvalue() == ""  # progress is never a line of its own
    progress("run:orders", "done")
    assert progress.__rich__().plain == "deploying to dev"


def test_piped_output_has_no_live_line_and_json_has_nothing() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=80, no_color=True)  # a file: not a terminal
    with step_progress(console, "deploying", quiet=False) as on_step:
        on_step("run:orders", "started")
        on_step("run:orders: Spark job 1, stage 1/1, 0/2 tasks", "progress")
        on_step("run:orders", "done")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("  ✓ run:orders  ")
    quiet = io.StringIO()
    with step_progress(Console(file=quiet), "deploying", quiet=True) as on_step:
        on_step("run:orders", "done")
    assert quiet.getvalue() == ""
