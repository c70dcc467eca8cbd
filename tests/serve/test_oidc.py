"""OIDC JWTs as GitHub Actions issues them, verified against a JWKS served on 127.0.0.1.

The issuer is a real HTTP server (``http.server`` in a thread: a test fixture, not product
code) with an OpenID configuration document and a JWKS; tokens are signed with real RSA and
EC keys from ``cryptography`` and carry GitHub's claim set.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from sluice.config.control import OidcIssuer
from sluice.errors import AuthError
from sluice.project.workspace import Workspace
from sluice.serve.identity import Authenticator
from sluice.serve.oidc import OidcVerifier, match_subject
from tests.serve.conftest import project_with

AUDIENCE = "sluice-acme"
SUB = "repo:acme/pipelines:ref:refs/heads/main"


@dataclass
class Issuer:
    """The fake issuer: its URL, keys, and the documents it serves."""

    url: str = ""
    keys: dict[str, Any] = field(default_factory=dict)  # kid → private key
    jwks: list[dict[str, Any]] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)

    def publish(self, kid: str, key: Any) -> None:
        self.keys[kid] = key
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            jwk["alg"] = "RS256"
        else:
            jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            jwk["alg"] = "ES256"
        self.jwks.append({**jwk, "kid": kid, "use": "sig"})

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.url, "aud": AUDIENCE, "sub": SUB,
                  "repository": "acme/pipelines", "repository_owner": "acme",
                  "ref": "refs/heads/main", "sha": "0" * 40, "actor": "priya",
                  "workflow": "deploy", "event_name": "push", "run_id": "123456",
                  "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 300}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, kid: str = "rsa-1", key: Any = None, alg: str | None = None,
             **changes: Any) -> str:
        key = key if key is not None else self.keys[kid]
        alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(self.claims(**changes), key, algorithm=alg, headers={"kid": kid})


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.hits.append(self.path)
            if self.path == "/.well-known/openid-configuration":
                body: dict[str, Any] = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys"}
            elif self.path == "/keys":
                body = {"keys": issuer.jwks}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    found.publish("rsa-1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    found.publish("ec-1", ec.generate_private_key(ec.SECP256R1()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def _access(issuer: Issuer, *, jwks_url: bool) -> str:
    keys = f"\n      jwks_url: {issuer.url}/keys" if jwks_url else ""
    return f"""
access:
  service_accounts:
    ci:
      roles: [deployer:dev, deployer:staging]
    ci-prod:
      roles: [deployer:prod]
  oidc:
    - issuer: {issuer.url}
      audience: {AUDIENCE}{keys}
      subjects:
        "repo:acme/pipelines:ref:refs/heads/main": ci
        "repo:acme/pipelines:environment:*": ci-prod
"""


@pytest.fixture(scope="module")
def auth(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authenticator]:
    """An Authenticator that finds the keys through the issuer's discovery document."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("SLUICE_HOME", "SLUICE_STATE_URL"):
            mp.delenv(name, raising=False)
        ws = Workspace.open(project_with(tmp_path_factory.mktemp("oidc") / "retail",
                                         _access(issuer, jwks_url=False)))
        try:
            yield Authenticator(ws)
        finally:
            ws.close()


def test_a_github_actions_token_maps_to_its_service_account(auth: Authenticator,
                                                            issuer: Issuer) -> None:
    caller = auth.authenticate(f"Bearer {issuer.sign()}")
    assert caller.name == "ci" and caller.kind == "service"
    assert caller.via == f"oidc:{issuer.url}"
    assert caller.roles == {("deployer", "dev"), ("deployer", "staging")}
    assert caller.can("deploy", "staging") and not caller.can("deploy", "prod")
    assert "/.well-known/openid-configuration" in issuer.hits  # found through discovery


def test_an_es256_token_and_a_subject_pattern(auth: Authenticator, issuer: Issuer) -> None:
    token = issuer.sign("ec-1", sub="repo:acme/pipelines:environment:prod")
    caller = auth.authenticate(f"Bearer {token}")
    assert caller.name == "ci-prod" and caller.can("deploy", "prod")


def test_an_explicit_jwks_url_needs_no_discovery(issuer: Issuer, tmp_path: Path) -> None:
    ws = Workspace.open(project_with(tmp_path / "retail", _access(issuer, jwks_url=True)))
    try:
        issuer.hits.clear()
        assert Authenticator(ws).authenticate(f"Bearer {issuer.sign()}").name == "ci"
        assert issuer.hits == ["/keys"]
    finally:
        ws.close()


def _unsigned(issuer: Issuer) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa-1'})}.{part(issuer.claims())}."


def _hs256_with_the_public_key(issuer: Issuer) -> str:
    # the classic key-confusion forgery: HMAC "keyed" with the public key anyone can fetch
    public = issuer.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    import hashlib
    import hmac

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    signing = f"{part(header)}.{part(issuer.claims())}"
    sig = base64.urlsafe_b64encode(
        hmac.new(public, signing.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    return f"{signing}.{sig}"


CASES: dict[str, tuple[Any, str]] = {
    "wrong audience": (lambda i: i.sign(aud="someone-else"), "Audience"),
    "expired": (lambda i: i.sign(exp=int(time.time()) - 120, iat=int(time.time()) - 600,
                                 nbf=int(time.time()) - 600), "expired"),
    "not yet valid": (lambda i: i.sign(nbf=int(time.time()) + 600), "not yet valid"),
    "issued in the future": (lambda i: i.sign(iat=int(time.time()) + 600), "iat"),
    "no exp": (lambda i: i.sign(exp=None), "exp"),
    "wrong issuer": (lambda i: i.sign(iss="https://token.actions.example.com"),
                     "is not trusted"),
    "bad signature": (lambda i: i.sign("rsa-1", key=rsa.generate_private_key(
        public_exponent=65537, key_size=2048)), "Signature verification failed"),
    "alg none": (_unsigned, "'none' is not accepted"),
    "hs256 with the public key": (_hs256_with_the_public_key, "'HS256' is not accepted"),
    "unknown kid": (lambda i: i.sign("rsa-9", key=i.keys["rsa-1"]), "no key of"),
    "unmapped subject": (lambda i: i.sign(sub="repo:evil/pipelines:ref:refs/heads/main"),
                         "maps to no service account"),
    "subject of another repo's prefix": (
        lambda i: i.sign(sub="repo:acme/pipelines-fork:ref:refs/heads/main"),
        "maps to no service account"),
    "no subject": (lambda i: i.sign(sub=None), "no string claim 'sub'"),
    "not a jwt at all": (lambda i: "bm90.anNvbg.c2lnbmF0dXJlLXBhcnQteHl6", "not a readable JWT"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_refused_tokens(auth: Authenticator, issuer: Issuer, case: str) -> None:
    make, reason = CASES[case]
    token = make(issuer)
    before = len(auth.state.events(kind="auth_refused", limit=1000))
    with pytest.raises(AuthError) as info:
        auth.authenticate(f"Bearer {token}", path="/api/status")
    assert type(info.value) is AuthError and info.value.status == 401
    assert reason in info.value.message
    refusals = auth.state.events(kind="auth_refused", limit=1000)
    assert len(refusals) == before + 1
    recorded = json.dumps([(e.actor, e.payload) for e in refusals])
    signature = token.split(".")[-1]
    assert token not in recorded and (len(signature) < 16 or signature not in recorded)


def _verifier(issuer: Issuer, cooldown: float) -> OidcVerifier:
    config = OidcIssuer(issuer=issuer.url, audience=AUDIENCE, jwks_url=f"{issuer.url}/keys",
                        subjects={SUB: "ci"})
    return OidcVerifier([config], refresh_cooldown=cooldown)


def test_a_rotated_key_is_fetched_without_a_restart(issuer: Issuer) -> None:
    verifier = _verifier(issuer, cooldown=0)
    assert verifier.verify(issuer.sign()).account == "ci"  # the key set is cached now
    issuer.publish("rsa-2", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    found = verifier.verify(issuer.sign("rsa-2"))
    assert found.account == "ci" and found.claims["repository"] == "acme/pipelines"


def test_unknown_kids_cannot_make_the_server_hammer_the_issuer(issuer: Issuer) -> None:
    verifier = _verifier(issuer, cooldown=30)
    verifier.verify(issuer.sign())
    issuer.hits.clear()
    for n in range(5):
        with pytest.raises(AuthError, match="no key of"):
            verifier.verify(issuer.sign(f"made-up-{n}", key=issuer.keys["rsa-1"]))
    assert issuer.hits == []  # within the cooldown after a fetch: no refetch


def test_subject_patterns_have_fnmatch_semantics() -> None:
    subjects = {"repo:acme/p:ref:refs/heads/main": "exact", "repo:acme/p:*": "any",
                "repo:acme/p:ref:refs/heads/*": "branches"}
    assert match_subject(subjects, "repo:acme/p:ref:refs/heads/main") == "exact"
    # first pattern in the order written wins; `*` crosses ':' and '/'
    assert match_subject(subjects, "repo:acme/p:ref:refs/heads/dev") == "any"
    assert match_subject(subjects, "repo:ACME/p:ref:refs/heads/dev") is None  # case-sensitive
    assert match_subject({"repo:acme/p:ref:refs/heads/*": "b"},
                         "repo:acme/p:ref:refs/heads/feature/x") == "b"
