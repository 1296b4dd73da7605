"""A minimal HTTP/1.1 client for load: one kept-alive connection per simulated visitor,
`GET` only, bodies read by `Content-Length`.

The benchmark's client shares the machine with the service; a general client (httpx) costs
more CPU per request than a cached page does, so it would measure itself. This one does
only what the load needs, with asyncio streams.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class Connection:
    def __init__(self, base: str) -> None:
        url = urlsplit(base)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        assert self.reader is not None and self.writer is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        found: dict[str, str] = {}
        for field in fields:
            if field:
                name, _, value = field.partition(":")
                found[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ", 2)[1])
        length = int(found.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        return Answer(status, found, body)
