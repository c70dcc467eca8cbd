"""``sluice doctor ENV`` and ``sluice export iam-policy ENV``: AWS environments."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sluice.cli.errors import guarded
from sluice.errors import ConfigError
from sluice.project.workspace import Workspace

out = Console()
export_app = typer.Typer(help="Export what an environment needs, for other tools.",
                         no_args_is_help=True)
EnvArg = Annotated[str, typer.Argument(help="Environment.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


@export_app.command("iam-policy")
@guarded
def iam_policy_cmd(env: EnvArg) -> int:
    """Print the least-privilege IAM policy of ENV's deployer role (JSON)."""
    from sluice.targets.aws.permissions import policy

    ws = Workspace.open()
    typer.echo(json.dumps(policy(ws.config(env), env), indent=2))
    return 0


def register_aws(app: typer.Typer) -> None:
    """``sluice doctor`` (``export_app`` is the ``sluice export`` group)."""

    @app.command("doctor")
    @guarded
    def doctor_cmd(env: EnvArg, as_json: JsonOpt = False) -> int:
        """Check that this machine can deploy to ENV: credentials, bucket, roles, permissions.
        Exits 1 when something would fail."""
        from sluice.targets.aws.doctor import diagnose
        from sluice.targets.aws.target import AwsTarget

        ws = Workspace.open()
        try:
            cfg = ws.config(env)
            target = ws.target(env, cfg)
            if not isinstance(target, AwsTarget):
                raise ConfigError(f"environment {env} does not deploy to AWS",
                                  tip="sluice doctor checks aws targets")
            findings = diagnose(target, cfg)
        finally:
            ws.close()
        if as_json:
            typer.echo(json.dumps([f.to_dict() for f in findings], indent=2))
        else:
            table = Table("check", "", "detail")
            for f in findings:
                table.add_row(f.check, Text(f.status, style=_STYLE[f.status]), f.detail)
            out.print(table)
        return 1 if any(f.status == "fail" for f in findings) else 0
