"""The gateway's configuration, read once from the environment (prefix `GATEWAY_`).

Shared infrastructure keeps its unprefixed names (`REDIS_URL`), like every service, so one
variable points the whole stack at the same Redis. Defaults match what `make dev` runs.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from servicekit.settings import repo_root

# Each event drops the cached answers holding the entity its envelope's subject_id names.
DEFAULT_INVALIDATIONS = (
    "listings.listing.created=Listing,listings.listing.updated=Listing,"
    "listings.listing.status_changed=Listing,listings.listing.deleted=Listing,"
    "identity.user.updated=User,identity.user.deleted=User"
)

# The fields of listing pages and search that every visitor sees alike and that change
# only through the listings and identity events the cache follows.
DEFAULT_PUBLIC_FIELDS = (
    "Query.listing",
    "Query.listings",
    "ListingConnection.*",
    "ListingEdge.*",
    "PageInfo.*",
    "Listing.id",
    "Listing.slug",
    "Listing.title",
    "Listing.description",
    "Listing.price",
    "Listing.status",
    "Listing.propertyType",
    "Listing.bedrooms",
    "Listing.bathrooms",
    "Listing.livingAreaSqft",
    "Listing.timeZone",
    "Listing.address",
    "Listing.location",
    "Listing.photos",
    "Listing.realtor",
    "Listing.seo",
    "Listing.createdAt",
    "Listing.updatedAt",
    "Money.*",
    "Address.*",
    "GeoPoint.*",
    "Photo.*",
    "ListingSeo.*",
    "User.id",
    "User.displayName",
    "User.avatarUrl",
    "User.realtorProfile",
    "RealtorProfile.*",
)


def _default_supergraph_path() -> Path:
    return repo_root() / ".dev" / "supergraph.graphql"


def available_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota.

    In a container with a CPU limit the affinity is every core of the node, the quota
    (`cpu.max`: "<quota> <period>", or "max") what the pod may really use.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


class GatewaySettings(BaseSettings):
    """Everything the composition root (`gateway.app`) needs to build the gateway."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", extra="ignore", frozen=True, populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = 4000
    environment: str = Field(
        "development", validation_alias=AliasChoices("GATEWAY_ENVIRONMENT", "REALTY_ENV")
    )

    supergraph_path: Path = Field(default_factory=_default_supergraph_path)
    reload_interval: float = 1.0
    """Seconds between two looks at the supergraph file; 0 turns hot reload off."""

    introspection: bool = True
    graphiql: bool | None = None
    """The GraphiQL page; unset means on in development, off in production."""

    fetch_timeout: float = 10.0
    max_connections: int = 100
    max_subgraph_response_bytes: int = 32 * 1024 * 1024
    """The largest subgraph answer the gateway reads; a larger one fails that fetch."""
    plan_cache_size: int = 2048
    parse_cache_size: int = 2048

    # Identity's keys and claims: the gateway's own variables, else the names every
    # service reads (servicekit's InfraSettings), so one setting serves the whole stack.
    jwks_url: str = Field(
        "http://127.0.0.1:4001/.well-known/jwks.json",
        validation_alias=AliasChoices("GATEWAY_JWKS_URL", "IDENTITY_JWKS_URL"),
    )
    jwt_issuer: str = Field(
        "https://identity.realtyforyou.com",
        validation_alias=AliasChoices("GATEWAY_JWT_ISSUER", "JWT_ISSUER"),
    )
    jwt_audience: str = Field(
        "realtyforyou", validation_alias=AliasChoices("GATEWAY_JWT_AUDIENCE", "JWT_AUDIENCE")
    )

    max_directive_cost: int | None = None
    """The largest `@cost`/`@listSize` estimate executed; unset: no limit (costs still
    measured when the supergraph uses the directives)."""

    scope_claim: str = "scope"
    """The token claim holding the caller's scopes (space separated, or a list)."""
    policy_hook: str = ""
    """`module:function` deciding `@policy` policies: (claims, policies) -> those granted."""
    override_labels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Progressive `@override` labels switched on for every request, comma separated
    (`percent(N)` labels are drawn per request and need no setting)."""

    max_body_bytes: int = 1_048_576
    max_document_bytes: int = 32_768
    max_depth: int = 12
    max_aliases: int = 30
    max_root_fields: int = 20
    max_in_flight: int = 1024
    """Requests in flight past which the next ones are shed at once (503 UNAVAILABLE); 0: none."""
    max_fields: int = 2_000
    """Fields an operation may select once its fragments are expanded."""
    max_cost: int = 100_000
    """Estimated values in a result: each `first`/`last` multiplies what is below it."""
    list_size: int = 100
    """Page size assumed for a `first`/`last` given by a variable (the largest page served)."""

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Allowed browser origins, comma separated (`*` allows any origin, without credentials)."""

    apq_enabled: bool = True
    apq_cache_size: int = 10_000
    apq_ttl_seconds: int = 86_400

    rate_limit_per_second: float = 50.0
    """Sustained requests per second per client; 0 turns rate limiting off."""
    rate_limit_burst: int = 100
    redis_url: str | None = Field(
        None, validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL")
    )
    redis_prefix: str = "gateway:"

    coalesce: bool = True
    """Identical queries in flight for the same caller and headers share one execution."""

    response_cache: bool = True
    """Cache public answers in process (only while the invalidating events are heard)."""
    response_cache_size: int = 10_000
    response_cache_ttl_seconds: float = 300.0
    """A backstop: answers are dropped by events long before, unless nothing changes."""
    entity_cache: bool = True
    """Cache public entities' answers across requests (`caching/entities.py`), under the
    same events and time to live as the response cache."""
    entity_cache_size: int = 50_000
    cache_public_fields: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_PUBLIC_FIELDS)
    )
    """`Type.field` or `Type.*` coordinates whose values are the same for every caller."""
    cache_invalidations: str = DEFAULT_INVALIDATIONS
    """`subject=Type,…`: each event drops the cached answers holding its `subject_id`."""
    cdn_max_age: int = 10
    """`Cache-Control: public, max-age` of a public GET answer; 0 sends `no-store` always."""

    ws_share_subscriptions: bool = True
    """Identical subscriptions (same caller and headers) share one upstream stream."""
    ws_subscriber_queue: int = 256
    """Events a shared subscription's subscriber may fall behind before it is dropped."""

    workers: int | None = None
    """Worker processes sharing the port; unset: one per available core in production, else 1."""

    keep_alive_seconds: int = 130
    """Idle kept-alive client connections stay open this long: longer than the load balancer's
    idle timeout (the ALB's is 120 s), so it never sends a request on a closing connection."""

    gc_young_threshold: int = 200_000
    """Container allocations between two young collections of the cyclic collector (Python's
    default is 700; see `servicekit.collector`); 0 keeps Python's defaults."""

    loop: str = "auto"
    """uvicorn's event loop: auto (uvloop when installed), asyncio or uvloop."""

    ws_init_timeout: float = 10.0
    ws_max_operations: int = 100
    ws_max_subscriptions_per_user: int = 50
    """Live subscriptions one user (or one anonymous address) may hold across connections."""
    ws_reverify_seconds: float = 30.0
    """How often a socket's token is verified again (a revoked session loses its sockets)."""
    """Operations (subscriptions) one WebSocket connection may run at once."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-For is trusted for the client address (uvicorn's setting)."""

    @field_validator("cors_origins", "cache_public_fields", "override_labels", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def worker_count(self) -> int:
        if self.workers is not None:
            return max(1, self.workers)
        return available_cores() if self.production else 1

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def serve_graphiql(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.production
