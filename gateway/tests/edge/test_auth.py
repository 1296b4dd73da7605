"""JWT at the edge, with servicekit's verifier and a JWKS of the test's own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
import servicekit.auth as servicekit_auth
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gateway.edge.errors import EdgeError
from jwt.algorithms import OKPAlgorithm
from servicekit.auth import JwtVerifier

ISSUER = "https://identity.test"
AUDIENCE = "realtyforyou"
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
HEADERS = {"content-type": "application/json"}


def jwks() -> dict[str, Any]:
    public = json.loads(OKPAlgorithm.to_jwk(KEY.public_key()))
    return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "EdDSA"}]}


def token(*, key: Ed25519PrivateKey = KEY, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": str(USER),
        "role": "REALTOR",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": "k1"})


USER = uuid.uuid4()


@pytest.fixture
def authed(make_client: Callable[..., Any]) -> Any:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks()))
    verifier = JwtVerifier(
        "http://identity.test/.well-known/jwks.json",
        issuer=ISSUER,
        audience=AUDIENCE,
        http=httpx.AsyncClient(transport=transport),
    )
    return make_client(verifier=verifier)


def ask(client: Any, authorization: str | None) -> Any:
    headers = dict(HEADERS)
    if authorization is not None:
        headers["authorization"] = authorization
    body = json.dumps({"query": "{ me headers }"})
    return client.post("/graphql", content=body, headers=headers)


def test_valid_token_identifies_the_caller_and_is_forwarded(
    authed: Any, engines: dict[str, Any]
) -> None:
    bearer = f"Bearer {token()}"
    response = ask(authed, bearer)
    assert response.status_code == 200
    assert response.json()["data"]["me"] == str(USER)
    _, ctx = engines["v1"].calls[-1]
    assert ctx.principal_id == str(USER)
    assert ctx.principal_role == "REALTOR"
    assert ctx.headers["authorization"] == bearer
    assert ctx.client_id == f"user:{USER}"
    assert ctx.claims is not None and ctx.claims["sub"] == str(USER)


def test_the_verified_claims_reach_the_engine_for_scopes_and_policies(
    authed: Any, engines: dict[str, Any]
) -> None:
    ask(authed, f"Bearer {token(scope='listings:write tours:read', org='o1')}")
    _, ctx = engines["v1"].calls[-1]
    assert ctx.claims["scope"] == "listings:write tours:read"
    assert ctx.claims["org"] == "o1"


def test_no_token_is_anonymous(authed: Any, engines: dict[str, Any]) -> None:
    response = ask(authed, None)
    assert response.status_code == 200
    assert response.json()["data"]["me"] is None
    _, ctx = engines["v1"].calls[-1]
    assert ctx.principal_id is None
    assert ctx.claims is None
    assert "authorization" not in ctx.headers


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {token(key=OTHER_KEY)}",
        f"Bearer {token(exp=int(time.time()) - 3600)}",
        f"Bearer {token(aud='someone-else')}",
        "Bearer not.a.jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer",
    ],
)
def test_invalid_token_is_401_unauthenticated(
    authed: Any, engines: dict[str, Any], authorization: str
) -> None:
    response = ask(authed, authorization)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert engines["v1"].calls == []


def test_401_whatever_the_accept_header(authed: Any) -> None:
    response = authed.post(
        "/graphql",
        content=json.dumps({"query": "{ me }"}),
        headers={
            **HEADERS,
            "authorization": "Bearer bad",
            "accept": "application/graphql-response+json",
        },
    )
    assert response.status_code == 401


def test_trace_context_is_forwarded(client: Any, engines: dict[str, Any]) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    client.post(
        "/graphql",
        content=json.dumps({"query": "{ hello }"}),
        headers={
            **HEADERS,
            "traceparent": traceparent,
            "tracestate": "vendor=1",
            "x-request-id": "r1",
        },
    )
    _, ctx = engines["v1"].calls[-1]
    assert ctx.headers["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ctx.headers["x-request-id"] == "r1"


def test_client_address_is_forwarded_and_a_spoofed_one_is_not(
    client: Any, engines: dict[str, Any]
) -> None:
    client.post(
        "/graphql",
        content=json.dumps({"query": "{ hello }"}),
        headers={**HEADERS, "x-forwarded-for": "203.0.113.9"},
    )
    _, ctx = engines["v1"].calls[-1]
    # The caller's own address, not the header it sent: uvicorn resolves trusted proxies
    # before the gateway sees the connection.
    assert ctx.headers["x-forwarded-for"] == "203.0.113.7"


class SignatureChecks:
    """Counts the signature checks the verifier really performs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = servicekit_auth.jwt.decode

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(servicekit_auth.jwt, "decode", counted)


def verifier(clock: Callable[[], float] = time.time) -> JwtVerifier:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks()))
    return JwtVerifier(
        "http://identity.test/.well-known/jwks.json",
        issuer=ISSUER,
        audience=AUDIENCE,
        http=httpx.AsyncClient(transport=transport),
        clock=clock,
    )


async def test_verified_tokens_are_remembered_until_they_expire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.edge.auth import Authenticator

    counting = SignatureChecks(monkeypatch)
    now = [time.time()]
    checker = verifier(clock=lambda: now[0])
    authenticator = Authenticator(checker)
    bearer = f"Bearer {token()}"
    first = await authenticator.authenticate(bearer)
    second = await authenticator.authenticate(bearer)
    assert first == second and first is not None and first.user_id == str(USER)
    assert counting.calls == 1
    expires = int(time.time()) + 60
    soon = f"Bearer {token(exp=expires)}"
    await authenticator.authenticate(soon)
    await authenticator.authenticate(soon)
    assert counting.calls == 2
    # The verifier's clock past `exp` (the signature check, on its own clock, still
    # accepts the token): checked again, not served from memory.
    now[0] = expires + 0.5
    await authenticator.authenticate(soon)
    assert counting.calls == 3
    await checker.aclose()


async def test_failures_are_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.edge.auth import Authenticator

    counting = SignatureChecks(monkeypatch)
    checker = verifier()
    authenticator = Authenticator(checker)
    forged = f"Bearer {token(key=OTHER_KEY)}"
    for _ in range(2):
        with pytest.raises(EdgeError):
            await authenticator.authenticate(forged)
    assert counting.calls == 2
    await checker.aclose()
