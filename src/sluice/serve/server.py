"""``sluice serve``: uvicorn in this process, on a socket bound before anything is printed.

Binding first means the line that announces the URL is true when it appears (and
``--port 0`` can announce the port the system chose). uvicorn handles SIGTERM and SIGINT:
it stops accepting, lets running requests finish (streams get
:data:`GRACEFUL_SECONDS`), then the application's lifespan stops the background threads —
a running stage finishes first — and the command exits 0.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from sluice.errors import UsageError

GRACEFUL_SECONDS = 5


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; UsageError when the address is taken or wrong."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}: {exc.strerror}",
                         tip="pass an address of this machine: --host 127.0.0.1") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         tip="pick another port: --port N (0 lets the system choose)") from exc
    sock.set_inheritable(True)
    return sock


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, for which a requested stop is a clean exit (status 0): uvicorn
        itself raises the signal again once it has shut down, so the process would die of
        it."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C: stop waiting for requests
            else:
                self.should_exit = True

    return Server


def serve(root: Path, host: str, port: int, *,
          on_ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve the project at ``root`` until SIGTERM/SIGINT; ``on_ready(url)`` once bound."""
    import uvicorn

    from .app import create_app

    app = create_app(root, background=True)
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=GRACEFUL_SECONDS)
    server = _server_class()(config)
    # a stop asked for before uvicorn takes the signals over (right after the banner) is
    # a stop too, not death by the signal
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, server.handle_exit)
    on_ready(f"http://{shown}:{bound}")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


__all__ = ["bind", "is_loopback", "serve"]
