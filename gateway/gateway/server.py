"""GraphQL over HTTP on `/graphql`: POST JSON, GET for queries, by the GraphQL-over-HTTP spec.

A plain ASGI app rather than a Starlette endpoint: this is the hot path of every frontend
request, and it only needs the headers, the body and one JSON encode. The order of work
is fixed: GraphiQL page → method → Accept → CSRF → body → edge (auth, rate limit, APQ,
limits) → GET-only-queries → engine. Nothing reaches the engine before the edge has
admitted it. Clients never see a stack trace: unexpected failures are logged and answered
with INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import Receive, Scope, Send

from gateway.caching.public import PublicResponses
from gateway.caching.store import Lookup
from gateway.coalescing import Coalescer, coalescing_key
from gateway.edge.csrf import check_csrf, media_type
from gateway.edge.errors import EdgeError
from gateway.edge.negotiation import GRAPHQL_RESPONSE_JSON, accepts_html, negotiate
from gateway.edge.pipeline import BAD_REQUEST, Admitted, Edge
from gateway.incremental import content_type, incremental_spec, send_multipart
from gateway.metrics import GatewayMetrics
from gateway.reload import EngineHolder, Generation
from gateway.tracing import spans_exported
from gateway.types import JSON, Engine

log = logging.getLogger(__name__)

FORWARDED_HEADERS = ("authorization", "x-request-id", "x-device-id")
INTERNAL_ERROR: JSON = {
    "errors": [
        {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ]
}
_JSON_BODY_TYPES = frozenset(("application/json", "application/graphql-response+json"))


def request_headers(scope: Scope) -> dict[str, str]:
    """The request headers by lower-case name (ASGI already lower-cases them)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def forward_headers(headers: Mapping[str, str], address: str | None = None) -> dict[str, str]:
    """Headers for subgraph fetches: the caller's credentials, id, device id (sign-in limits
    tell apart clients behind one address by it) and address, plus the trace context.

    The address is the client as the gateway saw it (after trusted proxies), sent as
    `x-forwarded-for` so subgraphs that limit per client (sign-in) see clients, not the
    gateway. The trace context is that of the current (gateway) span, so subgraph spans
    hang under it; with no tracing SDK installed it is the caller's own context, passed on.
    """
    forwarded = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
    if address:
        forwarded["x-forwarded-for"] = address
    propagate.inject(forwarded)
    if "traceparent" not in forwarded and "traceparent" in headers:
        forwarded["traceparent"] = headers["traceparent"]
        if "tracestate" in headers:
            forwarded["tracestate"] = headers["tracestate"]
    return forwarded


class GraphQLHttp:
    """The ASGI app answering HTTP requests on `/graphql`."""

    def __init__(
        self,
        *,
        edge: Edge,
        engines: EngineHolder,
        metrics: GatewayMetrics,
        max_body_bytes: int,
        graphiql_page: bytes | None,
        coalescer: Coalescer | None = None,
        responses: PublicResponses | None = None,
    ) -> None:
        self._edge = edge
        self._coalescer = coalescer
        self._responses = responses
        self._engines = engines
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._graphiql = graphiql_page
        self._tracer = trace.get_tracer("gateway")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = request_headers(scope)
        method: str = scope["method"]
        accept = headers.get("accept")
        if (
            self._graphiql is not None
            and method == "GET"
            and accepts_html(accept)
            and b"query=" not in scope["query_string"]
            and b"extensions=" not in scope["query_string"]
        ):
            await _send(send, 200, self._graphiql, "text/html; charset=utf-8", {})
            return
        if method not in ("GET", "POST"):
            error = EdgeError(
                "GraphQL is served over GET and POST.",
                code=BAD_REQUEST,
                status=405,
                headers={"allow": "GET, POST"},
            )
            await _send(
                send, 405, orjson.dumps(error.to_response()), "application/json", error.headers
            )
            return
        media = negotiate(accept)
        if media is None:
            error = EdgeError(
                "Accept application/graphql-response+json or application/json.",
                code=BAD_REQUEST,
                status=406,
            )
            await _send(send, 406, orjson.dumps(error.to_response()), "application/json", {})
            return

        span = self._tracer.start_span(
            "graphql.request", context=propagate.extract(headers), kind=SpanKind.SERVER
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        # The span always exists (its context is what subgraphs and logs see); its
        # attributes only matter to a span processor, and setting them is not free.
        annotate = spans_exported(trace.get_tracer_provider())
        operation = "unknown"
        status = 500
        extra_headers: dict[str, str] = {}
        error_code: str | None = None
        streamed = False
        try:
            try:
                check_csrf(method, headers)
                payload = await self._payload(method, scope, receive, headers)
                caller = await self._edge.authenticate(headers.get("authorization"))
                client = scope.get("client")
                address = client[0] if client else None
                admitted = await self._edge.admit(
                    payload,
                    caller=caller,
                    address=address,
                    forward_headers=forward_headers(headers, address),
                )
                operation = admitted.operation.kind
                if annotate:
                    if admitted.operation.name:
                        span.set_attribute("graphql.operation.name", admitted.operation.name)
                    span.set_attribute("graphql.operation.type", operation)
                if operation != "query" and method == "GET":
                    raise EdgeError(
                        f"Only queries may be sent with GET; send this {operation} with POST.",
                        code=BAD_REQUEST,
                        status=405,
                        headers={"allow": "POST"},
                    )
                if operation == "subscription":
                    raise EdgeError(
                        "Subscriptions are served over WebSocket (graphql-transport-ws) on this path.",
                        code=BAD_REQUEST,
                    )
                generation = self._engines.lease()
                try:
                    # `@defer` for a client taking `multipart/mixed`: payloads as they come,
                    # in the format its `Accept` names.
                    spec = incremental_spec(accept)
                    incremental = (
                        await generation.engine.execute_incremental(
                            admitted.request, admitted.context, spec=spec[0]
                        )
                        if spec is not None
                        and (
                            "@defer" in admitted.request.query
                            or "@stream" in admitted.request.query
                        )
                        else None
                    )
                    if incremental is None:
                        status, body, error_code, public = await self._answer(
                            generation, admitted, media
                        )
                    elif isinstance(incremental, dict):
                        status = (
                            200 if "data" in incremental or media != GRAPHQL_RESPONSE_JSON else 400
                        )
                        errors = incremental.get("errors")
                        error_code = _first_code(errors) if errors else None
                        body, public = orjson.dumps(incremental), False
                    else:
                        status, streamed = 200, True
                        assert spec is not None
                        await send_multipart(send, incremental, content_type(spec[1]))
                finally:
                    self._engines.release(generation)
                if method == "GET":
                    extra_headers = {"cache-control": self._cache_control(public)}
            except EdgeError as error:
                status = error.status or (400 if media == GRAPHQL_RESPONSE_JSON else 200)
                extra_headers = error.headers
                error_code = error.code
                body = orjson.dumps(error.to_response())
            except Exception as error:
                log.exception("unexpected failure serving a GraphQL request")
                span.record_exception(error)
                status = 500
                error_code = "INTERNAL_SERVER_ERROR"
                body = orjson.dumps(INTERNAL_ERROR)
            if annotate:
                span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            if not streamed:
                await _send(send, status, body, media, extra_headers)
        finally:
            otel_context.detach(token)
            span.end()
            self._metrics.observe_request(
                "http", operation, str(status), time.perf_counter() - started, error_code
            )

    async def _answer(
        self, generation: Generation, admitted: Admitted, media: str
    ) -> tuple[int, bytes, str | None, bool]:
        """Status, body, first error code, and whether the answer is public (CDN-cacheable).

        A public query (anonymous, every field public) is answered from the response cache
        when it holds the answer, and a complete answer is kept there.
        """
        responses = self._responses
        lookup: Lookup | None = None
        policy = None
        if (
            responses is not None
            and admitted.operation.kind == "query"
            and responses.anonymous(admitted.context)
        ):
            policy = responses.policy(generation.engine, generation.fingerprint, admitted.request)
            if policy is not None:
                lookup = responses.lookup(generation.fingerprint, admitted.request, policy)
                if lookup is not None and lookup.body is not None:
                    self._metrics.record_response_cache(True)
                    return 200, lookup.body, None, True
                admitted.context.entities = responses.entity_view(generation.fingerprint)
        # Misses of one public answer share one execution whoever asks: it is the same answer.
        shared = ("public", lookup.key) if lookup is not None else None
        result = await self._execute(generation.engine, admitted, shared)
        entities = admitted.context.entities
        if entities is not None:
            self._metrics.record_entity_cache(entities.hits, entities.misses)
        status = 200 if "data" in result or media != GRAPHQL_RESPONSE_JSON else 400
        errors = result.get("errors")
        body = orjson.dumps(result)
        if lookup is not None and responses is not None:
            self._metrics.record_response_cache(False)
            responses.store(lookup, result, body)
        public = policy is not None and not errors and result.get("data") is not None
        return status, body, _first_code(errors) if errors else None, public

    def _cache_control(self, public: bool) -> str:
        """What a CDN may do with a GET answer: keep a public one a while, nothing else."""
        responses = self._responses
        if public and responses is not None and responses.cdn_max_age > 0:
            return f"public, max-age={responses.cdn_max_age}"
        return "no-store"

    async def _execute(
        self, engine: Engine, admitted: Admitted, shared: Hashable | None = None
    ) -> JSON:
        """Run the operation; a query shares the execution of an identical one in flight.

        `shared` is the key of a public answer, the same for every caller; other queries
        share only with the same caller and forwarded headers (`coalescing_key`).
        """
        coalescer = self._coalescer
        if coalescer is not None and admitted.operation.kind == "query":
            key = shared or coalescing_key(engine, admitted.request, admitted.context)
            if key is not None:
                return await coalescer.run(
                    key, lambda: engine.execute(admitted.request, admitted.context)
                )
        return await engine.execute(admitted.request, admitted.context)

    async def _payload(
        self, method: str, scope: Scope, receive: Receive, headers: Mapping[str, str]
    ) -> Mapping[str, Any]:
        if method == "GET":
            return _query_params(scope["query_string"])
        kind = media_type(headers.get("content-type"))
        if kind not in _JSON_BODY_TYPES:
            raise EdgeError(
                "POST a JSON body with Content-Type: application/json.",
                code=BAD_REQUEST,
                status=415,
            )
        body = await self._body(receive, headers)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise EdgeError("The body is not valid JSON.", code=BAD_REQUEST, status=400) from None
        if not isinstance(payload, dict):
            raise EdgeError(
                "The body must be a JSON object (batched requests are not supported).",
                code=BAD_REQUEST,
                status=400,
            )
        return payload

    async def _body(self, receive: Receive, headers: Mapping[str, str]) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise _too_large(self._max_body)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise EdgeError("The client went away.", code=BAD_REQUEST, status=400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise _too_large(self._max_body)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _query_params(query_string: bytes) -> dict[str, Any]:
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    payload: dict[str, Any] = {"query": params.get("query") or None}
    if params.get("operationName"):
        payload["operationName"] = params["operationName"]
    for name in ("variables", "extensions"):
        raw = params.get(name)
        if raw:
            try:
                payload[name] = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise EdgeError(
                    f"The {name} parameter is not valid JSON.", code=BAD_REQUEST, status=400
                ) from None
    return payload


def _too_large(limit: int) -> EdgeError:
    return EdgeError(
        f"The request body is larger than {limit} bytes.", code=BAD_REQUEST, status=413
    )


def _first_code(errors: Any) -> str:
    try:
        return str(errors[0]["extensions"]["code"])
    except (KeyError, IndexError, TypeError):
        return "GRAPHQL_ERROR"


async def _send(
    send: Send, status: int, body: bytes, content_type: str, headers: Mapping[str, str]
) -> None:
    raw_headers = [
        (
            b"content-type",
            content_type.encode() if ";" in content_type else _with_charset(content_type),
        ),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers.extend((name.encode(), value.encode()) for name, value in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _with_charset(content_type: str) -> bytes:
    return f"{content_type}; charset=utf-8".encode()
