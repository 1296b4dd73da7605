"""Access tokens verify with servicekit's JwtVerifier, across key rotation."""

from __future__ import annotations

import uuid

import jwt
import pytest
from identity.keys import VERIFY_LEEWAY
from servicekit.auth import Role
from servicekit.errors import Unauthenticated

from .conftest import PASSWORD, Identity

LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""


async def login(identity: Identity, email: str) -> str:
    data = await identity.ok(LOGIN, {"email": email, "password": PASSWORD})
    return str(data["login"]["accessToken"])


async def jwks_kids(identity: Identity) -> list[str]:
    response = await identity.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return [k["kid"] for k in response.json()["keys"]]


async def test_access_token_claims_and_verification(identity: Identity) -> None:
    registered = await identity.register(role="REALTOR")
    token = registered["accessToken"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"] in await jwks_kids(identity)
    assert claims["iss"] == "https://identity.test"
    assert claims["aud"] == "realtyforyou"
    assert claims["sub"] == registered["user"]["id"]
    assert claims["role"] == "REALTOR"
    assert claims["exp"] - claims["iat"] == 900
    verifier = identity.verifier()
    principal = await verifier.verify(token)
    assert principal.user_id == uuid.UUID(registered["user"]["id"])
    assert principal.role is Role.REALTOR
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthenticated):
        await verifier.verify(tampered)
    await verifier.aclose()


async def test_token_from_a_rotated_out_key_verifies_until_it_expires(identity: Identity) -> None:
    email = (await identity.register())["user"]["email"]
    old_token = await login(identity, email)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    verifier = identity.verifier()
    await verifier.verify(old_token)

    identity.clock.advance(1)
    new_kid, retired = await identity.service.rotate_keys()
    assert retired == [] and new_kid != old_kid
    new_token = await login(identity, email)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert set(await jwks_kids(identity)) == {old_kid, new_kid}
    # both verify: the old key stays published while its tokens can be valid
    await verifier.verify(old_token)
    await verifier.verify(new_token)
    # the subgraph accepts the old token too
    assert (await identity.ok("{ me { email } }", token=old_token))["me"]["email"] == email

    # just before the old key's last token expires it is still published...
    ttl = identity.settings.access_token_ttl
    identity.clock.advance(ttl + VERIFY_LEEWAY.total_seconds() - 1)
    _, retired = await identity.service.rotate_keys()
    assert retired == [] and old_kid in await jwks_kids(identity)
    # ...and once none can be valid any more, rotation retires it from the JWKS
    identity.clock.advance(2)
    _, retired = await identity.service.rotate_keys()
    assert old_kid in retired
    assert old_kid not in await jwks_kids(identity)
    fresh = identity.verifier()
    with pytest.raises(Unauthenticated):
        await fresh.verify(old_token)
    await verifier.aclose()
    await fresh.aclose()


async def test_a_new_key_is_published_before_it_signs(database_factory, mail_catcher) -> None:
    from .conftest import open_identity

    harness = await open_identity(database_factory, mail_catcher, key_cache_seconds=30.0)
    try:
        before = await jwks_kids(harness)
        email = (await harness.register())["user"]["email"]
        harness.service.keys.invalidate()
        new_kid, _ = await harness.service.rotate_keys()
        assert set(await jwks_kids(harness)) == {*before, new_kid}
        token = await login(harness, email)
        assert jwt.get_unverified_header(token)["kid"] == before[0]  # not active yet
        harness.clock.advance(31)
        token = await login(harness, email)
        assert jwt.get_unverified_header(token)["kid"] == new_kid
    finally:
        await harness.close()


async def test_signing_keys_are_encrypted_at_rest_when_a_passphrase_is_set(
    database_factory, mail_catcher
) -> None:
    from identity.tables import signing_keys
    from sqlalchemy import select

    from .conftest import open_identity

    harness = await open_identity(
        database_factory, mail_catcher, signing_key_passphrase="correct horse battery"
    )
    try:
        async with harness.db.session() as s:
            pem = bytes((await s.execute(select(signing_keys.c.private_key))).scalar_one())
        assert b"ENCRYPTED PRIVATE KEY" in pem
        token = (await harness.register())["accessToken"]
        verifier = harness.verifier()
        await verifier.verify(token)
        await verifier.aclose()
    finally:
        await harness.close()
