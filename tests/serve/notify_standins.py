"""Local stand-ins for notification receivers: an HTTP server recording what it is sent (a
Slack incoming webhook, a generic webhook; it can answer 500 a few times) and a real SMTP
server (aiosmtpd) with a login."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; the next ``fail`` requests to ``fail_path`` get HTTP ``status``."""

    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    fail: int = 0
    fail_status: int = 500
    fail_path: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def on(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.fail = 0


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                failing = receiver.fail > 0 and self.path.startswith(receiver.fail_path)
                if failing:
                    receiver.fail -= 1
                else:
                    receiver.requests.append(Request(self.path, dict(self.headers), body))
            status = receiver.fail_status if failing else 200
            answer = b"oops" if failing else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server accepted: (mail from, recipients, message text)."""

    user: str
    password: str
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session,
                          envelope: Envelope) -> str:
        content = envelope.content
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) \
            else str(content)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), text))
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) \
            and auth_data.login.decode() == self.user \
            and auth_data.password.decode() == self.password
        if ok:
            self.logins.append(self.user)
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535


def start_smtp(user: str, password: str) -> Mailbox:
    box = Mailbox(user, password)
    # AUTH offered without TLS (loopback only); not *required*: aiosmtpd then warns on every
    # connection, and warnings are errors here. The test checks that sluice logged in.
    controller = Controller(box, hostname="127.0.0.1", port=free_port(),
                            authenticator=box.authenticate, auth_require_tls=False)
    controller.start()
    box.controller = controller
    return box
