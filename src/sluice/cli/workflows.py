"""``sluice run ENV --workflow NAME`` (locally or on AWS) and ``sluice invoke ENV FUNCTION``."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sluice.cli import outcomes
from sluice.cli.errors import guarded
from sluice.errors import UsageError
from sluice.project.workspace import Workspace

out = Console()
err = Console(stderr=True)


def json_argument(value: str | None, option: str) -> Any:
    """The JSON an option gives, inline or ``@file``; UsageError saying what is wrong."""
    if value is None:
        return None
    text, where = value, option
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{option} {value}: cannot read {path} ({exc.__class__.__name__})",
                             tip=f"{option} @path/to/file.json names a JSON file") from None
        where = str(path)
    from sluice.workflows.diagnostics import MAX_DEPTH, depth

    try:
        value = json.loads(text)
    except RecursionError:
        raise UsageError(f"{where}: the JSON nests too deeply to read",
                         tip=f"keep it under {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not JSON: {exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}", tip=f"{option} '{{\"key\": \"value\"}}' or "
                                             f"{option} @file.json") from None
    if depth(value) > MAX_DEPTH:
        raise UsageError(f"{where}: the JSON nests more than {MAX_DEPTH} levels",
                         tip=f"keep it under {MAX_DEPTH} levels")
    return value


def _workspace() -> AbstractContextManager[Workspace]:
    from sluice.cli.flow import _workspace as open_workspace  # notifications flushed on close

    return open_workspace()


def run_workflow_cmd(env: str, name: str, raw_input: str | None, fast_waits: bool,
                     as_json: bool) -> int:
    """Run workflow ``name`` in ``env``: here on the local target, on Step Functions on AWS."""
    from sluice.targets.aws.target import AwsTarget

    execution_input = json_argument(raw_input, "--input")
    with _workspace() as ws:
        if isinstance(ws.target(env), AwsTarget):
            return _run_on_aws(ws, env, name, execution_input, as_json)
        from sluice.flow.workflow_runs import run_local_workflow

        with err.status(f"running workflow {name} in {env}"):
            run = run_local_workflow(ws, env, name, {} if execution_input is None
                                     else execution_input, fast_waits=fast_waits)
    if as_json:
        outcomes.emit(run.to_dict())
        return 0 if run.passed else 1
    done = run.execution
    style = "green" if run.passed else "red"
    out.print(Text(f"{env}: workflow {name} {done.status} in {run.seconds:.1f} s "
                   f"(release {run.release[:12]}, {done.transitions} transitions)", style=style))
    path = Table.grid(padding=(0, 1))
    path.add_row("states:", Text(" → ".join(done.states) or "none"))
    out.print(path)
    if run.passed:
        out.print("output:")
        out.print_json(json.dumps(done.output))
    else:
        out.print(Text(f"error: {done.error}", style="red"))
        if done.cause:
            out.print(Text(f"cause: {done.cause}", style="red"))
    return 0 if run.passed else 1


def _run_on_aws(ws: Workspace, env: str, name: str, execution_input: Any,
                as_json: bool) -> int:
    from sluice.flow.workflow_runs import run_workflow

    with err.status(f"running workflow {name} in {env}"):
        run = run_workflow(ws, env, name, execution_input)
    if as_json:
        outcomes.emit(run.to_dict())
        return 0 if run.passed else 1
    style = "green" if run.status == "SUCCEEDED" else "red"
    out.print(Text(f"{env}: workflow {name} {run.status} ({run.execution})", style=style))
    if run.error or run.cause:
        out.print(Text(f"  {run.error}: {run.cause}", style="red"))
    for a in run.audits:
        mark = "[green]✓[/]" if a.passed else "[red]✗[/]"
        out.print(f"  {mark} audit {a.dataset}@{a.version}")
        for failure in a.failures():
            out.print(Text(f"      {failure}", style="red"))
    return 0 if run.passed else 1


def register_workflows(app: typer.Typer) -> None:
    @app.command("invoke")
    @guarded
    def invoke_cmd(
        env: Annotated[str, typer.Argument(help="Environment (its live release's code).")],
        function: Annotated[str, typer.Argument(help="Function of sluice.yaml.")],
        event: Annotated[str | None, typer.Option(
            "--event", metavar="JSON|@FILE", help="The event: JSON, or @file.json.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    ) -> int:
        """Invoke a function locally, as Lambda would: its handler in a process of its own
        with its environment variables and timeout. Exit 1 when the function fails."""
        from sluice.flow.workflow_runs import invoke_function

        payload = json_argument(event, "--event")
        with _workspace() as ws:
            answer = invoke_function(ws, env, function, {} if payload is None else payload)
        if as_json:
            outcomes.emit({"function": function, "request_id": answer.request_id,
                           "seconds": round(answer.seconds, 3),
                           "payload": answer.payload, "error": answer.error,
                           "logs": answer.logs})
            return 1 if answer.failed else 0
        if answer.logs:
            err.print(Text(answer.logs.rstrip("\n"), style="dim"), highlight=False)
        if answer.failed:
            out.print_json(json.dumps(answer.error))
            err.print(Text(f"{function} failed ({answer.request_id}, "
                           f"{answer.seconds * 1000:.0f} ms)", style="red"))
            return 1
        out.print_json(json.dumps(answer.payload))
        err.print(Text(f"{function} returned ({answer.request_id}, "
                       f"{answer.seconds * 1000:.0f} ms)", style="green"))
        return 0
