"""Breached passwords are refused: offline from the bundled list, and through a k-anonymity
range API when one is configured (here a local server speaking Have I Been Pwned's
`range/{prefix}` protocol)."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from identity.breached import BUNDLED_PATH, BreachedList, encode_list, zxcvbn_passwords
from identity.passwords import PasswordPolicy
from servicekit.vocabulary import BadUserInput
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from .conftest import PASSWORD, REGISTER, Identity, open_identity

# Strong by zxcvbn's measure, absent from the bundled list, "breached" on the local server.
LEAKED = "correct horse battery staple jumps"
FRESH = "quiet lanterns drift over copper hills"
PADDING = 50


def test_the_bundled_list_is_exactly_zxcvbns_common_passwords() -> None:
    content = BUNDLED_PATH.read_bytes()
    assert content == encode_list(zxcvbn_passwords())
    bundled = BreachedList(content)
    assert len(bundled) == 30_000
    assert "password" in bundled and "PassWord" in bundled and "1qaz2wsx3edc4rfv" in bundled
    assert PASSWORD not in bundled and LEAKED not in bundled


def test_the_policy_refuses_a_long_breached_password() -> None:
    """Long enough, and not weak to zxcvbn's eye as a whole: still refused, it was leaked."""
    with pytest.raises(BadUserInput) as refused:
        PasswordPolicy().check("1qaz2wsx3edc4rfv", email=None, field="newPassword")
    assert refused.value.field == "newPassword"
    assert refused.value.details["reason"] == "BREACHED_PASSWORD"


@dataclass
class RangeServer:
    """A local range API: `GET /range/{5 hex}` answers `SUFFIX:COUNT` lines for the known
    hashes under that prefix, padded with zero-count lines when asked."""

    breached: dict[str, int]
    asked: list[str] = field(default_factory=list)
    url: str = ""

    def app(self) -> Starlette:
        async def range_of(request: Request) -> PlainTextResponse:
            prefix = request.path_params["prefix"].upper()
            self.asked.append(prefix)
            if len(prefix) != 5 or any(c not in "0123456789ABCDEF" for c in prefix):
                return PlainTextResponse("The hash prefix was not in a valid format", 400)
            lines = []
            for password, count in self.breached.items():
                digest = hashlib.sha1(password.encode()).hexdigest().upper()
                if digest.startswith(prefix):
                    lines.append(f"{digest[5:]}:{count}")
            if request.headers.get("add-padding") == "true":
                lines += [f"{i:035X}:0" for i in range(PADDING)]
            return PlainTextResponse("\r\n".join(lines))

        return Starlette(routes=[Route("/range/{prefix}", range_of)])


@pytest_asyncio.fixture(loop_scope="session")
async def range_server() -> AsyncIterator[RangeServer]:
    server_state = RangeServer({LEAKED: 3_861_493})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(server_state.app(), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    server_state.url = f"http://127.0.0.1:{port}"
    try:
        yield server_state
    finally:
        server.should_exit = True
        await task
        sock.close()


def breach_error(body: dict[str, Any]) -> tuple[str, str, str]:
    (error,) = body["errors"]
    ext = error["extensions"]
    return ext["code"], ext["field"], ext["reason"]


def account(password: str) -> dict[str, Any]:
    return {
        "email": f"b-{uuid.uuid4().hex[:8]}@example.com",
        "password": password,
        "displayName": "Breach Tester",
        "role": "BUYER",
        "timeZone": "UTC",
    }


async def test_the_bundled_list_refuses_at_registration_without_any_api(
    identity: Identity,
) -> None:
    assert identity.service.range_api is None
    body = await identity.gql(REGISTER, {"input": account("1qaz2wsx3edc4rfv")})
    assert breach_error(body) == ("BAD_USER_INPUT", "input.password", "BREACHED_PASSWORD")


async def test_the_range_api_refuses_a_leaked_password_everywhere_one_is_set(
    database_factory: Any, mail_catcher: Any, range_server: RangeServer
) -> None:
    harness = await open_identity(database_factory, mail_catcher, hibp_url=range_server.url)
    try:
        refused = await harness.gql(REGISTER, {"input": account(LEAKED)})
        assert breach_error(refused) == ("BAD_USER_INPUT", "input.password", "BREACHED_PASSWORD")

        registered = await harness.register()  # PASSWORD: unknown to the server
        email, token = registered["user"]["email"], registered["accessToken"]
        change = """mutation($c: String!, $n: String!) {
          changePassword(currentPassword: $c, newPassword: $n)
        }"""
        body = await harness.gql(change, {"c": PASSWORD, "n": LEAKED}, token=token)
        assert breach_error(body) == ("BAD_USER_INPUT", "newPassword", "BREACHED_PASSWORD")

        await harness.ok("mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": email})
        link = await harness.link_token(email, "Reset your", "reset-password")
        reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"
        body = await harness.gql(reset, {"t": link, "p": LEAKED})
        assert breach_error(body) == ("BAD_USER_INPUT", "newPassword", "BREACHED_PASSWORD")
        # the link was not spent by the refused attempt; a fresh password goes through
        assert (await harness.ok(reset, {"t": link, "p": FRESH}))["resetPassword"] is True

        # only 5-character prefixes of hashes ever left the service
        assert range_server.asked and all(len(p) == 5 for p in range_server.asked)
        leaked_hash = hashlib.sha1(LEAKED.encode()).hexdigest().upper()
        assert range_server.asked.count(leaked_hash[:5]) == 3
    finally:
        await harness.close()


async def test_an_unreachable_range_api_leaves_the_bundled_list_in_charge(
    database_factory: Any, mail_catcher: Any
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    harness = await open_identity(
        database_factory, mail_catcher, hibp_url=f"http://127.0.0.1:{port}"
    )
    try:
        assert (await harness.register(password=LEAKED))["user"]["id"]
        body = await harness.gql(REGISTER, {"input": account("1qaz2wsx3edc4rfv")})
        assert breach_error(body)[2] == "BREACHED_PASSWORD"
    finally:
        await harness.close()
