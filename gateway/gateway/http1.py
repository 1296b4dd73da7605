"""A small HTTP/1.1 keep-alive client for plain-HTTP subgraphs, on asyncio's protocol layer.

It does the one thing the gateway needs, a POST with a JSON body, for a fraction of the
CPU of a general-purpose client (the figures are in the gateway's README), and it is
strict where a general-purpose client is lenient, because a subgraph is trusted only so
far:

- A request is sent again only when the caller says it is idempotent (a query), and only
  when a *reused* connection closed before any byte of the answer came back: the server
  dropped an idle connection as the request left. Anything else that goes wrong after
  the request was written raises `Dropped`; a mutation is never sent twice.
- An answer is bounded: a head over 64 KiB or a body over `max_body` bytes raises
  `ResponseTooLarge` and the connection is closed, so memory never grows past the bound.
- A pooled connection is reused only while it is clean: bytes that arrive while no
  request is waiting (a stale or stray answer) spoil it, and just before reuse a
  zero-timeout poll of its socket discards one the peer closed or wrote to meanwhile.
"""

from __future__ import annotations

import asyncio
import select
from typing import cast

import httptools

__all__ = ["Dropped", "Http1Pool", "MalformedResponse", "ResponseTooLarge"]

HEAD_BYTES = 65_536
"""The most a response head (status line and headers) may take."""

# Anything readable on an idle connection (data, a FIN, an error) disqualifies it.
_UNCLEAN = select.POLLIN | select.POLLPRI | getattr(select, "POLLRDHUP", 0)


class MalformedResponse(ConnectionError):
    """The subgraph's answer is not HTTP/1.1 we can read."""


class Dropped(ConnectionError):
    """The connection closed after the request was written, before the answer was complete."""


class ResponseTooLarge(Exception):
    """The answer is larger than the bound; the connection was closed."""


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, carrying one request at a time.

    httptools (llhttp) parses the answers: content-length, chunked (with trailers) and
    interim 1xx answers, with the body handed over piece by piece, so the bound holds
    whatever the framing. A body that runs until the connection closes is ours to end.
    """

    def __init__(self, max_body: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.max_body = max_body
        self.parser = httptools.HttpResponseParser(self)
        self.poller = select.poll()
        # The body as the parser hands it over: one piece is the answer as it is, several
        # are joined once (no growing buffer, no copy of a whole answer per piece).
        self.pieces: list[bytes] = []
        self.body_bytes = 0
        self.head_bytes = 0
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False
        self.spoiled = False  # bytes arrived that no request asked for
        self.answered = False  # a byte of the current answer arrived
        self.headed = False
        self.framed = False  # the answer has a content-length or is chunked
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.poller.register(sock.fileno(), _UNCLEAN)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.headed and not self.framed:  # the body ends where the connection does
            waiter.set_result((self.parser.get_status_code(), self._body()))
        else:
            waiter.set_exception(Dropped("the subgraph closed the connection"))

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.spoiled = True  # never read as the answer to a later request
            self.close()
            return
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            failure = (
                cause if isinstance(cause, ResponseTooLarge) else MalformedResponse(str(error))
            )
            self._fail(waiter, failure)
        except httptools.HttpParserError as error:
            self._fail(waiter, MalformedResponse(str(error)))

    # httptools callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.spoiled = True  # a second answer behind the one asked for
        self.pieces = []
        self.body_bytes = 0
        self.head_bytes = 0
        self.headed = self.framed = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > HEAD_BYTES:
            raise ResponseTooLarge
        lowered = name.lower()
        if lowered == b"content-length":
            self.framed = True
            if int(value) > self.max_body:
                raise ResponseTooLarge
        elif lowered == b"transfer-encoding":
            self.framed = True

    def on_status(self, status: bytes) -> None:
        self.head_bytes += len(status)
        if self.head_bytes > HEAD_BYTES:
            raise ResponseTooLarge

    def on_headers_complete(self) -> None:
        self.headed = True

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.max_body:
            raise ResponseTooLarge
        self.pieces.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim answer; the real one follows
        self.keep_alive = self.parser.should_keep_alive()
        waiter = self.waiter
        if waiter is None or waiter.done() or self.spoiled:
            self.spoiled = True
            return
        waiter.set_result((status, self._body()))

    # -----------------------------------------------------------------------------------------

    def _body(self) -> bytes:
        pieces = self.pieces
        self.pieces = []
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.answered = self.headed = False
        self.transport.write(data)
        return self.waiter

    def clean(self) -> bool:
        """Whether this idle connection can carry the next request (see the module doc)."""
        if self.lost or self.spoiled or not self.keep_alive:
            return False
        return not self.poller.poll(0)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _fail(self, waiter: asyncio.Future[tuple[int, bytes]], error: Exception) -> None:
        self.spoiled = True
        self.pieces = []
        if not waiter.done():
            waiter.set_exception(error)
        self.close()


class Http1Pool:
    """Keep-alive connections per host, at most `limit` requests in flight in all."""

    def __init__(self, limit: int, *, max_body: int) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._max_body = max_body
        self._closed = False

    async def post(
        self, host: str, port: int, request: bytes, *, idempotent: bool
    ) -> tuple[int, bytes]:
        """Send `request` (a whole HTTP/1.1 message) and return the status and body.

        Raises `Dropped`, `MalformedResponse`, `ResponseTooLarge` or the `OSError` of a
        connection that could not be opened.
        """
        async with self._slots:
            idle = self._idle.setdefault((host, port), [])
            connection = self._take(idle)
            if connection is not None:
                try:
                    return await self._exchange(connection, request, idle)
                except Dropped:
                    # A reused connection closed before answering: the server dropped it
                    # as the request left. Only an idempotent request may go again.
                    if connection.answered or not idempotent:
                        raise
            connection = await self._open(host, port)
            return await self._exchange(connection, request, idle)

    @staticmethod
    def _take(idle: list[_Connection]) -> _Connection | None:
        while idle:
            connection = idle.pop()
            if connection.clean():
                return connection
            connection.close()
        return None

    async def _open(self, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        max_body = self._max_body
        _, connection = await loop.create_connection(lambda: _Connection(max_body), host, port)
        return connection

    async def _exchange(
        self, connection: _Connection, request: bytes, idle: list[_Connection]
    ) -> tuple[int, bytes]:
        try:
            answer = await connection.send(request)
        except BaseException:
            connection.close()
            raise
        if connection.keep_alive and not connection.spoiled and not self._closed:
            idle.append(connection)  # a lost one is discarded when next taken
        else:
            connection.close()
        return answer

    def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
