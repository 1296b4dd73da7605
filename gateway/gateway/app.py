"""Composition root: builds the gateway's ASGI app from settings, and runs it (`main`).

Nothing is created at import time. `build_app` wires the edge, the engine holder and the
routes; the supergraph is loaded, Redis connected and the reload watcher started when the
app starts (its lifespan), and all of it is released when it stops. Tests pass their own
engine factory, token verifier or Redis client through the keyword arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any

import orjson
import uvicorn
from opentelemetry.trace import TracerProvider, get_tracer_provider
from redis.asyncio import Redis
from servicekit.bus.connection import Bus
from servicekit.collector import tune_collector
from servicekit.headers import LimitHeaders
from servicekit.shedding import ShedLoad
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.caching.entities import EntityCache
from gateway.caching.feed import InvalidationFeed, parse_invalidations
from gateway.caching.policy import PublicFields
from gateway.caching.public import PublicResponses
from gateway.caching.store import ResponseCache, TaggedCache
from gateway.coalescing import Coalescer
from gateway.edge.apq import APQStore, MemoryAPQStore, PersistedQueries, RedisAPQStore
from gateway.edge.auth import Authenticator, TokenVerifier
from gateway.edge.cors import cors_middleware
from gateway.edge.document import DocumentAnalyser
from gateway.edge.limits import Limits
from gateway.edge.pipeline import Edge
from gateway.edge.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from gateway.fanout import SubscriptionHub
from gateway.graphiql import graphiql_page
from gateway.metrics import GatewayMetrics, gateway_metrics
from gateway.reload import Built, EngineFactory, EngineHolder, SupergraphWatcher, load
from gateway.server import GraphQLHttp
from gateway.settings import GatewaySettings
from gateway.ws import GraphQLWebSocket

log = logging.getLogger(__name__)

_DEFAULT: Any = object()


def federated_engine_factory(
    settings: GatewaySettings, metrics: GatewayMetrics, tracer_provider: TracerProvider
) -> EngineFactory:
    """Builds the real engine (supergraph → HTTP transport → federated engine) for an SDL.

    Every engine it builds records into the gateway's `metrics` and traces through the
    process's `tracer_provider`. The `@policy` hook is imported once, here, so a wrong
    path stops start-up instead of failing requests.
    """
    from gateway.authorization import load_policy_hook

    policy_hook = load_policy_hook(settings.policy_hook)

    async def build(sdl: str) -> Built:
        from gateway.engine import FederatedEngine
        from gateway.multiplex import MultiplexingTransport
        from gateway.supergraph import Supergraph

        supergraph = await asyncio.to_thread(Supergraph.parse, sdl)
        transport = MultiplexingTransport(
            supergraph.subgraph_urls,
            timeout=settings.fetch_timeout,
            max_connections=settings.max_connections,
            max_response_bytes=settings.max_subgraph_response_bytes,
        )
        engine = FederatedEngine(
            supergraph,
            transport,
            plan_cache_size=settings.plan_cache_size,
            fetch_timeout=settings.fetch_timeout,
            metrics=metrics,
            tracer_provider=tracer_provider,
            hide_suggestions=not settings.introspection,
            scope_claim=settings.scope_claim,
            policy_hook=policy_hook,
            max_directive_cost=settings.max_directive_cost,
            list_size=settings.list_size,
            override_labels=settings.override_labels,
        )
        return Built(engine, transport.close)

    return build


def jwks_verifier(settings: GatewaySettings) -> TokenVerifier:
    """Identity's tokens, refused once revoked (the revocation feed runs in the lifespan)."""
    from servicekit.auth import JwtVerifier
    from servicekit.revocation import RevocationList
    from servicekit.settings import InfraSettings

    lifetime = InfraSettings().jwt_max_lifetime_seconds
    return JwtVerifier(
        settings.jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        max_lifetime_seconds=lifetime,
        revocations=RevocationList(horizon=timedelta(seconds=lifetime)),
    )


def _follow_revocations(
    verifier: TokenVerifier | None,
) -> Callable[[], Coroutine[Any, Any, None]] | None:
    """A task following identity's revocations into the verifier's list, if it keeps one."""
    revocations = getattr(verifier, "revocations", None)
    if revocations is None:
        return None
    from servicekit.bus import Bus
    from servicekit.revocation import RevocationFeed
    from servicekit.settings import InfraSettings

    infra = InfraSettings()

    async def follow() -> None:
        bus = Bus(
            infra.nats_url,
            namespace=infra.bus_namespace,
            name="gateway",
            replicas=infra.nats_stream_replicas,
        )
        try:
            await RevocationFeed(bus, revocations).run()
        finally:
            await bus.close()

    return follow


def public_responses(
    settings: GatewaySettings, metrics: GatewayMetrics, bus: Bus | None
) -> tuple[PublicResponses, InvalidationFeed | None]:
    """The response and entity caches of public queries and the feed of events that
    invalidates both.

    Without a bus (or with `GATEWAY_RESPONSE_CACHE=false` and `GATEWAY_ENTITY_CACHE=false`)
    nothing is cached in process: public GET answers still tell CDNs how long they may
    keep them.
    """
    subjects = parse_invalidations(settings.cache_invalidations)
    feed: InvalidationFeed | None = None
    cache: ResponseCache | None = None
    entities: EntityCache | None = None
    if (settings.response_cache or settings.entity_cache) and bus is not None and subjects:
        feeds: list[InvalidationFeed] = []

        def live() -> bool:
            return feeds[0].live

        if settings.response_cache:
            cache = ResponseCache(
                size=settings.response_cache_size,
                ttl_seconds=settings.response_cache_ttl_seconds,
                usable=live,
            )
        if settings.entity_cache:
            entities = EntityCache(
                TaggedCache(
                    size=settings.entity_cache_size,
                    ttl_seconds=settings.response_cache_ttl_seconds,
                    usable=live,
                ),
                frozenset(subjects.values()),
            )

        def invalidate(type_name: str, identity: str) -> int:
            dropped = 0
            if cache is not None:
                dropped += cache.invalidate(type_name, identity)
            if entities is not None:
                dropped += entities.invalidate(type_name, identity)
            metrics.record_invalidation(dropped)
            return dropped

        feed = InvalidationFeed(bus, subjects, invalidate)
        feeds.append(feed)
    responses = PublicResponses(
        public=PublicFields(settings.cache_public_fields),
        watched=frozenset(subjects.values()),
        cache=cache,
        cdn_max_age=settings.cdn_max_age,
        policy_cache_size=settings.plan_cache_size,
        entities=entities,
    )
    return responses, feed


def _cache_bus(settings: GatewaySettings) -> Bus | None:
    if not (settings.response_cache or settings.entity_cache):
        return None
    from servicekit.settings import InfraSettings

    infra = InfraSettings()
    return Bus(
        infra.nats_url,
        namespace=infra.bus_namespace,
        name="gateway-cache",
        replicas=infra.nats_stream_replicas,
    )


def build_app(
    settings: GatewaySettings | None = None,
    *,
    engine_factory: EngineFactory | None = None,
    verifier: TokenVerifier | None = _DEFAULT,
    redis: Redis | None = _DEFAULT,
    metrics: GatewayMetrics | None = None,
    tracer_provider: TracerProvider | None = None,
    bus: Bus | None = _DEFAULT,
) -> Starlette:
    """The gateway as a Starlette app; it loads the supergraph when it starts.

    `metrics` defaults to a fresh set of instruments with the process collector, and
    `tracer_provider` to the process's (as `setup_telemetry` installed it). `bus` carries
    the events that invalidate cached answers (NATS from `InfraSettings` by default;
    None: no in-process response cache); the app closes the one it builds.
    """
    settings = settings or GatewaySettings()
    metrics = metrics if metrics is not None else gateway_metrics()
    tracer_provider = tracer_provider if tracer_provider is not None else get_tracer_provider()
    factory = engine_factory or federated_engine_factory(settings, metrics, tracer_provider)
    if verifier is _DEFAULT:
        verifier = jwks_verifier(settings)
    if redis is _DEFAULT:
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    owns_redis = redis is not None and settings.redis_url is not None

    owns_bus = bus is _DEFAULT
    if bus is _DEFAULT:
        bus = _cache_bus(settings)
    responses, invalidations = public_responses(settings, metrics, bus)

    holder = EngineHolder()
    edge = Edge(
        authenticator=Authenticator(verifier),
        analyser=DocumentAnalyser(
            Limits(
                max_depth=settings.max_depth,
                max_aliases=settings.max_aliases,
                max_root_fields=settings.max_root_fields,
                max_document_bytes=settings.max_document_bytes,
                max_fields=settings.max_fields,
                max_cost=settings.max_cost,
                list_size=settings.list_size,
            ),
            introspection=settings.introspection,
            cache_size=settings.parse_cache_size,
        ),
        persisted=PersistedQueries(_apq_store(settings, redis)),
        limiter=_rate_limiter(settings, redis),
    )
    http = GraphQLHttp(
        edge=edge,
        engines=holder,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        graphiql_page=graphiql_page() if settings.serve_graphiql else None,
        coalescer=Coalescer(on_shared=metrics.coalesced_requests.inc)
        if settings.coalesce
        else None,
        responses=responses,
    )
    hub = (
        SubscriptionHub(queue_size=settings.ws_subscriber_queue)
        if settings.ws_share_subscriptions
        else None
    )
    websocket = GraphQLWebSocket(
        edge=edge,
        engines=holder,
        metrics=metrics,
        init_timeout=settings.ws_init_timeout,
        max_operations=settings.ws_max_operations,
        max_subscriptions_per_user=settings.ws_max_subscriptions_per_user,
        reverify_seconds=settings.ws_reverify_seconds,
        hub=hub,
    )

    async def health(request: Request) -> Response:
        generation = holder.loaded
        if generation is None:
            return _json(503, {"status": "starting"})
        return _json(200, {"status": "ok", "supergraph": generation.fingerprint[:12]})

    async def live(request: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def prometheus(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        holder.swap(await load(settings.supergraph_path, factory))
        tune_collector(settings.gc_young_threshold)
        watcher_task: asyncio.Task[None] | None = None
        if settings.reload_interval > 0:
            watcher = SupergraphWatcher(
                settings.supergraph_path,
                holder,
                factory,
                interval=settings.reload_interval,
                metrics=metrics,
            )
            watcher_task = asyncio.get_running_loop().create_task(watcher.run())
        cache_task: asyncio.Task[None] | None = None
        if invalidations is not None:
            cache_task = asyncio.get_running_loop().create_task(invalidations.run())
        follow = _follow_revocations(verifier)
        feed_task: asyncio.Task[None] | None = None
        if follow is not None:
            feed_task = asyncio.get_running_loop().create_task(follow())
        keys_task: asyncio.Task[None] | None = None
        keep_fresh = getattr(verifier, "keep_fresh", None)
        if keep_fresh is not None:
            keys_task = asyncio.get_running_loop().create_task(keep_fresh())
        try:
            yield
        finally:
            for task in (watcher_task, feed_task, cache_task, keys_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await holder.aclose()
            await _close_quietly(verifier)
            if owns_bus and bus is not None:
                await _close_quietly(bus)
            if owns_redis and redis is not None:
                await redis.aclose()

    middleware: list[Middleware] = []
    graphql_http: ASGIApp = http
    cors = cors_middleware(settings.cors_origins)
    if cors is not None:
        middleware.append(cors)
        cls, args, kwargs = cors
        graphql_http = cls(http, *args, **kwargs)
    app = GatewayApp(
        graphql_http=graphql_http,
        max_in_flight=settings.max_in_flight,
        routes=[
            Route("/graphql", http),
            WebSocketRoute("/graphql", websocket),
            Route("/health", health),
            Route("/readyz", health),
            Route("/healthz", live),
            Route("/metrics", prometheus),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    # For diagnostics and tests: the response cache and whether its events are heard.
    app.state.responses = responses
    app.state.invalidations = invalidations
    app.state.subscriptions = hub
    return app


class GatewayApp(Starlette):
    """Starlette, with GraphQL over HTTP dispatched straight to its handler.

    Every frontend request is a POST to `/graphql`; sending it past the router and the
    generic middleware saves their per-request cost. The handler answers every failure
    itself, so nothing the error middleware would add is lost. Request headers are bounded
    for every path (servicekit's `LimitHeaders`: 431).
    """

    def __init__(self, *, graphql_http: ASGIApp, max_in_flight: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graphql_http = graphql_http
        # Oversized request headers are refused (431) before anything else reads them, and
        # requests past `max_in_flight` are shed at once (503 UNAVAILABLE, Retry-After).
        self._limited = LimitHeaders(ShedLoad(self._dispatch, max_in_flight))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._limited(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql":
            await self._graphql_http(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _apq_store(settings: GatewaySettings, redis: Redis | None) -> APQStore | None:
    if not settings.apq_enabled:
        return None
    if redis is not None:
        return RedisAPQStore(
            redis, prefix=settings.redis_prefix, ttl_seconds=settings.apq_ttl_seconds
        )
    return MemoryAPQStore(settings.apq_cache_size, ttl_seconds=settings.apq_ttl_seconds)


def _rate_limiter(settings: GatewaySettings, redis: Redis | None) -> RateLimiter | None:
    if settings.rate_limit_per_second <= 0:
        return None
    if redis is not None:
        return RedisRateLimiter(
            redis,
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            prefix=settings.redis_prefix,
        )
    return MemoryRateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)


async def _close_quietly(resource: object) -> None:
    for name in ("aclose", "close"):
        closer = getattr(resource, name, None)
        if closer is not None:
            with contextlib.suppress(Exception):
                outcome = closer()
                if asyncio.iscoroutine(outcome):
                    await outcome
            return


def _json(status: int, body: object) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def worker_app() -> Starlette:
    """The app of one worker process (`GATEWAY_WORKERS` > 1): each sets up its own telemetry."""
    from servicekit.telemetry import configure_logging, setup_telemetry

    settings = GatewaySettings()
    configure_logging("gateway", production=settings.production)
    setup_telemetry("gateway")
    return build_app(settings)


def main() -> None:
    """Run the gateway with uvicorn on GATEWAY_HOST:GATEWAY_PORT, in `worker_count` processes.

    With more than one, uvicorn's parent binds the port and starts that many worker
    processes sharing its socket (each accepts connections from it), restarts one that
    dies and stops them all on SIGTERM. Nothing in a worker is a singleton to elect: each
    polls the supergraph file and builds its own engine, and each follows the revocation
    and cache-invalidation events with a consumer of its own, because each keeps its own
    revocation list and response cache.
    """
    from servicekit.telemetry import configure_logging, setup_telemetry

    settings = GatewaySettings()
    configure_logging("gateway", production=settings.production)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": settings.loop,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "ws": "websockets-sansio",
        "ws_max_size": settings.max_body_bytes,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "access_log": False,
        "log_config": None,
    }
    workers = settings.worker_count
    if workers > 1:
        log.info("gateway starting %d worker processes on port %d", workers, settings.port)
        uvicorn.run("gateway.app:worker_app", factory=True, workers=workers, **common)
        return
    setup_telemetry("gateway")
    uvicorn.run(build_app(settings), **common)
