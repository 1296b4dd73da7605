"""Composition root: builds the listings process from settings (nothing happens at import).

`assemble` wires every part from settings and the opened infrastructure (tests pass other
settings, other infrastructure or a fake clock), `runtime` turns the parts into the
process (subgraph, `/sitemap.xml`, the public pages, gRPC, consumers, workers), `build` does both after
opening the infrastructure, `main` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from realty.listings.v1 import listings_pb2_grpc
from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.runtime import Runtime, run

from listings.consumers import Consumers
from listings.events import outgoing
from listings.graphql import Services, build_schema
from listings.pages import (
    CdnPurger,
    CloudFrontInvalidator,
    PageCache,
    PageCacheFeed,
    PagesConfig,
    PageSource,
    page_routes,
)
from listings.pages.fast import CachedPagesFirst
from listings.pages.realtors import PROFILE_SUBJECTS, RealtorProfiles
from listings.pages.render import Renderer
from listings.pages.views import PropertyViews, ViewRecorder
from listings.queries import ListingQueries
from listings.rpc import ACCESS, ListingsServicer
from listings.service import ListingService, PhotoPolicy, utcnow
from listings.settings import Settings
from listings.sitemap import sitemap_route
from listings.storage import PhotoStorage
from listings.workers import UploadPurger

MIGRATIONS_DIR = migrations_dir("listings")


def build_storage(settings: Settings) -> PhotoStorage:
    return PhotoStorage(
        bucket=settings.photos_bucket,
        kms_key_alias=settings.kms_key_alias,
        region=settings.infra.aws_region,
        endpoint_url=settings.resolved_s3_endpoint(),
        cdn_base_url=settings.cdn_base_url,
        download_expires=settings.download_expires_seconds,
        cors_origins=settings.cors_origins,
    )


@dataclass
class Parts:
    """Everything listings is made of, wired; tests build the same with other settings."""

    settings: Settings
    infra: Infrastructure
    storage: PhotoStorage
    listings: ListingService
    queries: ListingQueries
    consumers: Consumers
    purger: UploadPurger
    services: Services
    pages: PagesConfig
    page_source: PageSource
    page_feed: PageCacheFeed
    views: PropertyViews
    cdn_purger: CdnPurger | None = None


def assemble(
    settings: Settings, infra: Infrastructure, *, clock: Callable[[], datetime] = utcnow
) -> Parts:
    storage = build_storage(settings)
    listings = ListingService(
        infra.db,
        storage,
        photo_policy=PhotoPolicy(
            max_bytes=settings.max_photo_bytes,
            max_photos=settings.max_photos_per_listing,
            upload_expires_seconds=settings.upload_expires_seconds,
        ),
        clock=clock,
    )
    queries = ListingQueries(infra.db)
    cdn_purger = None
    if settings.cdn_distribution_id:
        invalidator = CloudFrontInvalidator.create(
            settings.cdn_distribution_id, region=settings.infra.aws_region
        )
        cdn_purger = CdnPurger(queries, invalidator)
    pages = PagesConfig(
        public_url=settings.public_url,
        app_url=settings.app_url or settings.public_url,
        photo_url_lifetime=None if settings.cdn_base_url else settings.download_expires_seconds,
    )
    page_cache = PageCache(capacity=settings.page_cache_size, seconds=settings.page_cache_seconds)
    realtors = RealtorProfiles(settings.identity_grpc, lambda: infra.grpc_tls)
    page_feed = PageCacheFeed(
        infra.bus, page_cache, realtor_subjects=PROFILE_SUBJECTS, realtor_of=realtors.changed
    )
    page_cache.usable = page_feed.usable
    page_source = PageSource(
        queries,
        storage,
        pages,
        cache=page_cache,
        renderer=Renderer(),
        clock=clock,
        concurrent_reads=settings.db_pool_size,
        realtors=realtors,
    )
    return Parts(
        settings=settings,
        infra=infra,
        storage=storage,
        listings=listings,
        queries=queries,
        consumers=Consumers(listings),
        purger=UploadPurger(listings),
        services=Services(
            listings=listings, queries=queries, storage=storage, public_url=settings.public_url
        ),
        pages=pages,
        page_source=page_source,
        page_feed=page_feed,
        views=PropertyViews(ViewRecorder(infra.db), clock=clock),
        cdn_purger=cdn_purger,
    )


def runtime(parts: Parts) -> Runtime:
    servicer = ListingsServicer(parts.queries)
    app = SubgraphApp(build_schema(), verifier=parts.infra.verifier, services=parts.services)
    process = parts.infra.runtime(
        graphql=app,
        grpc_registrations=[
            lambda server: listings_pb2_grpc.add_ListingsServicer_to_server(servicer, server)
        ],
        grpc_service_names=["realty.listings.v1.Listings"],
        grpc_access=[ACCESS],
        subscriptions=[
            *parts.consumers.subscriptions(),
            *(parts.cdn_purger.subscriptions() if parts.cdn_purger else []),
        ],
        routes=[
            sitemap_route(parts.queries, public_url=parts.settings.public_url),
            *page_routes(parts.page_source, parts.views),
        ],
        workers=[parts.purger.run],
        # each process keeps its own rendered pages and buffers its own counted views
        process_workers=[
            parts.views.recorder.run,
            *([parts.page_feed.run] if parts.page_feed.cache.enabled else []),
        ],
    )
    # a page already rendered is answered before the middleware stack (pages.fast)
    process.http_app = CachedPagesFirst(
        process.http_app, parts.page_source, service=parts.settings.service_name
    )
    # views still buffered are written to the outbox before the database closes
    process.on_shutdown.insert(0, parts.views.recorder.close)
    return process


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR, events=outgoing)
    parts = assemble(settings, infra)
    await parts.storage.ensure_ready()  # the bucket and its KMS key exist before requests
    return runtime(parts)


def main() -> None:
    run(build)
