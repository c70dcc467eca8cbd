"""How the CLI shows a failed audit (deploy, run, promote): what failed, where the rule is
written, and the failing rows.

Per dataset: a numbered table of the failed rules (at their ``sluice.yaml`` or rules-file
line), then duplicate keys grouped (``order_id 42 appears 3 times``), then one table of
failing rows in which each row appears once, with the numbers of the rules it breaks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sluice.deploy.audit import KEY_RULES, AuditResult, DuplicateKeys
from sluice.quality.results import Outcome

#: the message every row-level rule has; the failing-rows column already says it
_STANDARD = re.compile(r"[\d,]+ of [\d,]+ rows failed")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _row_key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def describe_duplicates(dup: DuplicateKeys) -> list[str]:
    """``order_id 42 appears 3 times`` per repeated key, and how many more there are."""
    lines = []
    for values, rows in dup.keys:
        key = ", ".join(f"{c} {_cell(v)}" for c, v in zip(dup.columns, values, strict=True))
        lines.append(f"{key} appears {rows} times")
    if dup.total > len(dup.keys):
        lines.append(f"… and {dup.total - len(dup.keys)} more repeated keys")
    return lines


def show_audit(audit: AuditResult, console: Console) -> None:
    """Everything one failed audit has to say; nothing for a passed one."""
    if audit.passed:
        return
    where = []
    if audit.contract_location:
        where.append(f"contract at {audit.contract_location}")
    if audit.rules_file:
        where.append(f"rules in {audit.rules_file}")
    console.print(Text(f"✗ audit of {audit.dataset} (version {audit.version}) failed"
                       + (f" ({', '.join(where)})" if where else ""), style="bold red"))
    for problem in audit.contract_problems:
        prefix = f"{audit.contract_location}: " if audit.contract_location else ""
        console.print(Text(f"  {prefix}{problem}", style="red"))

    failed = list(audit.failed_rules())
    if failed:
        table = Table("#", "rule, where it is written", "failing rows", title_justify="left")
        table.columns[1].overflow = "fold"
        for number, r in enumerate(failed, 1):
            cell = Text(r.rule, style="red" if r.outcome is Outcome.FAIL else "magenta")
            cell.append(f"\n{r.location}", style="dim")
            if r.message and not _STANDARD.fullmatch(r.message):
                cell.append(f"\n{r.message}")
            if r.failing_rows is None:
                count = ""
            elif r.evaluated_rows is not None:
                count = f"{r.failing_rows:,} of {r.evaluated_rows:,}"
            else:
                count = f"{r.failing_rows:,}"
            table.add_row(str(number), cell, count)
        console.print(table)

    duplicates = {d.location + d.rule: d for d in audit.duplicates}
    for number, r in enumerate(failed, 1):
        dup = duplicates.get(r.location + r.rule)
        if dup is None:
            continue
        console.print(f"duplicate keys (#{number} {r.rule}):")
        for line in describe_duplicates(dup):
            console.print(Text(f"  {line}", style="red"))

    # each failing row once, with every rule it breaks; a rule whose duplicates are grouped
    # above adds no rows of its own
    rows: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for number, r in enumerate(failed, 1):
        grouped = r.rule_type in KEY_RULES and (r.location + r.rule) in duplicates
        for row in [] if grouped else r.sample:
            rows.setdefault(_row_key(row), (row, []))[1].append(number)
    if rows:
        columns = list(dict.fromkeys(c for row, _ in rows.values() for c in row))
        sample = Table(title="failing rows (a sample, each row once)", title_justify="left")
        for column in [*columns, "breaks"]:
            sample.add_column(column, overflow="fold")
        for row, numbers in rows.values():
            sample.add_row(*[_cell(row.get(c)) for c in columns],
                           ", ".join(f"#{n}" for n in numbers))
        console.print(sample)


def show_audit_failure(audits: list[AuditResult], console: Console) -> None:
    """Every failed audit of a deployment."""
    for audit in audits:
        show_audit(audit, console)
