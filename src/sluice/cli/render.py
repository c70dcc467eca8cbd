"""Tables of the flow commands that stay readable at 80 columns (the width when piped).

One rule links a table to its ``--json`` twin: every column header, lowercased with spaces
as underscores (:func:`json_key`), is a field of each JSON object ("live release" ↔
``live_release``). JSON may carry more fields than fit in a table (nested details, raw
payloads), never fewer.

Nothing that identifies something (release ids, dataset names, versions) is ever cut short:
cells wrap between words, and a word never breaks. When the longest words of all columns
cannot sit side by side within the console's width, the table is drawn as one block per row
("header: value" lines) instead, or, for a log with a long ``detail`` column (``history``),
as one entry per row: the short cells on a line and the detail as a paragraph below.
Timestamps in tables are local time to the second with the zone (:func:`local_time`); JSON
keeps ISO 8601 with the offset (:func:`iso_time`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

Cell = str | Text


@dataclass(frozen=True)
class Column:
    """A table column: its header (which is also its JSON key) and alignment."""

    header: str
    justify: str = "left"

    @property
    def key(self) -> str:
        return json_key(self.header)


@dataclass
class View:
    """One listing, as a table and as JSON records with a field per column (and maybe more).

    ``rows[i]`` and ``records[i]`` describe the same item; :meth:`check` holds the rule.
    """

    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, cells: Sequence[Cell], record: dict[str, Any]) -> None:
        self.rows.append(list(cells))
        self.records.append(record)

    def check(self) -> None:
        """Raise if a record lacks a column's key (a programming error, not bad input)."""
        keys = [c.key for c in self.columns]
        for record in self.records:
            missing = [k for k in keys if k not in record]
            if missing:
                raise AssertionError(f"JSON record without the columns {missing}: {record}")

    def print(self, console: Console, title: str | None = None,
              detail: str | None = None) -> None:
        """As a table; too narrow for one, one entry per row (see :func:`print_table`)."""
        print_table(console, self.columns, self.rows, title, detail)


def json_key(header: str) -> str:
    """The ``--json`` field of a column: ``"Live release"`` → ``"live_release"``."""
    return "_".join(header.lower().replace("-", " ").split())


def local_time(moment: dt.datetime | str | None, naive_local: bool = False) -> str:
    """``moment`` in local time to the second with its zone: ``2026-12-02 16:04:05 UTC``
    (or ``+01:00`` where the zone has no name); ``-`` for nothing. A naive datetime is UTC
    (the state store writes UTC only) or, with ``naive_local``, local time (a database
    session's ``CURRENT_TIMESTAMP`` in a ``TIMESTAMP`` column); text that is not a timestamp
    is returned as it is."""
    if moment is None or moment == "":
        return "-"
    aware = _aware(moment, naive_local)
    if aware is None:
        return str(moment)
    local = aware.astimezone()
    zone = local.strftime("%Z")
    if not zone or zone[0] in "+-":  # e.g. "+01" on systems without zone names
        offset = local.strftime("%z")
        zone = f"{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%d %H:%M:%S} {zone}"


def iso_time(moment: dt.datetime | str | None, naive_local: bool = False) -> str | None:
    """``moment`` as ISO 8601 with its UTC offset, for JSON (naive: as in :func:`local_time`)."""
    if moment is None:
        return None
    aware = _aware(moment, naive_local)
    return str(moment) if aware is None else aware.isoformat()


def _aware(moment: dt.datetime | str, naive_local: bool = False) -> dt.datetime | None:
    """``moment`` as an aware datetime; None for text that is no time."""
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment.strip())
        except ValueError:
            return None
    if moment.tzinfo is not None:
        return moment
    return moment.astimezone() if naive_local else moment.replace(tzinfo=dt.UTC)


def build_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
                title: str | None = None, width: int | None = None) -> Table:
    """A table whose cells wrap between words and fold (never "…") what cannot wrap; with
    ``width``, each column gets at least its longest word (see :func:`column_widths`)."""
    table = Table(title=title, title_justify="left")
    sizes = None if width is None else column_widths(columns, rows, width)
    for i, col in enumerate(columns):
        table.add_column(col.header, overflow="fold", no_wrap=False,
                         justify=col.justify,  # type: ignore[arg-type]
                         width=None if sizes is None else sizes[i])
    for row in rows:
        table.add_row(*row)
    return table


_PADDING = 2  # rich's default cell padding: one space either side


def _words(cell: Cell) -> list[str]:
    return str(cell.plain if isinstance(cell, Text) else cell).split()


def _lines(cell: Cell) -> list[str]:
    return str(cell.plain if isinstance(cell, Text) else cell).splitlines() or [""]


def column_widths(columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
                  width: int) -> list[int] | None:
    """Content widths giving every column its longest word (header included) and sharing
    what is left up to each column's longest line; None when the longest words alone do
    not fit in ``width`` (rich itself would then break words or cut them short)."""
    cells = [[col.header, *(row[i] for row in rows)] for i, col in enumerate(columns)]
    least = [max((len(w) for c in col for w in _words(c)), default=1) for col in cells]
    most = [max(len(line) for c in col for line in _lines(c)) for col in cells]
    most = [max(a, b) for a, b in zip(least, most, strict=True)]
    room = width - (len(columns) + 1) - _PADDING * len(columns)  # borders and padding
    if sum(least) > room:
        return None
    sizes = list(least)
    spare = room - sum(sizes)
    while spare > 0 and any(s < m for s, m in zip(sizes, most, strict=True)):
        for i, m in enumerate(most):  # one column at a time, so no column starves
            if spare and sizes[i] < m:
                sizes[i] += 1
                spare -= 1
    return sizes


def _text(cell: Cell) -> Text:
    return cell.copy() if isinstance(cell, Text) else Text(str(cell))


def hanging(console: Console, prefix: str, cell: Cell, indent: int) -> list[Text]:
    """``cell`` wrapped to the console's width after ``prefix``, later lines indented to
    ``indent``; words longer than a line fold; no trailing spaces."""
    width = max(console.width - indent, 20)
    lines: list[Text] = []
    for part in _text(cell).split("\n"):
        wrapped = part.wrap(console, width, overflow="fold") if part.plain else [Text("")]
        lines.extend(wrapped)
    out = []
    for n, line in enumerate(lines):
        line.rstrip()
        lead = prefix.ljust(indent) if n == 0 else " " * indent
        out.append(Text.assemble(Text(lead, style="dim" if n == 0 else ""), line))
    return out


def blocks(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
           title: str | None = None) -> list[Text]:
    """``rows`` as one block each: the first cell as a heading, then "header: value"."""
    out: list[Text] = []
    if title:
        out.append(Text(title, style="bold"))
    indent = max((len(c.header) for c in columns[1:]), default=0) + 4
    for row in rows:
        out += hanging(console, f"{columns[0].header}: ", row[0], len(columns[0].header) + 2)
        for col, cell in zip(columns[1:], row[1:], strict=True):
            if not str(cell).strip():
                continue
            if max(map(len, _words(cell))) > console.width - indent:  # below, not beside
                out.append(Text(f"  {col.header}:", style="dim"))
                out += hanging(console, "", cell, 4)
            else:
                out += hanging(console, f"  {col.header}:", cell, indent)
    return out


def entries(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
            detail: str, title: str | None = None) -> list[Text]:
    """``rows`` as one entry each: the short cells on a line, then the ``detail`` column as
    a paragraph indented below them (a log: ``history``)."""
    out: list[Text] = []
    if title:
        out.append(Text(title, style="bold"))
    at = [c.header for c in columns].index(detail)
    for row in rows:
        head = Text("  ").join(_text(c) for i, c in enumerate(row) if i != at and str(c))
        out += hanging(console, "", head, 0)
        out += hanging(console, "", row[at], 4)
    return out


def print_table(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]],
                title: str | None = None, detail: str | None = None) -> None:
    """Print ``rows`` as a table when its words fit the console, else one entry per row
    (with a ``detail`` column) or one block per row."""
    if column_widths(columns, rows, console.width) is not None:
        console.print(build_table(columns, rows, title, width=console.width))
        return
    lines = (entries(console, columns, rows, detail, title) if detail is not None
             else blocks(console, columns, rows, title))
    for line in lines:
        console.print(line, no_wrap=True, overflow="ignore", crop=False)


__all__ = ["Column", "View", "blocks", "build_table", "column_widths", "entries", "hanging",
           "iso_time", "json_key", "local_time", "print_table"]
