"""Listings test fixtures: a migrated database per test, the moto S3/KMS server, and the
service as `app.assemble` wires it (its HTTP app is the one `app.runtime` serves)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from listings.app import MIGRATIONS_DIR, Parts, assemble, runtime
from listings.domain import Address, GeoPoint, ListingDetails, Money, PropertyType
from listings.events import outgoing
from listings.queries import ListingQueries
from listings.service import ListingService
from listings.settings import Settings
from listings.storage import PhotoStorage
from servicekit.auth import Role
from servicekit.bus import Bus
from servicekit.db import Database
from servicekit.infrastructure import Infrastructure
from servicekit.mail import build_mailer
from servicekit.testing import DatabaseFactory, TokenIssuer
from servicekit.testing.clock import ManualClock

PUBLIC_URL = "https://www.realty.test"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def storage(aws_endpoint: str) -> PhotoStorage:
    photos = PhotoStorage(
        bucket=f"photos-{uuid.uuid4().hex[:8]}",
        kms_key_alias="alias/listings-test",
        region="us-east-1",
        endpoint_url=aws_endpoint,
    )
    await photos.ensure_ready()
    return photos


@pytest_asyncio.fixture(loop_scope="session")
async def db(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    url = await database_factory.create(MIGRATIONS_DIR)
    database = Database(url, source="listings", events=outgoing)
    try:
        yield database
    finally:
        await database.dispose()
        await database_factory.drop(url)


class TestClock(ManualClock):
    """The service's clock in tests: each reading is 1 ms after the previous one (so the
    order of creation is the order of calls), and `advance` jumps ahead."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start, tick=timedelta(milliseconds=1))


@pytest.fixture
def clock() -> TestClock:
    return TestClock(datetime(2026, 5, 1, 9, 0, tzinfo=UTC))


@pytest_asyncio.fixture(loop_scope="session")
async def parts(
    db: Database,
    storage: PhotoStorage,
    aws_endpoint: str,
    nats_url: str,
    token_issuer: TokenIssuer,
    clock: TestClock,
) -> AsyncIterator[Parts]:
    """Everything `app.assemble` wires, on this test's database and the session's bucket."""
    settings = Settings(
        database_url=db.url,
        public_url=PUBLIC_URL,
        photos_bucket=storage.bucket,
        kms_key_alias=storage.kms_key_alias,
        s3_endpoint_url=aws_endpoint,
    )
    infra = Infrastructure(
        settings=settings,
        db=db,
        bus=Bus(nats_url, name="listings-test"),  # never connected here
        verifier=token_issuer.verifier(),
        mailer=build_mailer(settings.infra),
    )
    built = assemble(settings, infra, clock=clock)
    await built.storage.ensure_ready()
    try:
        yield built
    finally:
        await infra.verifier.aclose()


@pytest.fixture
def service(parts: Parts) -> ListingService:
    return parts.listings


@pytest.fixture
def queries(parts: Parts) -> ListingQueries:
    return parts.queries


LISTING_FIELDS = """
  id slug title description status propertyType bedrooms bathrooms livingAreaSqft timeZone
  price { amount currency }
  address { street unit city state postalCode country }
  location { lat lng }
  realtor { id }
  createdAt updatedAt
"""


def listing_input(**overrides: Any) -> dict[str, Any]:
    """A valid CreateListingInput; keyword arguments replace fields."""
    base: dict[str, Any] = {
        "title": "Sunny craftsman bungalow with garden",
        "description": "Three bedrooms, renovated kitchen, hardwood floors and a large backyard.",
        "price": {"amount": 45_000_000, "currency": "USD"},
        "propertyType": "RESIDENTIAL",
        "bedrooms": 3,
        "bathrooms": 2.5,
        "livingAreaSqft": 1850,
        "address": {
            "street": "1421 Maple Avenue",
            "city": "Portland",
            "state": "OR",
            "postalCode": "97214",
            "country": "US",
        },
        "location": {"lat": 45.5152, "lng": -122.6431},
        "status": "ACTIVE",
    }
    base.update(overrides)
    return base


class Api:
    """The subgraph over HTTP (ASGI), with helpers to call it as someone."""

    FIELDS = LISTING_FIELDS
    listing_input = staticmethod(listing_input)

    def __init__(self, client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
        self.client = client
        self.issuer = issuer

    def headers(self, who: tuple[uuid.UUID, Role] | None) -> dict[str, str]:
        return self.issuer.headers(*who) if who else {}

    async def call(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        who: tuple[uuid.UUID, Role] | None = None,
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.headers(who),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        who: tuple[uuid.UUID, Role] | None = None,
    ) -> dict[str, Any]:
        body = await self.call(query, variables, who=who)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error_code(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        who: tuple[uuid.UUID, Role] | None = None,
    ) -> str:
        body = await self.call(query, variables, who=who)
        assert body.get("errors"), body
        code: str = body["errors"][0]["extensions"]["code"]
        return code

    async def create_listing(self, who: tuple[uuid.UUID, Role], **overrides: Any) -> dict[str, Any]:
        mutation = (
            "mutation($input: CreateListingInput!) { createListing(input: $input) { "
            + LISTING_FIELDS
            + " } }"
        )
        data = await self.data(mutation, {"input": listing_input(**overrides)}, who=who)
        listing: dict[str, Any] = data["createListing"]
        return listing


@pytest_asyncio.fixture(loop_scope="session")
async def api(parts: Parts, token_issuer: TokenIssuer) -> AsyncIterator[Api]:
    """The HTTP app `app.runtime` serves (subgraph, `/sitemap.xml`), over ASGI."""
    transport = httpx.ASGITransport(app=runtime(parts).http_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, token_issuer)


@pytest.fixture
def realtor() -> tuple[uuid.UUID, Role]:
    return uuid.uuid4(), Role.REALTOR


@pytest.fixture
def other_realtor() -> tuple[uuid.UUID, Role]:
    return uuid.uuid4(), Role.REALTOR


@pytest.fixture
def buyer() -> tuple[uuid.UUID, Role]:
    return uuid.uuid4(), Role.BUYER


@pytest.fixture
def admin() -> tuple[uuid.UUID, Role]:
    return uuid.uuid4(), Role.ADMIN


def build_details(
    title: str,
    *,
    description: str = "A home.",
    city: str = "Portland",
    state: str = "OR",
    postal: str = "97209",
    kind: PropertyType = PropertyType.RESIDENTIAL,
    price: int = 50_000_000,
    beds: int = 3,
    baths: float = 2.0,
    sqft: int | None = 1500,
    at: tuple[float, float] | None = (45.52, -122.67),
) -> ListingDetails:
    return ListingDetails(
        title=title,
        description=description,
        price=Money.of(price, "USD"),
        property_type=kind,
        bedrooms=beds,
        bathrooms=baths,
        living_area_sqft=sqft,
        address=Address.of(
            street="100 Main Street",
            unit=None,
            city=city,
            state=state,
            postal_code=postal,
            country="US",
        ),
        location=GeoPoint.of(*at) if at else None,
    )


@pytest.fixture
def details() -> Any:
    """`details(title, **attributes)` builds valid `ListingDetails` for use-case tests."""
    return build_details
