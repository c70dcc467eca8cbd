"""``sluice datasets``, ``sluice show`` and ``sluice query``: look at what an environment
serves (docs/explore.md). The data access is :mod:`sluice.explore`; this module only prints."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sluice.cli.errors import guarded

if TYPE_CHECKING:
    from rich.console import Console

    from sluice.explore import Rows
    from sluice.project.workspace import Workspace

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _console() -> Console:
    from rich.console import Console

    return Console()


@contextmanager
def _workspace() -> Iterator[Workspace]:
    from sluice.project.workspace import Workspace

    ws = Workspace.open()
    try:
        yield ws
    finally:
        ws.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=_json_default))


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _print_rows(result: Rows, as_json: bool, as_csv: bool, what: str) -> None:
    if as_json:
        _emit(result.to_dict())
        return
    if as_csv:
        for mark in result.quarantined:  # stdout is the data: the marker goes to stderr
            typer.echo(f"QUARANTINED: {mark} was refused by an audit and never published",
                       err=True)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
        typer.echo(buf.getvalue(), nl=False)
        return
    from rich.text import Text

    out = _console()
    for mark in result.quarantined:
        out.print(Text(f"QUARANTINED: {mark} was refused by an audit and never published",
                       style="bold yellow"))
    out.print(_table(result.columns, [[_cell(v) for v in row] for row in result.rows], what))
    more = " (more rows exist: raise --limit)" if result.truncated else ""
    count = len(result.rows)
    out.print(Text(f"{count} row{'' if count == 1 else 's'}{more}", style="dim"))


def _table(columns: Sequence[str], rows: list[list[str]], title: str | None,
           whole: Collection[int] = (), min_width: Mapping[int, int] | None = None) -> Any:
    """A rich table whose cells wrap, never cut with an ellipsis, at any width; the columns
    in ``whole`` (names and ids) keep their longest value on one line."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    # no vertical rules: at 80 columns every character goes to the values; Text, not str:
    # data is never read as rich markup. Headers are never cut either.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, 0, 0, 0))  # the box's space divides the columns
    for n, name in enumerate(columns):
        widest = (max([len(r[n]) for r in rows] + [len(name)]) if n in whole
                  else max((min_width or {}).get(n, 0), len(name)))
        table.add_column(Text(name), overflow="fold", min_width=widest, no_wrap=n in whole)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    # the title on a line of its own: a table's title wraps to the table's width
    return Group(Text(title), table) if title else table


def register_explore(app: typer.Typer) -> None:
    """Add ``datasets``, ``show`` and ``query`` to the root app."""

    @app.command("datasets")
    @guarded
    def datasets_cmd(
        env: Annotated[str | None, typer.Argument(
            help="Environment (default: every environment deployed to).")] = None,
        as_json: JsonOpt = False,
    ) -> int:
        """List the datasets an environment serves: live version, rows, columns, when it was
        written, and versions kept in quarantine after a failed audit."""
        from sluice.explore import list_datasets, local_time
        from sluice.explore.data import DATASET_COLUMNS

        with _workspace() as ws:
            items = list_datasets(ws, env)
        if as_json:
            _emit([i.to_dict() for i in items])
            return 0
        out = _console()
        if not items:
            out.print("no environment has been deployed to yet (sluice deploy ENV)")
            return 0
        # a table per environment, its name the title; the quarantined versions (ids) are
        # listed whole below it, since the table shows their count
        for name in dict.fromkeys(i.env for i in items):
            mine = [i for i in items if i.env == name]
            rows = [[i.dataset, i.live_version or "-", "-" if i.rows is None else str(i.rows),
                     "-" if i.columns is None else str(i.columns), local_time(i.updated),
                     str(len(i.quarantined)) if i.quarantined else "-"] for i in mine]
            out.print(_table(DATASET_COLUMNS[1:], rows, f"{name}:", whole={0, 1, 2, 3, 5},
                             min_width={4: 10}))
            for i in mine:
                for v in i.quarantined:
                    out.print(f"quarantined: {i.dataset} {v}")
        return 0

    @app.command("show")
    @guarded
    def show_cmd(
        env: Annotated[str, typer.Argument(help="Environment.")],
        dataset: Annotated[str, typer.Argument(help="Dataset, e.g. staging.orders.")],
        version: Annotated[str | None, typer.Option(
            "--version", help="A version other than the live one: a retained or a "
                              "quarantined one (listed by sluice datasets).")] = None,
        limit: Annotated[int, typer.Option(
            "--limit", min=0, help="Rows to show (0: all).")] = 20,
        as_json: JsonOpt = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    ) -> int:
        """Show the rows of a dataset in ENV (its live version unless --version)."""
        from sluice.explore import show

        with _workspace() as ws:
            result = show(ws, env, dataset, version=version, limit=limit)
        (name, ver), = result.read.items()
        _print_rows(result, as_json, as_csv, f"{env}: {name} @ {ver}")
        return 0

    @app.command("query")
    @guarded
    def query_cmd(
        env: Annotated[str, typer.Argument(help="Environment.")],
        sql: Annotated[str, typer.Argument(
            help="One SELECT over the datasets ENV serves and the project's sources.")],
        version: Annotated[list[str] | None, typer.Option(
            "--version", help="Read DATASET=VERSION instead of the live version (a retained "
                              "or quarantined one); repeatable.")] = None,
        limit: Annotated[int, typer.Option(
            "--limit", min=0, help="Rows to return at most (0: all).")] = 1000,
        as_json: JsonOpt = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    ) -> int:
        """Run a read-only SELECT against what ENV serves. Writing statements, several
        statements and file or network functions are refused (exit 2)."""
        from sluice.explore import parse_pins, query

        pins = parse_pins(version or [])
        with _workspace() as ws:
            result = query(ws, env, sql, pins=pins, limit=limit)
        _print_rows(result, as_json, as_csv, f"{env}: query")
        return 0


__all__ = ["register_explore"]
