"""The routes of the API (see :mod:`sluice.serve.app` for authentication and errors)."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from sluice import __version__
from sluice.errors import AuthError, ConfigError, SluiceError, StateError, UsageError

from . import schemas as s
from .events import event_stream
from .identity import Caller
from .services import NotFound, Services

log = logging.getLogger("sluice.serve")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")


def services_of(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services_of)]
Limit = Annotated[int, Query(ge=1, le=10_000)]


def caller_of(request: Request, services: ServicesDep,
              authorization: Annotated[str | None, Header()] = None) -> Caller:
    """The authenticated caller of a request (401 otherwise, recorded as ``auth_refused``)."""
    try:
        return services.authenticator.authenticate(
            authorization, path=f"{request.method} {request.url.path}")
    except AuthError as exc:
        _refused(services, request, exc, None)
        raise


CallerDep = Annotated[Caller, Depends(caller_of)]


def _refused(services: Services, request: Request, exc: AuthError,
             caller: Caller | None) -> None:
    """Log a refusal (never the credential) to the server's log; the authenticator records
    the ``auth_refused`` event itself."""
    who = caller.name if caller is not None else "an unauthenticated caller"
    log.warning("refused %s %s for %s: %s", request.method, request.url.path, who,
                exc.message)


def allow(services: Services, request: Request, caller: Caller, action: str,
          env: str | None) -> None:
    """403 unless ``caller`` may do ``action`` in ``env`` (recorded as ``auth_refused``)."""
    try:
        services.authenticator.require(caller, action, env,
                                       path=f"{request.method} {request.url.path}")
    except AuthError as exc:
        _refused(services, request, exc, caller)
        raise


def _known_env(services: Services, env: str) -> None:
    try:
        services.base.config().environment(env)
    except ConfigError as exc:
        if "unknown environment" in exc.message:
            raise NotFound(exc) from exc
        raise


def _known_release(state: Any, release: str) -> str:
    try:
        return str(state.get_release(release).id)
    except StateError as exc:
        if exc.message.startswith("no release"):
            raise NotFound(exc) from exc
        raise UsageError(exc.message, tip=exc.tip) from exc


def add_routes(app: FastAPI) -> None:
    """Register every route on ``app``."""

    @app.get("/healthz", response_model=s.HealthOut, tags=["server"],
             responses={503: {"model": s.HealthOut}})
    def healthz(services: ServicesDep) -> Any:
        """Unauthenticated: the server answers and its state store is reachable."""
        kind = services.state.dialect
        try:
            with services.state.transaction("check") as conn:
                conn.exec_driver_sql("SELECT 1")
        except SluiceError as exc:
            body = s.HealthOut(status="unavailable", version=__version__, state=kind,
                               error=exc.message)
            return JSONResponse(body.model_dump(), status_code=503)
        return s.HealthOut(status="ok", version=__version__, state=kind)

    @app.get("/api/whoami", response_model=s.WhoAmI, tags=["server"])
    def whoami(caller: CallerDep) -> Any:
        """Who the token belongs to and its roles (what `sluice login` checks)."""
        return s.WhoAmI(name=caller.name, kind=caller.kind,
                        roles=sorted(f"{role}:{env}" for role, env in caller.roles))

    @app.get("/api/status", response_model=list[s.StatusEntry], tags=["read"])
    def status(request: Request, services: ServicesDep, caller: CallerDep) -> Any:
        """What `sluice status --json` prints: per environment what is live, the last
        deployment and the release waiting for approval."""
        from sluice.flow.listings import status_records

        allow(services, request, caller, "view", None)
        with services.workspace() as ws:
            return [r for r in status_records(ws) if caller.can("view", r["env"])]

    @app.get("/api/environments", response_model=list[s.EnvironmentEntry], tags=["read"])
    def environments(request: Request, services: ServicesDep, caller: CallerDep) -> Any:
        """The environments in promotion order and the rules in force for each."""
        from sluice.flow.decision import rules_in_force

        allow(services, request, caller, "view", None)
        out = []
        with services.workspace() as ws:
            cfg = ws.config()
            for env in [*cfg.promotion_order(),
                        *(e for e in cfg.environments if e not in cfg.promotion_order())]:
                if not caller.can("view", env):
                    continue
                rules = rules_in_force(ws, env, cfg)[0]
                out.append(s.EnvironmentEntry(
                    env=env, protected=rules.approval_required,
                    upstream=rules.upstream[0] if rules.upstream else None,
                    approvers=None if rules.approvers is None else list(rules.approvers)))
        return out

    @app.get("/api/history", response_model=list[s.HistoryEntry], tags=["read"])
    def history(request: Request, services: ServicesDep, caller: CallerDep,
                env: str | None = None, limit: Limit = 30) -> Any:
        """What `sluice history [ENV] --json` prints, newest first."""
        from sluice.flow.listings import history_records

        allow(services, request, caller, "view", env)
        with services.workspace() as ws:
            # events of environments the caller may not view, and those of no environment
            # (refusals, users added), only for viewers of every environment
            envs = None if env is not None or caller.can("view", "*") else \
                [e for e in ws.config().environments if caller.can("view", e)]
            try:
                return history_records(ws, env, limit, envs=envs)
            except ConfigError as exc:
                if "unknown environment" in exc.message:
                    raise NotFound(exc) from exc
                raise

    @app.get("/api/releases", response_model=list[s.ReleaseEntry], tags=["read"])
    def releases(request: Request, services: ServicesDep, caller: CallerDep) -> Any:
        """What `sluice releases --json` prints, newest first."""
        from sluice.flow.listings import release_records
        from sluice.release import list_releases

        allow(services, request, caller, "view", None)
        return release_records(list_releases(services.base.artifacts))

    @app.get("/api/executions", response_model=list[s.ExecutionOut], tags=["executions"])
    def executions(request: Request, services: ServicesDep, caller: CallerDep,
                   limit: Limit = 50, status: str | None = None) -> Any:
        """Pipeline executions, newest first (only those with ``status``, if given)."""
        from .executions import list_executions

        allow(services, request, caller, "view", None)
        wanted = None if status is None else [p for p in status.split(",") if p]
        return [e.to_dict() for e in list_executions(services.state, limit, wanted)
                if _visible(caller, e)]

    @app.get("/api/executions/{execution_id}", response_model=s.ExecutionDetail,
             tags=["executions"], responses={404: {"model": s.ErrorOut}})
    def execution(request: Request, services: ServicesDep, caller: CallerDep,
                  execution_id: int) -> Any:
        """One execution: its stages with their statuses and timings, and its log."""
        from .executions import logs

        allow(services, request, caller, "view", None)
        ex = _execution(services, execution_id, caller)
        lines = logs(services.state, ex.id, 0, limit=10_000)
        return {**ex.to_dict(), "logs": [ln.to_dict() for ln in lines]}

    @app.get("/api/executions/{execution_id}/events", tags=["executions"],
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "server-sent events: `execution` (its stages "
                                             "whenever they change), `log` (one line, `id:` "
                                             "its seq), `end` (the final state)"},
                        404: {"model": s.ErrorOut}})
    def execution_events(request: Request, services: ServicesDep, caller: CallerDep,
                         execution_id: int,
                         last_event_id: Annotated[str | None, Header()] = None,
                         after: Annotated[int | None, Query(ge=0)] = None) -> Any:
        """Stage changes and log lines as they happen (``Last-Event-ID`` resumes)."""
        allow(services, request, caller, "view", None)
        _execution(services, execution_id, caller)
        start = after if after is not None else _event_id(last_event_id)
        return StreamingResponse(event_stream(services, execution_id, start),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    @app.post("/api/executions", response_model=s.ExecutionStarted, status_code=202,
              tags=["executions"], responses={400: {"model": s.ErrorOut}})
    def start(request: Request, services: ServicesDep, caller: CallerDep,
              body: s.ExecutionIn) -> Any:
        """Start a pipeline execution for a commit (or the head of a ref): deployer of the
        first environment."""
        first = services.base.config().promotion_order()[0]
        allow(services, request, caller, "deploy", first)
        ref = body.ref
        if body.commit is None and ref is None:
            ref = services.base.config().pipeline.branch
        if body.commit is not None and _FULL_SHA.fullmatch(body.commit):
            commit = body.commit.lower()  # the engine fetches one this repository lacks
        else:
            commit = services.resolve_commit(body.commit or str(ref))
        eid = services.start_execution(commit=commit, ref=ref, trigger="api",
                                       detail={"requested_by": caller.name},
                                       actor=caller.name)
        return s.ExecutionStarted(execution=eid, commit=commit, ref=ref)

    @app.post("/api/environments/{env}/approvals", response_model=s.ApprovalOut,
              response_model_exclude_none=True, status_code=201, tags=["gates"],
              responses={404: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def approvals(request: Request, services: ServicesDep, caller: CallerDep, env: str,
                  body: s.ApprovalIn) -> Any:
        """Approve or reject a release for ``env`` as the authenticated caller; a waiting
        execution resumes (or stops) at once."""
        from sluice.flow.decision import ACKNOWLEDGEMENTS
        from sluice.flow.gates import decide

        _known_env(services, env)
        allow(services, request, caller, "approve", env)
        unknown = [a for a in body.acknowledge if a not in ACKNOWLEDGEMENTS]
        if unknown:
            raise UsageError(f"acknowledge {unknown[0]}: unknown; known: "
                             f"{', '.join(ACKNOWLEDGEMENTS)}")
        if body.release is not None:
            _known_release(services.state, body.release)
        with services.workspace() as ws:
            rec = decide(ws, env, body.release, approve=body.decision == "approve",
                         comment=body.comment, acknowledge=tuple(sorted(set(body.acknowledge))),
                         actor=caller.name, via="authenticated")
        services.wake()
        return s.ApprovalOut(env=env, release=rec.release_id, decision=rec.decision.value,
                             actor=rec.actor, via=rec.via, comment=rec.comment,
                             acknowledges=list(rec.acknowledges))

    @app.post("/api/environments/{env}/approvals/codepipeline", response_model=s.ApprovalOut,
              status_code=201, tags=["gates"],
              responses={404: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def codepipeline_approvals(request: Request, services: ServicesDep, caller: CallerDep,
                               env: str, body: s.CodePipelineApprovalIn) -> Any:
        """Record the manual approval AWS CodePipeline recorded for an execution, read with
        the server's own AWS credentials: the caller (the pipeline's CodeBuild step, a
        deployer of ``env``) names the execution; the approver, comment and release are
        CodePipeline's."""
        from sluice.flow import codepipeline as cp

        _known_env(services, env)
        allow(services, request, caller, "deploy", env)
        approval = cp.read_approval(services.codepipeline(), body.pipeline, body.execution_id,
                                    body.approval_action)
        with services.workspace() as ws:
            rec = cp.record_approval(ws, env, approval, body.release, verified=True,
                                     relayed_by=caller.name)
        services.wake()
        return s.ApprovalOut(env=env, release=rec.release_id, decision=rec.decision.value,
                             actor=rec.actor, via=rec.via, comment=rec.comment,
                             acknowledges=list(rec.acknowledges),
                             aws_principal=approval.approver)

    @app.post("/api/environments/{env}/promotions", response_model=s.DeployOut,
              status_code=201, tags=["gates"],
              responses={404: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut},
                         422: {"model": s.ErrorOut}})
    def promotions(request: Request, services: ServicesDep, caller: CallerDep, env: str,
                   body: s.PromotionIn) -> Any:
        """Deploy to ``env`` the release live in ``from`` (default: the environment before
        it), when its gates hold."""
        from sluice.flow.gates import promote

        _known_env(services, env)
        allow(services, request, caller, "deploy", env)
        source = body.source or _upstream(services, env)
        _known_env(services, source)
        with services.workspace() as ws:
            return promote(ws, source, env, actor=caller.name).to_dict()

    @app.post("/api/environments/{env}/deployments", response_model=s.DeployOut,
              status_code=201, tags=["gates"],
              responses={404: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut},
                         422: {"model": s.ErrorOut}})
    def deployments(request: Request, services: ServicesDep, caller: CallerDep, env: str,
                    body: s.DeploymentIn) -> Any:
        """Deploy a release (default: the newest) to ``env``, behind its gates."""
        from sluice.deploy.deployer import deploy
        from sluice.release import list_releases

        _known_env(services, env)
        allow(services, request, caller, "deploy", env)
        if body.release is None:
            found = list_releases(services.base.artifacts)
            if not found:
                raise NotFound(SluiceError("no release has been built yet",
                                           tip="sluice release"))
            release = found[0].id
        else:
            release = _known_release(services.state, body.release)
        with services.workspace() as ws:
            return deploy(ws, env, release, actor=caller.name).to_dict()

    @app.post("/api/environments/{env}/rollbacks", response_model=s.RollbackOut,
              status_code=201, tags=["gates"],
              responses={404: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def rollbacks(request: Request, services: ServicesDep, caller: CallerDep, env: str,
                  body: s.RollbackIn) -> Any:
        """Re-point ``env`` to an earlier release (default: the previous live state)."""
        from sluice.flow.gates import rollback

        _known_env(services, env)
        allow(services, request, caller, "deploy", env)
        if body.to is not None:
            _known_release(services.state, body.to)
        with services.workspace() as ws:
            res = rollback(ws, env, body.to, keep_schema=body.keep_schema, actor=caller.name)
        return s.RollbackOut(**res.__dict__)

    @app.post("/api/hooks/{provider}", response_model=s.HookAccepted, status_code=202,
              tags=["triggers"],
              responses={401: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    async def hook(request: Request, services: ServicesDep, provider: str) -> Any:
        """A push webhook (github, gitlab, generic), authenticated by the HMAC-SHA256
        signature of its raw body; a delivery id seen before is refused (409)."""
        from starlette.concurrency import run_in_threadpool

        body = await request.body()  # the raw bytes: the signature is over them
        return await run_in_threadpool(_hook, services, request, provider, body)


def _hook(services: Services, request: Request, provider: str, body: bytes) -> Any:
    from sluice.errors import GateError

    from .hooks import receive

    with services.workspace() as ws:
        try:
            outcome = receive(ws, provider, dict(request.headers), body,
                              services.start_execution)
        except AuthError as exc:
            _refused(services, request, exc, None)
            raise
    if outcome.status == "replayed":
        raise GateError(f"replayed webhook: {outcome.reason}; nothing was started",
                        tip="a redelivery of a new push carries a new delivery id")
    return outcome.to_dict()


def _upstream(services: Services, env: str) -> str:
    order = services.base.config().promotion_order()
    if env not in order[1:]:
        raise UsageError(f"{env} is not promoted from another environment",
                         tip=f'name the source:  {{"from": ENV}}, or deploy:  POST '
                             f"/api/environments/{env}/deployments")
    return order[order.index(env) - 1]


def _visible(caller: Caller, ex: Any) -> bool:
    """Whether ``caller`` may view every environment the execution has a stage in."""
    return all(caller.can("view", st.env) for st in ex.stages if st.env is not None)


def _execution(services: Services, execution_id: int, caller: Caller | None = None) -> Any:
    """The execution (404 when there is none, or ``caller`` may not view all of it)."""
    from .executions import get_execution

    try:
        ex = get_execution(services.state, execution_id)
    except StateError as exc:
        raise NotFound(exc) from exc
    if caller is not None and not _visible(caller, ex):
        raise NotFound(StateError(f"no execution #{execution_id}",
                                  tip="list them:  GET /api/executions"))
    return ex


def _event_id(value: str | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0


__all__ = ["add_routes", "allow", "caller_of"]
