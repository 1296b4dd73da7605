"""Access-token verification against a real JWKS endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from servicekit.auth import Role
from servicekit.errors import Unauthenticated
from servicekit.testing import TokenIssuer


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_token_gives_the_principal(token_issuer: TokenIssuer) -> None:
    user = uuid.uuid4()
    principal = await token_issuer.verifier().verify(token_issuer.token(user, Role.REALTOR))
    assert principal.user_id == user
    assert principal.role is Role.REALTOR


async def test_alg_none_is_rejected(token_issuer: TokenIssuer) -> None:
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "ADMIN",
        "iss": token_issuer.issuer,
        "aud": token_issuer.audience,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
    }
    forged = f"{_b64({'alg': 'none', 'kid': token_issuer.current_kid})}.{_b64(claims)}."
    with pytest.raises(Unauthenticated):
        await token_issuer.verifier().verify(forged)


async def test_token_signed_by_another_key_is_rejected(token_issuer: TokenIssuer) -> None:
    stranger = Ed25519PrivateKey.generate()
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "BUYER",
        "iss": token_issuer.issuer,
        "aud": token_issuer.audience,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
    }
    forged = jwt.encode(
        claims, stranger, algorithm="EdDSA", headers={"kid": token_issuer.current_kid}
    )
    with pytest.raises(Unauthenticated, match="invalid token"):
        await token_issuer.verifier().verify(forged)


async def test_expired_token_is_rejected(token_issuer: TokenIssuer) -> None:
    token = token_issuer.token(uuid.uuid4(), expires_in=-60)
    with pytest.raises(Unauthenticated, match="expired"):
        await token_issuer.verifier().verify(token)


async def test_wrong_audience_is_rejected(token_issuer: TokenIssuer) -> None:
    token = token_issuer.token(uuid.uuid4(), aud="someone-else")
    with pytest.raises(Unauthenticated):
        await token_issuer.verifier().verify(token)


async def test_unknown_kid_is_rejected(token_issuer: TokenIssuer) -> None:
    token = token_issuer.token(uuid.uuid4())
    _header, rest = token.split(".", 1)
    tampered = _b64({"alg": "EdDSA", "kid": "nobody", "typ": "JWT"}) + "." + rest
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        await token_issuer.verifier().verify(tampered)


async def test_rotated_key_is_picked_up_without_restart() -> None:
    issuer = TokenIssuer()
    issuer.start()
    try:
        verifier = issuer.verifier(min_refresh_interval=0.0)
        old = issuer.token(uuid.uuid4())
        await verifier.verify(old)  # caches the first key set
        issuer.rotate()
        new = issuer.token(uuid.uuid4())
        assert (await verifier.verify(new)).role is Role.BUYER
        assert (await verifier.verify(old)).role is Role.BUYER  # old key still published
        await verifier.aclose()
    finally:
        issuer.stop()


async def test_keep_fresh_fetches_the_keys_before_requests_need_them() -> None:
    """At start and again before the cache ages out, so no request waits on identity."""
    issuer = TokenIssuer()
    issuer.start()
    verifier = issuer.verifier(cache_ttl=1.0, min_refresh_interval=0.0)
    worker = asyncio.create_task(verifier.keep_fresh())

    async def fetched(count: int) -> None:
        async with asyncio.timeout(10):
            while issuer.fetches < count:
                await asyncio.sleep(0.01)

    try:
        await fetched(1)
        await verifier.verify(issuer.token(uuid.uuid4()))
        assert issuer.fetches == 1
        issuer.rotate(keep_old=False)
        await fetched(2)
        before = issuer.fetches
        assert (await verifier.verify(issuer.token(uuid.uuid4()))).role is Role.BUYER
        assert issuer.fetches == before
    finally:
        worker.cancel()
        await verifier.aclose()
        issuer.stop()


async def test_a_verified_token_is_checked_once_until_it_expires(
    token_issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import servicekit.auth as auth

    checks = 0
    real = auth.jwt.decode

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal checks
        checks += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(auth.jwt, "decode", counted)
    now = time.time()
    verifier = token_issuer.verifier(clock=lambda: now)
    token = token_issuer.token(uuid.uuid4(), expires_in=60)
    assert await verifier.verify(token) == await verifier.verify(token)
    assert checks == 1
    forged = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "role": "ADMIN",
            "iss": token_issuer.issuer,
            "aud": token_issuer.audience,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": token_issuer.current_kid},
    )
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
    assert checks == 3  # failures are never remembered
    now += 59
    await verifier.verify(token)  # still within `exp`: remembered
    assert checks == 3
    now += 2
    await verifier.verify(token)  # past `exp` by the verifier's clock: checked again
    assert checks == 4
    await verifier.aclose()


async def test_a_token_is_remembered_until_its_exp_and_not_past_its_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import servicekit.auth as auth

    checks = 0
    real = auth.jwt.decode

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal checks
        checks += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(auth.jwt, "decode", counted)
    token_issuer = TokenIssuer()  # its own: this test withdraws a key
    token_issuer.start()
    now = time.time()
    verifier = token_issuer.verifier(clock=lambda: now, min_refresh_interval=0.0)
    token = token_issuer.token(uuid.uuid4(), expires_in=900)
    await verifier.verify(token)
    now += 890
    await verifier.verify(token)  # long past a minute, still before `exp`: remembered
    assert checks == 1
    token_issuer.rotate(keep_old=False)  # the old key withdrawn from the JWKS
    await verifier.verify(token_issuer.token(uuid.uuid4()))  # a new kid: keys refreshed
    assert checks == 2
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)  # its key is gone: checked again, and refused
    await verifier.aclose()
    token_issuer.stop()
