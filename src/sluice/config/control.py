"""The control plane's sections of ``sluice.yaml``: ``access``, ``pipeline``, ``triggers``,
``schedules`` and ``notifications`` (read by ``sluice serve``, docs/serve.md).

Secrets (a webhook's shared secret, a Slack URL, an SMTP password) are never written in
``sluice.yaml``: a field ending in ``_env`` names the environment variable that holds one.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from sluice.config.base import ConfigModel, problems_error
from sluice.config.names import Name

#: The roles, weakest first: each includes what the ones before it may do, except that
#: ``approver`` does not include ``deployer`` (deciding on a release is not deploying it).
ROLES = ("viewer", "deployer", "approver", "admin")

_ROLE = re.compile(r"^(viewer|deployer|approver|admin)(:(\*|[A-Za-z_][A-Za-z0-9_-]*))?$")
_ENV_VAR = r"^[A-Za-z_][A-Za-z0-9_]*$"

EnvVar = Annotated[str, Field(pattern=_ENV_VAR)]
RoleSpec = Annotated[str, Field(description="ROLE or ROLE:ENV (ENV may be *)")]


def check_role(value: str) -> str:
    """``approver:prod``, ``viewer:*`` or ``admin`` (= ``admin:*``); ValueError otherwise."""
    if not _ROLE.match(value):
        raise ValueError(f"{value!r} is not a role: write ROLE or ROLE:ENV with ROLE one of "
                         f"{', '.join(ROLES)} (e.g. approver:prod, viewer:*)")
    return value


class Principal(ConfigModel):
    """A user or service account and its roles per environment."""

    roles: list[RoleSpec] = Field(default_factory=list)
    #: other names the person commits or releases under (git author names, e-mail
    #: addresses): ``distinct_approver`` refuses them as approvers of their own work
    aliases: list[str] = Field(default_factory=list)
    #: the IAM principals (ARNs; ``*`` matches any run of characters) that are this person
    #: when they approve in AWS CodePipeline (the approval bridge, docs/codepipeline.md)
    aws_principals: list[Annotated[str, Field(pattern=r"^arn:aws[\w*-]*:(iam|sts)::")]] = \
        Field(default_factory=list)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return [check_role(v) for v in value]


class OidcIssuer(ConfigModel):
    """JWTs from an OpenID Connect issuer (GitHub Actions: https://token.actions.githubusercontent.com)
    accepted in place of a token: verified against the issuer's JWKS, its audience checked,
    a claim mapped to a service account."""

    issuer: Annotated[str, Field(pattern=r"^https?://")]
    audience: str
    #: where the keys are; default: the issuer's /.well-known/openid-configuration jwks_uri
    jwks_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    #: the claim that names the caller (GitHub: ``sub`` = ``repo:ORG/REPO:ref:refs/heads/main``)
    claim: str = "sub"
    #: claim value (``*`` matches any run of characters) → service account name
    subjects: dict[str, Name] = Field(default_factory=dict)


class Access(ConfigModel):
    """Who may call ``sluice serve``. Declaring it makes approvals on protected environments
    count only when the server authenticated the approver."""

    users: dict[Name, Principal] = Field(default_factory=dict)
    service_accounts: dict[Name, Principal] = Field(default_factory=dict)
    oidc: list[OidcIssuer] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct_names(self) -> Self:
        both = sorted(set(self.users) & set(self.service_accounts))
        if both:
            raise problems_error("Access", [
                (("service_accounts", n), f"{n!r} is also a user; a name is one or the other")
                for n in both])
        known = set(self.service_accounts)
        problems = [
            (("oidc", i, "subjects", pattern), f"{account!r} is not a service account; "
                                               "declare it under access.service_accounts")
            for i, issuer in enumerate(self.oidc)
            for pattern, account in issuer.subjects.items() if account not in known]
        if problems:
            raise problems_error("Access", list(problems))
        return self


class Pipeline(ConfigModel):
    """How the server carries commits through the promotion order (CodePipeline V2 modes):
    ``queued`` one execution per stage at a time, in order; ``superseded`` a newer execution
    replaces one waiting to enter a stage (a running stage finishes); ``parallel``
    independent executions, still one deployment per environment at a time."""

    mode: Literal["queued", "superseded", "parallel"] = "superseded"
    #: pushes to this branch start executions (others are recorded and ignored)
    branch: str = "main"
    #: run `sluice check` on the commit before releasing it
    check: bool = True


class Webhook(ConfigModel):
    """Push webhooks (``POST /api/hooks/{github|gitlab|generic}``)."""

    #: the environment variable with the shared secret (HMAC-SHA256 of the raw body)
    secret_env: EnvVar = "SLUICE_WEBHOOK_SECRET"


class Poll(ConfigModel):
    """Polling a git remote (a URL or a path) or a folder instead of a webhook."""

    #: a git remote name or URL, or a local repository's path
    remote: str = "origin"
    branch: str | None = None  # default: pipeline.branch
    interval_seconds: float = Field(default=60, gt=0)


class DataTrigger(ConfigModel):
    """Run an environment's pipeline when new files land under a source's prefix in its
    local object store (the local counterpart of the AWS target's EventBridge rule)."""

    source: str
    env: Name
    interval_seconds: float = Field(default=5, gt=0)


class Triggers(ConfigModel):
    webhook: Webhook | None = None
    poll: Poll | None = None
    data: list[DataTrigger] = Field(default_factory=list)


NotifyKind = Literal["approval_requested", "deploy_succeeded", "deploy_failed",
                     "audit_failed", "rolled_back", "approved", "rejected",
                     "execution_failed", "execution_succeeded"]


class _Channel(ConfigModel):
    #: what to send (default: all kinds)
    events: list[NotifyKind] | None = None
    #: which environments (default: all)
    environments: list[Name] | None = None


class SlackChannel(_Channel):
    type: Literal["slack"]
    url_env: EnvVar


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url_env: EnvVar
    #: signs the body (``X-Sluice-Signature: sha256=…``) with this variable's value
    secret_env: EnvVar | None = None


class Smtp(ConfigModel):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    username_env: EnvVar | None = None
    password_env: EnvVar | None = None


class EmailChannel(_Channel):
    type: Literal["email"]
    smtp: Smtp = Field(default_factory=Smtp)
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)


class SnsChannel(_Channel):
    """The environment's SNS topic (environments on the aws target)."""

    type: Literal["sns"]


Channel = Annotated[SlackChannel | WebhookChannel | EmailChannel | SnsChannel,
                    Field(discriminator="type")]


class Server(ConfigModel):
    """Where the server is reached (links in notifications)."""

    url: Annotated[str, Field(pattern=r"^https?://")] | None = None


__all__ = ["ROLES", "Access", "Channel", "DataTrigger", "EmailChannel", "OidcIssuer", "Pipeline",
           "Poll", "Principal", "Server", "SlackChannel", "Smtp", "SnsChannel", "Triggers",
           "Webhook", "WebhookChannel", "check_role"]
