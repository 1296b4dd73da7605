"""Composition root: builds the listings process from settings (nothing happens at import)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from realty.listings.v1 import listings_pb2_grpc
from servicekit.graphql import SubgraphApp
from servicekit.infrastructure import Infrastructure
from servicekit.migrations import migrations_dir
from servicekit.runtime import Runtime, run

from listings.consumers import subscriptions
from listings.graphql import build_schema
from listings.rpc import ACCESS, ListingsServicer
from listings.service import ListingService, PhotoPolicy
from listings.settings import Settings
from listings.sitemap import sitemap_route
from listings.storage import PhotoStorage

log = logging.getLogger(__name__)

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


def build_service(
    settings: Settings, infra: Infrastructure, storage: PhotoStorage
) -> ListingService:
    return ListingService(
        infra.db,
        storage,
        public_url=settings.public_url,
        photo_policy=PhotoPolicy(
            max_bytes=settings.max_photo_bytes,
            max_photos=settings.max_photos_per_listing,
            upload_expires_seconds=settings.upload_expires_seconds,
        ),
    )


UPLOAD_PURGE_INTERVAL_SECONDS = 3600.0


def upload_purger(service: ListingService) -> Callable[[], Coroutine[Any, Any, None]]:
    """A worker that, every hour, forgets photo uploads nobody confirmed."""

    async def purge_forever() -> None:
        while True:
            purged = await service.purge_abandoned_uploads()
            if purged:
                log.info("purged %d abandoned photo uploads", purged)
            await asyncio.sleep(UPLOAD_PURGE_INTERVAL_SECONDS)

    return purge_forever


async def build(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings()
    infra = await Infrastructure.open(settings, MIGRATIONS_DIR)
    storage = build_storage(settings)
    await storage.ensure_ready()
    service = build_service(settings, infra, storage)
    servicer = ListingsServicer(service)
    return infra.runtime(
        graphql=SubgraphApp(build_schema(), verifier=infra.verifier, services=service),
        grpc_registrations=[
            lambda server: listings_pb2_grpc.add_ListingsServicer_to_server(servicer, server)
        ],
        grpc_service_names=["realty.listings.v1.Listings"],
        grpc_access=[ACCESS],
        subscriptions=subscriptions(service),
        routes=[sitemap_route(service)],
        workers=[upload_purger(service)],
    )


def main() -> None:
    run(build)
