"""The lines deploy, promote, rollback and ship print, in local and in team mode alike
(:mod:`sluice.cli.flow` from the library's outcomes, :mod:`sluice.cli.team` from the
server's answers), and ``--json`` output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

out = Console()


def emit(data: Any) -> None:
    """``data`` as indented JSON on stdout (``--json``)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def deployed(env: str, release: str, new_versions: int, reused: int) -> None:
    out.print(Text(f"{env}: release {release} is live ({new_versions} new dataset versions, "
                   f"{reused} jobs reused)", style="green"))


#: what ``approve``/``reject --json`` print (``aws_principal`` too for a CodePipeline relay)
DECISION_KEYS = ("env", "release", "decision", "actor", "comment", "acknowledges")


def decided(env: str, rec: dict[str, Any], as_json: bool) -> None:
    """An approval or rejection as recorded (a local record's fields or the server's)."""
    if as_json:
        emit({k: env if k == "env" else rec[k] for k in DECISION_KEYS}
             | ({"via": rec["via"], "aws_principal": rec["aws_principal"]}
                if rec.get("aws_principal") else {}))
        return
    line = f"{rec['decision']} release {rec['release']} for {env} by {rec['actor']}"
    if rec.get("aws_principal"):
        line += f" ({rec['aws_principal']}, via CodePipeline)"
    out.print(line)


def rolled_back(env: str, from_release: str, to_release: str, undone: Sequence[str]) -> None:
    out.print(Text(f"{env}: rolled back from {from_release} to {to_release}", style="green"))
    if undone:
        out.print(f"  migrations undone: {', '.join(undone)}")


def went(release: str, deployed_to: Sequence[str]) -> None:
    """The environments ``release`` was deployed to (nothing when none)."""
    if deployed_to:
        out.print(Text(f"release {release} deployed to {', '.join(deployed_to)}",
                       style="green"))


def shipped(release: str, deployed_to: Sequence[str], stopped_at: str | None, reason: str,
            *, style: str = "yellow") -> None:
    """Where ``release`` went, and where it stopped (``style``: how bad the stop is)."""
    went(release, deployed_to)
    if stopped_at:
        out.print(Text(f"stopped before {stopped_at}: {reason}", style=style))
    else:
        out.print(Text(f"release {release} is live everywhere", style="green"))


__all__ = ["deployed", "emit", "rolled_back", "shipped", "went"]
