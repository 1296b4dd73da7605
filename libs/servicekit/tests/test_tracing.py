"""One trace id follows a request across HTTP, gRPC, the outbox, NATS and a consumer."""

from __future__ import annotations

import asyncio

import grpc
import httpx
from google.protobuf.wrappers_pb2 import StringValue
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from servicekit.access import Access, allow
from servicekit.bus import Bus, ConsumerRunner, Event, OutboxRelay, Subscription
from servicekit.db import Database, UnitOfWork
from servicekit.embedded import free_port
from servicekit.grpc import GrpcServer, call, client_channel
from servicekit.telemetry import setup_telemetry
from servicekit.testing import TokenIssuer
from servicekit.tls import DevAuthority
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SERVICE = "realty.test.v1.Orders"


async def test_trace_id_spans_http_grpc_nats_and_consumer(
    db: Database, bus: Bus, grpc_authority: DevAuthority, token_issuer: TokenIssuer
) -> None:
    exporter = InMemorySpanExporter()
    setup_telemetry("tracing-test", extra_processors=[SimpleSpanProcessor(exporter)])

    async def place(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
        async with db.uow() as uow:
            uow.emit("demo.order.placed", request, subject_id=request.value)
            await uow.commit()
        return StringValue(value="placed")

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "Place": grpc.unary_unary_rpc_method_handler(
                            place,
                            request_deserializer=StringValue.FromString,
                            response_serializer=StringValue.SerializeToString,
                        )
                    },
                )
            ]
        )

    verifier = token_issuer.verifier()
    server = GrpcServer(
        host="127.0.0.1",
        port=free_port(),
        registrations=[register],
        service_names=[SERVICE],
        readiness=db.ping,
        tls=grpc_authority.material("orders"),
        access=[Access(SERVICE, {"Place": allow("gateway")})],
        verifier=verifier,
    )
    await server.start()
    channel = client_channel(
        f"127.0.0.1:{server.port}", tls=grpc_authority.material("gateway"), server_name="orders"
    )
    method = channel.unary_unary(
        f"/{SERVICE}/Place",
        request_serializer=StringValue.SerializeToString,
        response_deserializer=StringValue.FromString,
    )

    async def endpoint(request: Request) -> JSONResponse:
        reply = await call(method, StringValue(value="order-1"), timeout=5)
        return JSONResponse({"result": reply.value})

    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app = Starlette(
        routes=[Route("/orders", endpoint, methods=["POST"])],
        middleware=[Middleware(OpenTelemetryMiddleware)],
    )
    seen: list[int] = []
    consumed = asyncio.Event()

    async def consume(event: Event, uow: UnitOfWork) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)
        consumed.set()

    relay = OutboxRelay(db, bus)
    runner = ConsumerRunner(db, bus, "demo", [Subscription("demo.order.placed", consume, "trace")])
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            response = await client.post("/orders")
        assert response.json() == {"result": "placed"}
        await asyncio.wait_for(consumed.wait(), timeout=30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await channel.close()
        await server.stop(0)
        await verifier.aclose()

    spans = exporter.get_finished_spans()
    http_span = next(s for s in spans if s.kind is trace.SpanKind.SERVER and "POST" in s.name)
    grpc_server = next(s for s in spans if s.kind is trace.SpanKind.SERVER and SERVICE in s.name)
    grpc_client = next(s for s in spans if s.kind is trace.SpanKind.CLIENT and SERVICE in s.name)
    consumer = next(s for s in spans if s.kind is trace.SpanKind.CONSUMER)
    trace_id = http_span.context.trace_id
    assert grpc_client.context.trace_id == trace_id
    assert grpc_server.context.trace_id == trace_id
    assert consumer.context.trace_id == trace_id
    assert seen == [trace_id]
    # One chain, hop by hop: each span's parent is the span of the hop before it.
    assert grpc_client.parent is not None and grpc_server.parent is not None
    assert grpc_server.parent.span_id == grpc_client.context.span_id
    spans_by_id = {s.context.span_id: s for s in spans}
    ancestor = grpc_client
    while ancestor.parent is not None and ancestor is not http_span:
        ancestor = spans_by_id[ancestor.parent.span_id]
    assert ancestor is http_span  # the gRPC call was made while serving the request
