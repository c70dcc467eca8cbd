"""AWS sessions for one environment: the standard boto3 credential chain, an optional profile
and region, and cross-account deploys by assuming a role (``role_arn``, optional external
id) with a session name that says which deployment acts. Clients retry throttling with
adaptive backoff; AccessDenied becomes an error naming the refused action and resource."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sluice.errors import SluiceError

RETRIES = {"mode": "adaptive", "max_attempts": 8}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
           "UnauthorizedAccess", "AuthorizationError"}
# "User: arn:… is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::b/k"
_ACTION = re.compile(r"perform: (?P<action>[\w:*-]+)(?: on resource: (?P<resource>\S+))?")


class AwsError(SluiceError):
    """An AWS call failed; the message names the service call, and for AccessDenied the
    action and resource that were refused."""


@dataclass(frozen=True)
class AwsSettings:
    region: str
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    endpoint_url: str | None = None  # a local endpoint (moto, LocalStack) instead of AWS


def session_name(env: str, actor: str, deployment: int | None = None) -> str:
    """``sluice-<env>-<actor>[-d<id>]``, within STS's 64 characters of ``[\\w+=,.@-]``."""
    raw = f"sluice-{env}-{actor}" + (f"-d{deployment}" if deployment is not None else "")
    return re.sub(r"[^\w+=,.@-]", "-", raw)[:64]


class AwsSession:
    """Clients of one environment's account, created lazily and shared."""

    def __init__(self, settings: AwsSettings, *, env: str, actor: str,
                 deployment: int | None = None) -> None:
        self.settings = settings
        self.name = session_name(env, actor, deployment)
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._account: str | None = None
        # boto3 sessions are not safe for concurrent client(): one client per service, made
        # under the lock, shared by the deploy's threads (botocore clients are thread-safe)
        self._lock = threading.RLock()

    def _boto(self) -> Any:
        if self._session is None:
            try:
                import boto3
            except ImportError as exc:
                raise AwsError("the aws target needs boto3",
                               tip="pip install 'sluice-cd[aws]'") from exc
            s = self.settings
            base = boto3.Session(profile_name=s.profile, region_name=s.region)
            if s.role_arn:
                base = self._assumed(base)
            self._session = base
        return self._session

    def _assumed(self, base: Any) -> Any:
        """A session in the role's account whose credentials refresh themselves before they
        expire (a Glue run or a canary can outlast the one-hour default)."""
        import boto3
        import botocore.session
        from botocore.credentials import (
            AssumeRoleCredentialFetcher,
            DeferredRefreshableCredentials,
        )

        s = self.settings
        extra: dict[str, Any] = {"RoleSessionName": self.name}
        if s.external_id:
            extra["ExternalId"] = s.external_id

        def sts_client(service: str, **kwargs: Any) -> Any:
            return base.client(service, endpoint_url=s.endpoint_url, **kwargs)

        source = base.get_credentials()
        if source is None:
            with aws_errors(f"assume role {s.role_arn}"):
                from botocore.exceptions import NoCredentialsError

                raise NoCredentialsError()
        fetcher = AssumeRoleCredentialFetcher(client_creator=sts_client,
                                              source_credentials=source,
                                              role_arn=str(s.role_arn), extra_args=extra)
        credentials = DeferredRefreshableCredentials(
            method="assume-role", refresh_using=fetcher.fetch_credentials)
        with aws_errors(f"assume role {s.role_arn}"):
            credentials.get_frozen_credentials()  # fail now, with the role named, not later
        core = botocore.session.Session()
        core._credentials = credentials
        core.set_config_variable("region", s.region)
        return boto3.Session(botocore_session=core, region_name=s.region)

    def client(self, service: str) -> Any:
        found = self._clients.get(service)
        if found is None:
            with self._lock:
                found = self._clients.get(service)
                if found is None:
                    found = self._boto().client(service, endpoint_url=self.settings.endpoint_url,
                                                config=_config())
                    self._clients[service] = found
        return found

    def account(self) -> str:
        """The account the session acts in (asked once)."""
        with self._lock:  # concurrent first callers ask STS once
            if self._account is None:
                self._account = self.identity()["account"]
            return self._account

    def identity(self) -> dict[str, str]:
        with aws_errors("sts:GetCallerIdentity"):
            found = self.client("sts").get_caller_identity()
        return {"account": found["Account"], "arn": found["Arn"]}


def sse_kms(kms_key_id: str | None) -> dict[str, Any]:
    """PutObject/upload arguments for SSE-KMS with ``kms_key_id`` ({} without a key)."""
    if kms_key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    return {}


def _config() -> Any:
    from botocore.config import Config

    return Config(retries=RETRIES, user_agent_extra="sluice")


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn botocore errors into :class:`AwsError` with what was being done."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    from botocore.parsers import ResponseParserError

    try:
        yield
    except NoCredentialsError as exc:
        raise AwsError(f"{what}: no AWS credentials found",
                       tip="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or "
                           "`profile:` in the environment's target") from exc
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = str(err.get("Code", "")), str(err.get("Message", ""))
        operation = exc.operation_name
        if code in _DENIED:
            m = _ACTION.search(message)
            action = m["action"] if m else operation
            resource = m["resource"] if m and m["resource"] else "(not named by AWS)"
            raise AwsError(f"{what}: access denied to {action} on {resource}",
                           tip="grant it to the deployer role; `sluice export iam-policy ENV` "
                               "prints what sluice needs") from exc
        raise AwsError(f"{what}: {operation} failed: {code}: {message}") from exc
    except S3UploadFailedError as exc:  # boto3's managed upload wraps the ClientError
        denied = any(code in str(exc) for code in _DENIED)
        raise AwsError(f"{what}: {exc}",
                       tip="grant it to the deployer role; `sluice export iam-policy ENV` "
                           "prints what sluice needs" if denied else None) from exc
    except (BotoCoreError, ResponseParserError) as exc:
        raise AwsError(f"{what}: {exc}") from exc
