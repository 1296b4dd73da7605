"""`POST /graphql` on the subgraph's short way answers exactly as strawberry's own view:
status, headers and body bytes, for ordinary operations and for everything it hands back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import strawberry
from servicekit.auth import Principal
from servicekit.graphql import Context, SubgraphApp, SubgraphSchema
from servicekit.http import service_app
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, value: int = 1) -> int:
        return value

    @strawberry.field
    def big(self, value: strawberry.scalars.JSON) -> strawberry.scalars.JSON:
        return value

    @strawberry.field
    async def caller(self, info: strawberry.Info[Context, None]) -> str:
        who: Principal | None = await info.context.principal()
        return "anonymous" if who is None else str(who.user_id)

    @strawberry.field
    def header(self, info: strawberry.Info[Context, None]) -> str:
        return str(info.context.request.headers.get("x-probe"))


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncIterator[int]:
        yield 1


app = SubgraphApp(SubgraphSchema(query=Query, subscription=Subscription), verifier=None)

Call = Callable[[Scope, Receive, Send], Awaitable[None]]


async def call(
    handler: Call,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    method: str = "POST",
    chunked: bool = False,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    parts = [body[: len(body) // 2], body[len(body) // 2 :]] if chunked else [body]
    messages: list[Message] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("service", 80),
    }
    await handler(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], list(start["headers"]), answer


async def strawberrys(scope: Scope, receive: Receive, send: Send) -> None:
    await GraphQL.__call__(app, scope, receive, send)


JSON = [(b"content-type", b"application/json")]
CASES: list[tuple[bytes, list[tuple[bytes, bytes]]]] = [
    (b'{"query": "{ echo }"}', JSON),
    (b'{"query": "query($v: Int) { echo(value: $v) }", "variables": {"v": 7}}', JSON),
    (b'{"query": "query($v: Int) { echo(value: $v) }", "variables": {"v": "x"}}', JSON),
    (b'{"query": "query($v: Int) { echo(value: $v) }", "variables": {"v": 1e400}}', JSON),
    (
        b'{"query": "query($v: JSON!) { big(value: $v) }", "variables": {"v": 1234567890123456789012}}',
        JSON,
    ),
    (
        b'{"query": "query($v: JSON!) { big(value: $v) }", "variables": {"v": "\\u00e9\\ud83d\\ude00"}}',
        JSON,
    ),
    (b'{"query": "{ nope }"}', JSON),
    (b'{"query": "{ echo "}', JSON),
    (b'{"query": "query A { echo } query B { echo }"}', JSON),
    (b'{"query": "query A { echo } query B { echo }", "operationName": "B"}', JSON),
    (b'{"query": "subscription { ticks }"}', JSON),
    (b'{"variables": {}}', JSON),
    (b'{"query": 3}', JSON),
    (b'{"query": "{ echo }", "variables": [1]}', JSON),
    (b'[{"query": "{ echo }"}, {"query": "{ echo(value: 2) }"}]', JSON),
    (b"not json", JSON),
    (b"", JSON),
    (b'{"query": "{ echo }"}', [(b"content-type", b"text/plain")]),
    (b'{"query": "{ echo }"}', [(b"content-type", b"application/json; charset=utf-8")]),
    (b'{"query": "{ caller }"}', JSON),
    (b'{"query": "{ header }"}', [*JSON, (b"x-probe", b"seen")]),
]


@pytest.mark.parametrize(("body", "headers"), CASES)
async def test_a_post_is_answered_as_strawberry_answers_it(
    body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    expected = await call(strawberrys, body, headers)
    assert await call(app, body, headers) == expected
    assert await call(app, body, headers, chunked=True) == expected


async def test_a_streaming_accept_and_other_methods_keep_strawberrys_path() -> None:
    body = b'{"query": "{ echo }"}'
    streaming = [*JSON, (b"accept", b"multipart/mixed;subscriptionSpec=1.0, application/json")]
    assert await call(app, body, streaming) == await call(strawberrys, body, streaming)
    assert await call(app, b"", [], method="PUT") == await call(strawberrys, b"", [], method="PUT")


async def test_the_service_app_hands_a_post_to_the_subgraph_with_its_route() -> None:
    served = service_app(graphql=app, checks={}, service="probe")
    status, _, answer = await call(served, b'{"query": "{ echo(value: 5) }"}', JSON)
    assert (status, answer) == (200, b'{"data":{"echo":5}}')
    status, _, answer = await call(served, b"", [], method="PUT")
    assert status == 405  # what the router answers for a method the route refuses
