"""Under overload a service refuses the excess at once, with a code, instead of queueing it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import strawberry
from servicekit.db import Database
from servicekit.graphql import SubgraphSchema
from servicekit.http import service_app
from sqlalchemy import text
from starlette.responses import PlainTextResponse


async def test_requests_past_the_limit_are_shed_and_probes_still_answer() -> None:
    release = asyncio.Event()
    entered = 0

    class Slow:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            nonlocal entered
            entered += 1
            await release.wait()
            await PlainTextResponse("done")(scope, receive, send)

    async def ready() -> bool:
        return True

    app = service_app(graphql=Slow(), checks={"x": ready}, max_in_flight=2)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        admitted = [asyncio.create_task(client.post("/graphql", content=b"{}")) for _ in range(2)]
        while entered < 2:
            await asyncio.sleep(0.01)
        shed = await client.post("/graphql", content=b"{}")
        probe = await client.get("/readyz")
        release.set()
        done = await asyncio.gather(*admitted)
        after = await client.post("/graphql", content=b"{}")
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "reason": "OVERLOADED"}
    assert probe.status_code == 200
    assert [r.status_code for r in done] == [200, 200]
    assert after.status_code == 200


async def test_a_request_that_cannot_get_a_connection_in_time_is_unavailable(db: Database) -> None:
    small = Database(db.url, source="demo", pool_size=1, max_overflow=0, pool_timeout=0.2)

    @strawberry.type
    class Query:
        @strawberry.field
        async def busy(self) -> int:
            async with small.session() as session:
                return int((await session.execute(text("SELECT 1"))).scalar_one())

    schema = SubgraphSchema(query=Query)
    try:
        async with small.engine.connect() as held:  # the only connection is taken
            await held.execute(text("SELECT 1"))
            result = await schema.execute("{ busy }")
    finally:
        await small.dispose()
    assert result.errors
    assert result.errors[0].extensions == {"code": "UNAVAILABLE"}


async def test_a_request_past_its_deadline_is_cancelled_and_answered_unavailable() -> None:
    released: list[str] = []

    class Stuck:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            try:
                await asyncio.Event().wait()  # a query that never returns
            finally:
                released.append("connection")  # what an `async with` would give back

    async def ready() -> bool:
        return True

    app = service_app(graphql=Stuck(), checks={"x": ready}, request_timeout=0.05)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        late = await client.post("/graphql", content=b"{}")
        probe = await client.get("/healthz")
    assert late.status_code == 503
    assert late.json()["errors"][0]["extensions"] == {
        "code": "UNAVAILABLE",
        "reason": "DEADLINE_EXCEEDED",
    }
    assert released == ["connection"]  # the handler was cancelled, its resources freed
    assert probe.status_code == 200
