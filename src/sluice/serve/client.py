"""The CLI's side of team mode: which server, with which token, and the calls to it.

Team mode is on when ``SLUICE_SERVER`` names a server; or, after ``sluice login``, in a
project whose ``sluice.yaml`` names that server (``server.url``), or outside any project.
The token is ``SLUICE_TOKEN``, else the one ``sluice login`` stored for that URL. A project
that names no server you logged in to stays local, so a login to a team's server never
redirects a personal project (and ``server.url`` alone, the link in notifications, changes
nothing). Credentials live in
``$XDG_CONFIG_HOME/sluice/credentials.json`` (default ``~/.config``), mode 0600. The
token is registered as a secret (:mod:`sluice.secrecy`) as soon as it is read, so
whatever prints it by mistake prints ``***``.

Errors come back as the server's ``{"error", "tip", "type"}``; :class:`Client` raises the
same :class:`~sluice.errors.SluiceError` class the server raised (a gate refusal is a
``GateError`` here too), so a command exits with the code it has in local mode. A server
that cannot be reached is a :class:`~sluice.errors.ServerError` naming its URL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice import errors
from sluice.errors import AuthError, ForbiddenError, ServerError, SluiceError
from sluice.secrecy import private_dir, private_file, register

if TYPE_CHECKING:  # httpx loads only when a server is used: local commands start faster
    import httpx

SERVER_VAR = "SLUICE_SERVER"
TOKEN_VAR = "SLUICE_TOKEN"


@dataclass(frozen=True)
class Remote:
    """A server and the token to present to it."""

    url: str
    token: str

    def __repr__(self) -> str:  # never the token
        return f"Remote({self.url!r})"


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise errors.UsageError(f"{url!r} is not a server URL",
                                tip="write it with its scheme: https://sluice.example.com")
    return url


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sluice" / "credentials.json"


def _read_credentials() -> dict[str, Any]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ServerError(f"cannot read the stored credentials {path}: {exc}",
                          tip="log in again:  sluice login URL") from exc
    return data if isinstance(data, dict) else {}


def _write_credentials(data: Mapping[str, Any]) -> Path:
    path = credentials_path()
    private_dir(path.parent)
    private_file(path)  # 0600 before the token is in it
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def save_credentials(url: str, token: str) -> Path:
    """Store ``token`` for ``url`` and make it the current server."""
    data = _read_credentials()
    tokens = dict(data.get("tokens") or {})
    tokens[url] = token
    return _write_credentials({"server": url, "tokens": tokens})


def forget_credentials(url: str | None = None) -> str | None:
    """Drop the token of ``url`` (default: the current server); the URL forgotten, if any."""
    data = _read_credentials()
    tokens = dict(data.get("tokens") or {})
    gone = url or data.get("server")
    if gone is None or (gone not in tokens and data.get("server") != gone):
        return None
    tokens.pop(gone, None)
    current = data.get("server")
    _write_credentials({"server": None if current == gone else current, "tokens": tokens})
    return str(gone)


def _declared_server(start: Path | None = None) -> tuple[bool, str | None]:
    """Whether there is a project at or above ``start`` (default: the working folder), and
    the ``server.url`` its sluice.yaml declares (read raw: no validation, no secrets)."""
    import yaml

    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        config = folder / "sluice.yaml"
        if config.is_file():
            try:
                data = yaml.safe_load(config.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                return True, None  # the command itself reports a broken sluice.yaml
            server = data.get("server") if isinstance(data, dict) else None
            url = server.get("url") if isinstance(server, dict) else None
            return True, str(url) if url else None
    return False, None


def remote(environ: Mapping[str, str] | None = None) -> Remote | None:
    """The server the CLI talks to, or None in local mode: ``SLUICE_SERVER``; else, after
    ``sluice login``, the project's ``server.url`` when a token is stored for it, or outside
    any project the server logged in to last. A project whose ``server.url`` names no
    stored login (or that names none) stays local."""
    env = os.environ if environ is None else environ
    url = env.get(SERVER_VAR, "").strip()
    stored: dict[str, Any] = {}
    if not url:
        if not credentials_path().is_file():
            return None
        stored = _read_credentials()
        tokens = stored.get("tokens") or {}
        in_project, declared = _declared_server()
        if in_project:
            url = normalise_url(declared) if declared else ""
            if url not in tokens:
                return None
        else:
            url = str(stored.get("server") or "")
            if not url:
                return None
    elif credentials_path().is_file():
        stored = _read_credentials()
    url = normalise_url(url)
    token = env.get(TOKEN_VAR, "").strip() or str((stored.get("tokens") or {}).get(url) or "")
    if not token:
        raise AuthError(f"no token for the server {url}",
                        tip=f"log in:  sluice login {url}   (or set {TOKEN_VAR})")
    register("server-token", [token])
    return Remote(url, token)


def _error_class(name: str, status: int) -> type[SluiceError]:
    found = getattr(errors, name, None)
    if isinstance(found, type) and issubclass(found, SluiceError):
        return found
    return {401: AuthError, 403: ForbiddenError}.get(status, ServerError)


class Client:
    """Calls to one server; ``transport`` lets tests use an in-process ASGI app."""

    def __init__(self, target: Remote, *, transport: httpx.BaseTransport | None = None) -> None:
        import httpx

        self.remote = target
        self._httpx = httpx
        self._http = httpx.Client(base_url=target.url, transport=transport,
                                  timeout=httpx.Timeout(30.0, connect=5.0),
                                  headers={"Authorization": f"Bearer {target.token}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._call("POST", path, json=dict(body))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except self._httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        return self._answer(response)

    def _unreachable(self, exc: Exception) -> ServerError:
        return ServerError(f"cannot reach the sluice server {self.remote.url}: "
                           f"{type(exc).__name__}: {exc}",
                           tip=f"is `sluice serve` running there? Check {SERVER_VAR}, or "
                               f"unset it to work locally")

    def _answer(self, response: httpx.Response) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            if data is None and response.content:
                raise ServerError(f"{self.remote.url} answered {response.status_code} "
                                  "without JSON", tip="is it a sluice server?")
            return data
        raise self.error(response.status_code, data)

    def error(self, status: int, data: Any) -> SluiceError:
        """The SluiceError a refusal of the server stands for."""
        if not isinstance(data, dict) or "error" not in data:
            return ServerError(f"{self.remote.url} answered {status}",
                               tip="is it a sluice server? Look at its log")
        cls = _error_class(str(data.get("type") or ""), status)
        tip = data.get("tip")
        code = data.get("exit_code")
        if status == 401:
            cls = AuthError
            tip = (f"{tip}; " if tip else "") + f"log in again:  sluice login {self.remote.url}"
        elif status == 403 and not issubclass(cls, ForbiddenError):
            cls = ForbiddenError
        try:
            found = cls(str(data["error"]), tip=tip)
        except TypeError:  # a class with more required arguments: keep message and tip
            found = SluiceError(str(data["error"]), tip=tip)
        if isinstance(code, int) and code != found.exit_code and status not in (401, 403):
            found.exit_code = code  # a class of another module (AuditFailed): its exit code
        return found

    def events(self, execution_id: int, last_event_id: int | None = None
               ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The server-sent events of an execution as ``(event, data)``, until it ends."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        try:
            with self._http.stream("GET", f"/api/executions/{execution_id}/events",
                                   headers=headers,
                                   timeout=self._httpx.Timeout(None, connect=5.0)
                                   ) as response:
                if not response.is_success:
                    response.read()
                    self._answer(response)
                yield from parse_sse(response.iter_lines())
        except self._httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``event:``/``data:`` blocks of a text/event-stream as ``(event, JSON data)``."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue  # a comment: keep-alive
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


__all__ = ["SERVER_VAR", "TOKEN_VAR", "Client", "Remote", "credentials_path",
           "forget_credentials", "normalise_url", "parse_sse", "remote", "save_credentials"]
