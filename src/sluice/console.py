"""The reporter contract: library code reports through it and never prints.

``RichReporter`` draws tables on a terminal, ``JsonReporter`` writes one JSON document for
scripts, ``NullReporter`` swallows everything (tests, embedding).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sluice.errors import SluiceError
from sluice.quality.results import Outcome, RuleResult, RulesetResult

_STYLE = {Outcome.PASS: "green", Outcome.WARN: "yellow", Outcome.FAIL: "red",
          Outcome.ERROR: "bold red"}


class Reporter(Protocol):
    def ruleset_result(self, result: RulesetResult) -> None: ...

    def error(self, exc: SluiceError) -> None: ...

    def info(self, message: str) -> None: ...


class NullReporter:
    def ruleset_result(self, result: RulesetResult) -> None:
        pass

    def error(self, exc: SluiceError) -> None:
        pass

    def info(self, message: str) -> None:
        pass


class JsonReporter:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def ruleset_result(self, result: RulesetResult) -> None:
        json.dump(result.to_dict(), self.stream, indent=2, default=str)
        self.stream.write("\n")

    def error(self, exc: SluiceError) -> None:
        doc: dict[str, Any] = {"error": exc.message, "type": type(exc).__name__}
        if exc.tip:
            doc["tip"] = exc.tip
        json.dump(doc, self.stream, indent=2)
        self.stream.write("\n")

    def info(self, message: str) -> None:
        pass


class RichReporter:
    def __init__(self, console: Console | None = None, err: Console | None = None) -> None:
        self.console = console or Console()
        self.err = err or Console(stderr=True)

    def ruleset_result(self, result: RulesetResult) -> None:
        table = Table(title=f"{result.ruleset} on {result.dataset} ({result.engine})",
                      title_justify="left", expand=False)
        table.add_column("", no_wrap=True)
        table.add_column("rule", overflow="fold", max_width=60)
        table.add_column("metric", overflow="fold")
        table.add_column("failing rows", justify="right")
        table.add_column("detail", overflow="fold", max_width=60)
        for r in result.results:
            self._row(table, r, 0)
        self.console.print(table)
        for r in _walk(result.results):
            if r.sample:
                self._sample(r)
        counts = result.counts()
        summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        style = _STYLE[result.outcome]
        self.console.print(
            Text(f"{result.outcome.value.upper()}: {summary} "
                 f"in {result.elapsed_seconds:.2f}s", style=style)
        )

    def _row(self, table: Table, r: RuleResult, depth: int) -> None:
        metric = ", ".join(f"{_short(k)}={_fmt(v)}" for k, v in list(r.metrics.items())[:2])
        failing = "" if r.failing_rows is None else f"{r.failing_rows:,}"
        table.add_row(
            Text(r.outcome.value.upper(), style=_STYLE[r.outcome]),
            ("  " * depth) + r.rule, metric, failing, r.message,
        )
        for c in r.children:
            self._row(table, c, depth + 1)

    def _sample(self, r: RuleResult) -> None:
        if not r.sample:
            return
        t = Table(title=f"sample of failing rows: {r.rule} ({r.location})",
                  title_justify="left")
        cols = list(r.sample[0])
        for c in cols:
            t.add_column(c, overflow="fold")
        for row in r.sample:
            t.add_row(*[_fmt(row.get(c)) for c in cols])
        self.console.print(t)

    def error(self, exc: SluiceError) -> None:
        self.err.print(Text(f"Error: {exc.message}", style="bold red"))
        if exc.tip:
            self.err.print(Text(f"Tip: {exc.tip}", style="cyan"))

    def info(self, message: str) -> None:
        self.err.print(Text(message, style="dim"))


def _walk(results: list[RuleResult]) -> list[RuleResult]:
    out: list[RuleResult] = []
    for r in results:
        out.append(r)
        out.extend(_walk(r.children))
    return out


def _short(metric: str) -> str:
    return metric.split(".")[-1] if metric.count(".") >= 2 else metric


def _fmt(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
