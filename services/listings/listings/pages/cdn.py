"""Purging the CDN's copy of a page when its listing changes (off unless a CloudFront
distribution is configured).

The purger follows listings' own changes (`listings.listing.updated`, `.status_changed`,
`.deleted`; never the page views): `updated` carries the slug;
for `status_changed` the slug is read back (the row still exists). A deleted listing's row
is gone, and CloudFront wildcards only end a path, so a delete invalidates `/homes/*`:
deletes are rare (a listing normally leaves the market by being withdrawn, which names
its page). The event id is the invalidation's `CallerReference`, so a redelivered event
asks CloudFront for the same invalidation again instead of a second one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Protocol

from realty.listings.v1 import listings_pb2
from servicekit.bus import Event, Subscription
from servicekit.db import UnitOfWork

from listings.events import SUBJECT_DELETED, SUBJECT_STATUS_CHANGED, SUBJECT_UPDATED
from listings.queries import ListingQueries

log = logging.getLogger(__name__)

EVERY_PAGE = "/homes/*"


class Invalidator(Protocol):
    async def invalidate(self, paths: list[str], reference: str) -> None: ...


class CloudFrontInvalidator:
    """`CreateInvalidation` on one distribution, boto3 in a worker thread."""

    def __init__(self, client: Any, distribution_id: str) -> None:
        self.client = client  # a boto3 "cloudfront" client
        self.distribution_id = distribution_id

    @classmethod
    def create(
        cls, distribution_id: str, *, region: str, endpoint_url: str | None = None
    ) -> CloudFrontInvalidator:
        import boto3

        client = boto3.client("cloudfront", region_name=region, endpoint_url=endpoint_url)
        return cls(client, distribution_id)

    async def invalidate(self, paths: list[str], reference: str) -> None:
        batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference}
        await asyncio.to_thread(
            self.client.create_invalidation,
            DistributionId=self.distribution_id,
            InvalidationBatch=batch,
        )


class CdnPurger:
    """Turns each change of a public listing into an invalidation of its page's path."""

    def __init__(self, queries: ListingQueries, invalidator: Invalidator) -> None:
        self.queries = queries
        self.invalidator = invalidator

    async def paths_for(self, event: Event) -> list[str]:
        if event.subject == SUBJECT_UPDATED:
            return [f"/homes/{event.unpack(listings_pb2.ListingUpdated).listing.slug}"]
        if event.subject == SUBJECT_STATUS_CHANGED:
            changed = event.unpack(listings_pb2.ListingStatusChanged)
            found = await self.queries.by_ids([uuid.UUID(changed.listing_id)])
            return [f"/homes/{listing.slug}" for listing in found.values()] or [EVERY_PAGE]
        if event.subject == SUBJECT_DELETED:
            return [EVERY_PAGE]
        return []  # a new listing has no cached page yet

    async def on_listing_event(self, event: Event, uow: UnitOfWork) -> None:
        paths = await self.paths_for(event)
        if paths:
            await self.invalidator.invalidate(paths, reference=str(event.id))
            log.info("CDN invalidation of %s for %s", paths, event.subject)

    def subscriptions(self) -> list[Subscription]:
        """The three changes of a page (not `created`: no page is cached yet; not `viewed`)."""
        return [
            Subscription(
                subject, self.on_listing_event, durable=f"pages-cdn-{subject.rsplit('.', 1)[1]}"
            )
            for subject in (SUBJECT_UPDATED, SUBJECT_STATUS_CHANGED, SUBJECT_DELETED)
        ]
