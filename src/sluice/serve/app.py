"""The control plane's HTTP API: :func:`create_app` builds the FastAPI application that
``sluice serve`` runs (and tests drive through an ASGI client).

Every ``/api`` call but the webhook carries ``Authorization: Bearer <token>`` (a token of
``sluice users add`` or an OIDC JWT); :mod:`sluice.serve.identity` turns it into a
:class:`~sluice.serve.identity.Caller` (401 otherwise) and decides whether that caller may do
the action in that environment (403 otherwise); both refusals are recorded as
``auth_refused`` events. The webhook is authenticated by its HMAC signature instead.

The routes are thin: each calls the library function the CLI calls, with the caller's name
as the actor, so the gates are decided exactly as for the CLI (and again under the
environment's lock). Errors are the library's :class:`~sluice.errors.SluiceError`, answered
as ``{"error", "tip", "type", "exit_code"}`` with a status from :func:`http_status`; never a
traceback. Routes are plain functions: FastAPI runs them in its thread pool, so a deploy
does not stall the event loop; each request gets its own :class:`Workspace` (targets are not
shared between threads) over the one state store of the process.

With ``background`` the lifespan starts the engine that runs pipeline executions, the
notification dispatcher and the triggers, and stops them on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from sluice import __version__
from sluice.errors import (
    AuthError,
    ConfigError,
    GateError,
    LockError,
    SluiceError,
    StateError,
    UsageError,
)

from . import routes
from .schemas import ErrorOut
from .services import NotFound, Services

log = logging.getLogger("sluice.serve")

#: Errors of a deployment that ran and failed (its data or code, not the request).
_FAILED_RUN = frozenset({"AuditFailed", "JobError", "MigrationError", "WorkflowFailed"})


def http_status(exc: SluiceError) -> int:
    """The HTTP status of a refusal: 401/403 authentication and roles, 409 a gate or a
    lock, 400 unusable input, 422 a deployment whose jobs or audits failed."""
    if isinstance(exc, AuthError):
        return exc.status
    if isinstance(exc, GateError | LockError):
        return 409
    if isinstance(exc, UsageError | ConfigError):
        return 400
    if type(exc).__name__ in _FAILED_RUN:
        return 422
    if isinstance(exc, StateError):
        return 409
    return 400 if exc.exit_code == 2 else 409


def error_body(exc: SluiceError) -> dict[str, Any]:
    from sluice.secrecy import mask

    return ErrorOut(error=mask(exc.message), tip=mask(exc.tip) if exc.tip else None,
                    type=type(exc).__name__, exit_code=exc.exit_code).model_dump()


def create_app(root: Path, *, background: bool = True) -> FastAPI:
    """The API of the project at ``root`` (see the module doc)."""
    services = Services(Path(root), background=background)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start()
        try:
            yield
        finally:
            services.shutdown()

    app = FastAPI(title="sluice", version=__version__, lifespan=lifespan,
                  description="The sluice control plane: status, history, releases, "
                              "pipeline executions, approvals, promotions, rollbacks, "
                              "webhooks. Authenticate with `Authorization: Bearer TOKEN`.",
                  responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
    app.state.services = services

    @app.exception_handler(SluiceError)
    async def _sluice_error(request: Request, exc: SluiceError) -> JSONResponse:
        status = http_status(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return JSONResponse(error_body(exc), status_code=status)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(error_body(exc.error), status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: "
            f"{e.get('msg', 'invalid')}" for e in exc.errors())
        body = UsageError(f"invalid request: {problems}",
                          tip=f"the request's shape is in {request.base_url}openapi.json")
        return JSONResponse(error_body(body), status_code=422)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error in %s %s", request.method, request.url.path)
        body = SluiceError(f"internal error: {type(exc).__name__}",
                           tip="a bug in sluice: the server's log has the traceback")
        return JSONResponse({**error_body(body), "exit_code": 3}, status_code=500)

    routes.add_routes(app)
    return app


__all__ = ["create_app", "error_body", "http_status"]
