"""The join's Chime requests signed and sent without boto3: the same signature botocore
makes, the same routes, and Chime's errors and retries as botocore gives them."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.auth
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from media.chime import ChimeMeetings, translate
from media.signed import SignedJson, sigv4_headers
from servicekit.vocabulary import RateLimited

NOW = datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        (
            "POST",
            "https://meetings-chime.us-east-1.amazonaws.com/meetings?operation=create-attendees",
            b'{"a": 1}',
        ),
        ("GET", "https://meetings-chime.us-east-1.amazonaws.com/meetings/m-1/attendees/a%3A2", b""),
        ("POST", "http://127.0.0.1:4566/meetings/m-1/attendees?operation=batch-create", b"{}"),
    ],
)
def test_the_signature_is_botocores(
    method: str, url: str, body: bytes, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {"User-Agent": "realty-media", "Content-Type": "application/json"}
    ours = sigv4_headers(
        method=method,
        url=url,
        headers=headers,
        body=body,
        region="us-east-1",
        service="chime",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token=token,
        now=NOW,
    )
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
        "chime",
        "us-east-1",
    )
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    signer.add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


class FakeChime:
    """Answers the routes with canned statuses, noting what it was sent."""

    def __init__(self, answers: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        self.answers, self.seen = answers, []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            (request.method, request.path_qs, await request.read(), dict(request.headers))
        )
        status, headers, body = self.answers.pop(0)
        return web.json_response(body, status=status, headers=headers)


async def _serve(fake: FakeChime) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _signed(url: str, attempts: int) -> SignedJson:
    client = boto3.client("chime-sdk-meetings", endpoint_url=url, region_name="us-east-1")
    return SignedJson(
        client,
        lambda: Credentials("AKID", "secret"),
        operations=["CreateAttendee", "GetAttendee"],
        max_attempts=attempts,
        connections=2,
        user_agent="realty-media",
        clock=lambda: NOW,
    )


async def test_a_route_takes_its_path_members_and_sends_the_rest_as_json() -> None:
    fake = FakeChime([(200, {}, {"Attendee": {"AttendeeId": "a-1"}})] * 2)
    runner, url = await _serve(fake)
    signed = _signed(url, 3)
    try:
        made = await signed.call(
            "CreateAttendee",
            {"MeetingId": "m-1", "ExternalUserId": "u#1", "Capabilities": {"Audio": "SendReceive"}},
        )
        got = await signed.call("GetAttendee", {"MeetingId": "m-1", "AttendeeId": "a-1"})
    finally:
        await signed.close()
        await runner.cleanup()
    assert made == got == {"Attendee": {"AttendeeId": "a-1"}}
    (post, path, body, headers), (get, get_path, get_body, _) = fake.seen
    assert (post, path) == ("POST", "/meetings/m-1/attendees")
    assert json.loads(body) == {"ExternalUserId": "u#1", "Capabilities": {"Audio": "SendReceive"}}
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKID/20261204/us-east-1/chime/"
    )
    assert (get, get_path, get_body) == ("GET", "/meetings/m-1/attendees/a-1", b"")


async def test_throttling_is_retried_then_raised_as_botocore_raises_it() -> None:
    throttled = (429, {"x-amzn-ErrorType": "ThrottlingException:http://x"}, {"message": "slow"})
    fake = FakeChime(
        [throttled, (200, {}, {"Attendee": {"AttendeeId": "a-1"}}), throttled, throttled]
    )
    runner, url = await _serve(fake)
    signed = _signed(url, 2)
    try:
        found = await signed.call("GetAttendee", {"MeetingId": "m-1", "AttendeeId": "a-1"})
        with pytest.raises(ClientError) as raised:
            await signed.call("GetAttendee", {"MeetingId": "m-1", "AttendeeId": "a-1"})
    finally:
        await signed.close()
        await runner.cleanup()
    assert found == {"Attendee": {"AttendeeId": "a-1"}}
    assert raised.value.response["Error"] == {"Code": "ThrottlingException", "Message": "slow"}
    assert isinstance(translate(raised.value), RateLimited)
    assert len(fake.seen) == 4


async def test_a_refusal_is_not_retried() -> None:
    fake = FakeChime([(404, {"x-amzn-ErrorType": "NotFoundException"}, {"Message": "no"})])
    runner, url = await _serve(fake)
    signed = _signed(url, 3)
    try:
        with pytest.raises(ClientError) as raised:
            await signed.call("GetAttendee", {"MeetingId": "m-1", "AttendeeId": "a-1"})
    finally:
        await signed.close()
        await runner.cleanup()
    assert raised.value.response["Error"]["Code"] == "NotFoundException"
    assert len(fake.seen) == 1


def test_only_a_clients_own_boto3_gives_way_to_signed_requests() -> None:
    given = ChimeMeetings(region="us-east-1", media_region="us-east-1", client=object())
    built = ChimeMeetings(
        region="us-east-1", media_region="us-east-1", endpoint_url="http://127.0.0.1:9"
    )
    assert given._signed is None and built._signed is not None
    assert inspect.iscoroutinefunction(built._op("get_attendee"))
    assert built._op("delete_meeting") == built._client.delete_meeting
