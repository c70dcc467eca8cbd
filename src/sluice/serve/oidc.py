"""OpenID Connect JWTs (GitHub Actions' ``ACTIONS_ID_TOKEN``) in place of a sluice token.

CI need not keep a long-lived secret: it asks its provider for a short-lived JWT with the
audience the project declares (``access.oidc[*].audience``) and sends it as the bearer
credential. The JWT is accepted when

- its ``iss`` is exactly one of the configured issuers (chosen before anything else is
  trusted: the unverified ``iss`` only picks which keys to verify with);
- its header's ``alg`` is RS256 or ES256 — never ``none`` nor a shared-secret HS* algorithm,
  whose "key" would be the public key everyone can fetch — and its signature verifies with
  the issuer's key named by ``kid``, from the issuer's JWKS (``jwks_url``, else the
  ``jwks_uri`` of ``ISSUER/.well-known/openid-configuration``; keys are cached by PyJWT's
  :class:`jwt.PyJWKClient` for :data:`JWKS_LIFESPAN_SECONDS`; an unknown ``kid`` makes it
  fetch the set once more — at most once per :data:`REFRESH_COOLDOWN_SECONDS` — so a
  rotated key is picked up without a restart);
- ``aud`` contains the configured audience, ``exp`` is in the future, ``nbf`` and ``iat`` are
  not, all within :data:`LEEWAY_SECONDS` of clock skew (``exp``, ``iat``, ``iss`` and ``aud``
  must be present);
- the configured claim (default ``sub``; GitHub: ``repo:ORG/REPO:ref:refs/heads/main``)
  matches a pattern of ``subjects``. Patterns have :func:`fnmatch.fnmatchcase` semantics,
  case-sensitive: ``*`` matches any run of characters *including* ``:`` and ``/`` (so
  ``repo:acme/pipelines:*`` admits every branch, tag, pull request and environment of that
  repository — write ``repo:acme/pipelines:ref:refs/heads/main`` to admit one branch), ``?``
  one character, ``[…]`` a set. An exact entry wins; otherwise the first matching pattern in
  the order written.

The caller is then the service account the pattern names, with that account's roles.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from sluice.config.control import OidcIssuer
from sluice.errors import AuthError

#: the only signature algorithms accepted (asymmetric: the verifier holds no secret)
ALGORITHMS = ("RS256", "ES256")
#: clock skew tolerated on exp / nbf / iat
LEEWAY_SECONDS = 30
#: how long a fetched key set is trusted before it is fetched again
JWKS_LIFESPAN_SECONDS = 300
#: an unknown ``kid`` refetches the key set, but not within this long of the last fetch:
#: tokens with made-up kids cannot make the server hammer the issuer
REFRESH_COOLDOWN_SECONDS = 30
_TIMEOUT_SECONDS = 10
_TIP = ("request the token with the audience sluice.yaml declares (access.oidc[*].audience), "
        "and map its subject under access.oidc[*].subjects")


def looks_like_jwt(credential: str) -> bool:
    """Three base64url parts separated by dots (what a JWS compact serialisation is)."""
    parts = credential.split(".")
    return len(parts) == 3 and all(parts[:2])


@dataclass(frozen=True)
class OidcIdentity:
    """A verified JWT: the service account it maps to and the claims that say who ran."""

    account: str
    issuer: str
    subject: str
    claims: Mapping[str, Any]


def match_subject(subjects: Mapping[str, str], value: str) -> str | None:
    """The service account ``value`` maps to (exact entry first, then the first pattern)."""
    if value in subjects:
        return subjects[value]
    for pattern, account in subjects.items():
        if fnmatch.fnmatchcase(value, pattern):
            return account
    return None


class OidcVerifier:
    """Verifies JWTs of the configured issuers; one per server process (JWKS cached)."""

    def __init__(self, issuers: list[OidcIssuer], *,
                 refresh_cooldown: float = REFRESH_COOLDOWN_SECONDS) -> None:
        self._cooldown = refresh_cooldown
        self._issuers = {i.issuer.rstrip("/"): i for i in issuers}
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._issuers)

    def verify(self, token: str) -> OidcIdentity:
        """The identity ``token`` proves, or :class:`AuthError` saying what did not hold."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError(f"the bearer token is not a readable JWT ({exc})", tip=_TIP) from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise AuthError(f"JWT algorithm {alg!r} is not accepted (only "
                            f"{', '.join(ALGORITHMS)})", tip=_TIP)
        iss = unverified.get("iss")
        issuer = self._issuers.get(str(iss).rstrip("/")) if isinstance(iss, str) else None
        if issuer is None:
            known = ", ".join(self._issuers) or "none (access.oidc is empty)"
            raise AuthError(f"JWT issuer {iss!r} is not trusted; trusted issuers: {known}",
                            tip=_TIP)
        try:
            key = self._client(issuer).get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=issuer.audience,
                issuer=iss, leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud"]})
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("the JWT has expired", tip="request a fresh token") from exc
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"no key of {issuer.issuer} verifies the JWT ({exc})",
                            tip=_TIP) from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"the JWT of {issuer.issuer} does not verify: {exc}",
                            tip=_TIP) from exc
        value = claims.get(issuer.claim)
        if not isinstance(value, str):
            raise AuthError(f"the JWT has no string claim {issuer.claim!r} to name the caller",
                            tip=_TIP)
        account = match_subject(issuer.subjects, value)
        if account is None:
            raise AuthError(f"JWT {issuer.claim} {value!r} of {issuer.issuer} maps to no "
                            "service account", tip=_TIP)
        return OidcIdentity(account, issuer.issuer, value, claims)

    def _client(self, issuer: OidcIssuer) -> jwt.PyJWKClient:
        with self._lock:
            client = self._clients.get(issuer.issuer)
            if client is None:
                url = issuer.jwks_url or _discover_jwks(issuer.issuer)
                client = jwt.PyJWKClient(url, lifespan=JWKS_LIFESPAN_SECONDS,
                                         timeout=_TIMEOUT_SECONDS,
                                         cooldown_duration=self._cooldown)
                self._clients[issuer.issuer] = client
            return client


def _discover_jwks(issuer: str) -> str:
    """``jwks_uri`` from the issuer's OpenID configuration document."""
    import httpx

    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=_TIMEOUT_SECONDS, follow_redirects=False)
        response.raise_for_status()
        jwks = response.json().get("jwks_uri")
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise AuthError(f"cannot read the OpenID configuration of {issuer} at {url}: {exc}",
                        tip="set access.oidc[*].jwks_url, or check that the issuer is "
                            "reachable") from exc
    if not isinstance(jwks, str) or not jwks.startswith(("https://", "http://")):
        raise AuthError(f"the OpenID configuration at {url} names no jwks_uri",
                        tip="set access.oidc[*].jwks_url")
    return jwks


__all__ = ["ALGORITHMS", "JWKS_LIFESPAN_SECONDS", "LEEWAY_SECONDS", "REFRESH_COOLDOWN_SECONDS",
           "OidcIdentity", "OidcVerifier", "looks_like_jwt", "match_subject"]
