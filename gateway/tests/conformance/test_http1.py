"""The HTTP/1.1 client against bare asyncio servers that misbehave on purpose.

Each server answers `{"data": {"n": N}}`, N counting the requests it read, and records
every request body, so a test can tell which request got which answer and how often a
request arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson
import pytest
from gateway.transport import HttpTransport
from gateway.types import RequestContext

MUTATION = 'mutation { book(id: "t1") { id } }'
QUERY = "{ a }"


def answer(payload: object, *, extra: bytes = b"") -> bytes:
    body = orjson.dumps(payload)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s%s" % (len(body), body, extra)


@dataclass
class Connection:
    """What one accepted connection has read so far."""

    index: int
    served: int = 0


@dataclass
class Server:
    """A loopback server whose behaviour per request is `respond(connection, body, writer)`."""

    respond: Callable[[Connection, bytes, asyncio.StreamWriter], Awaitable[bool]]
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = Connection(self.connections)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                self.bodies.append(body)
                if not await self.respond(connection, body, writer):
                    break
                connection.served += 1
        writer.close()
        self.closed.set()


@contextlib.asynccontextmanager
async def serving(
    respond: Callable[[Connection, bytes, asyncio.StreamWriter], Awaitable[bool]],
) -> AsyncIterator[Server]:
    server = Server(respond)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/graphql"
    try:
        yield server
    finally:
        listener.close()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a process that crashed would."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_a_mutation_whose_connection_resets_is_sent_once() -> None:
    async def respond(connection: Connection, body: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"mutation" in body:
            reset(writer)  # the subgraph crashed while running it
            return False
        writer.write(answer({"data": {"n": len(server.bodies)}}))
        return True

    async with serving(respond) as server:
        client = HttpTransport({"raw": server.url})
        try:
            # The first query leaves an idle keep-alive connection: the mutation reuses it.
            assert await client.fetch("raw", QUERY, None, RequestContext(), idempotent=True) == {
                "data": {"n": 1}
            }
            result = await client.fetch("raw", MUTATION, None, RequestContext())
        finally:
            await client.close()
    assert [b"mutation" in body for body in server.bodies] == [False, True]
    assert server.connections == 1
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "serviceName": "raw"}
    assert "not sent again" in result["errors"][0]["message"]


async def test_a_query_meeting_a_dropped_idle_connection_goes_again_on_a_fresh_one() -> None:
    async def respond(connection: Connection, body: bytes, writer: asyncio.StreamWriter) -> bool:
        if connection.index == 1 and connection.served == 1:
            reset(writer)  # the server gave up on the idle connection as the query arrived
            return False
        writer.write(answer({"data": {"n": len(server.bodies)}}))
        return True

    async with serving(respond) as server:
        client = HttpTransport({"raw": server.url})
        try:
            ctx = RequestContext()
            assert await client.fetch("raw", QUERY, None, ctx, idempotent=True) == {
                "data": {"n": 1}
            }
            again = await client.fetch("raw", QUERY, None, ctx, idempotent=True)
        finally:
            await client.close()
    assert again == {"data": {"n": 3}}
    assert server.connections == 2


async def test_a_query_on_a_fresh_connection_that_resets_is_not_sent_again() -> None:
    async def respond(connection: Connection, body: bytes, writer: asyncio.StreamWriter) -> bool:
        reset(writer)
        return False

    async with serving(respond) as server:
        client = HttpTransport({"raw": server.url})
        try:
            result = await client.fetch("raw", QUERY, None, RequestContext(), idempotent=True)
        finally:
            await client.close()
    assert len(server.bodies) == 1
    assert result["errors"][0]["message"] == (
        "Subgraph 'raw' closed the connection before answering."
    )


@pytest.mark.parametrize("framing", ["content-length", "chunked", "until-close", "head"])
async def test_an_oversized_answer_is_refused_and_its_connection_closed(framing: str) -> None:
    limit = 4096
    written: list[int] = []

    async def respond(connection: Connection, body: bytes, writer: asyncio.StreamWriter) -> bool:
        if connection.served == 0:
            writer.write(answer({"data": {"n": len(server.bodies)}}))
            return True
        if framing == "content-length":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (limit + 1))
        elif framing == "head":
            writer.write(b"HTTP/1.1 200 OK\r\n")
        else:
            chunked = framing == "chunked"
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                if chunked
                else b"HTTP/1.0 200 OK\r\n\r\n"
            )
        # Then keep sending until the client hangs up: it must not keep reading.
        piece = b"x" * 1024
        for _ in range(100_000):
            if framing == "chunked":
                writer.write(b"400\r\n" + piece + b"\r\n")
            elif framing == "head":
                writer.write(b"X-Filler: " + piece + b"\r\n")
            else:
                writer.write(piece)
            written.append(len(piece))
            await writer.drain()
        return False

    async with serving(respond) as server:
        client = HttpTransport({"raw": server.url}, max_response_bytes=limit)
        try:
            ctx = RequestContext()
            assert await client.fetch("raw", QUERY, None, ctx, idempotent=True) == {
                "data": {"n": 1}
            }
            result = await client.fetch("raw", QUERY, None, ctx, idempotent=True)
            await asyncio.wait_for(server.closed.wait(), timeout=10)
            # The pool holds nothing of that connection: the next fetch opens a new one.
            after = await client.fetch("raw", QUERY, None, ctx, idempotent=True)
        finally:
            await client.close()
    assert result["errors"][0]["message"] == "Subgraph 'raw' answered with more than 4096 bytes."
    assert result["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert sum(written) < 100_000 * 1024  # the server's writes failed: the client hung up
    assert after == {"data": {"n": 3}}
    assert server.connections == 2


async def test_stray_bytes_on_an_idle_connection_are_never_read_as_an_answer() -> None:
    stray_written = asyncio.Event()

    async def respond(connection: Connection, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer({"data": {"n": len(server.bodies)}}))
        await writer.drain()
        if connection.index == 1:
            # A stale answer nobody asked for, left on the idle keep-alive connection.
            writer.write(answer({"data": {"n": "stale"}}))
            await writer.drain()
            stray_written.set()
        return True

    async with serving(respond) as server:
        client = HttpTransport({"raw": server.url})
        try:
            ctx = RequestContext()
            first = await client.fetch("raw", QUERY, None, ctx, idempotent=True)
            await stray_written.wait()
            second = await client.fetch("raw", QUERY, None, ctx, idempotent=True)
        finally:
            await client.close()
    assert (first, second) == ({"data": {"n": 1}}, {"data": {"n": 2}})
    assert server.connections == 2


async def test_bytes_beyond_the_answer_keep_the_connection_out_of_the_pool() -> None:
    async def respond(connection: Connection, body: bytes, writer: asyncio.StreamWriter) -> bool:
        extra = answer({"data": {"n": "stale"}}) if connection.index == 1 else b""
        writer.write(answer({"data": {"n": len(server.bodies)}}, extra=extra))
        return True

    async with serving(respond) as server:
        client = HttpTransport({"raw": server.url})
        try:
            ctx = RequestContext()
            first = await client.fetch("raw", QUERY, None, ctx, idempotent=True)
            second = await client.fetch("raw", QUERY, None, ctx, idempotent=True)
        finally:
            await client.close()
    assert (first, second) == ({"data": {"n": 1}}, {"data": {"n": 2}})
    assert server.connections == 2
