"""``sluice serve``, ``sluice login`` and ``sluice logout`` (team mode, docs/serve.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from sluice.cli.errors import guarded
from sluice.errors import AuthError, UsageError

out = Console()
err = Console(stderr=True)


def register_serve(app: typer.Typer) -> None:
    """Add serve, login and logout to the root app."""

    @app.command("serve")
    @guarded
    def serve_cmd(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535,
                                          help="Port (0: any free one).")] = 8080,
    ) -> int:
        """Run the control plane for this project: the JSON API, pipeline executions,
        triggers and notifications. Stop it with Ctrl-C (or SIGTERM)."""
        from sluice.project.workspace import Workspace
        from sluice.serve.server import is_loopback, serve

        ws = Workspace.open()
        root, where, kind = ws.root, ws.state.where, ws.state.dialect
        ws.close()
        if not is_loopback(host):
            err.print(Text(f"Warning: listening on {host}, beyond this machine: put the "
                           "server behind TLS (a reverse proxy) so tokens never cross a "
                           "network in clear text", style="yellow"))

        def ready(url: str) -> None:
            out.print(f"sluice serve: {url} (project {root}, state store {kind}: {where})",
                      soft_wrap=True, highlight=False)
            sys.stdout.flush()

        serve(root, host, port, on_ready=ready)
        return 0

    @app.command("login")
    @guarded
    def login_cmd(
        url: Annotated[str, typer.Argument(help="The server, e.g. https://sluice.example.com")],
        token_stdin: Annotated[bool, typer.Option(
            "--token-stdin", help="Read the token from standard input (scripts, CI).")]
        = False,
    ) -> int:
        """Store a token for a sluice server after checking it there; later commands use
        that server (team mode)."""
        from sluice.secrecy import register
        from sluice.serve.client import Client, Remote, normalise_url, save_credentials

        server = normalise_url(url)
        if token_stdin:
            token = sys.stdin.readline().strip()
        elif not sys.stdin.isatty():
            raise UsageError("no terminal to ask for the token on",
                             tip=f"pipe it in:  … | sluice login {server} --token-stdin, or "
                                 "set SLUICE_SERVER and SLUICE_TOKEN")
        else:
            token = typer.prompt("Token", hide_input=True).strip()
        if not token:
            raise UsageError("no token given",
                             tip="paste the token `sluice users add` printed")
        register("server-token", [token])
        with Client(Remote(server, token)) as client:
            who = client.get("/api/whoami")
        if not isinstance(who, dict) or "name" not in who:
            raise AuthError(f"{server} did not say who the token belongs to")
        path = save_credentials(server, token)
        roles = ", ".join(who.get("roles") or []) or "no roles"
        out.print(f"logged in to {server} as {who['name']} ({roles}); token stored in {path}",
                  soft_wrap=True, highlight=False)
        return 0

    @app.command("logout")
    @guarded
    def logout_cmd(url: Annotated[str | None, typer.Argument(
            help="The server (default: the current one).")] = None) -> int:
        """Forget the stored token of a sluice server."""
        from sluice.serve.client import forget_credentials, normalise_url

        gone = forget_credentials(normalise_url(url) if url else None)
        out.print(f"logged out of {gone}" if gone else "not logged in", highlight=False)
        return 0
