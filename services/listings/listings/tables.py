"""The listings database: listings, their photos and pending photo uploads.

`search` is a generated, weighted tsvector (title A, description B, address C) so
full-text ranking needs no trigger; radius search uses earthdistance's `ll_to_earth` with a
GiST index on it. Both are created by the migration; here they are declared so queries
can name them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID

metadata = MetaData()

SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, description), 'B') || "
    "setweight(to_tsvector('english'::regconfig, street || ' ' || coalesce(unit, '') || ' ' "
    "|| city || ' ' || state || ' ' || postal_code), 'C')"
)

listings = Table(
    "listings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("slug", Text, nullable=False, unique=True),
    Column("realtor_id", UUID(as_uuid=True), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("price_amount", BigInteger, nullable=False),
    Column("price_currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("property_type", Text, nullable=False),
    Column("bedrooms", Integer, nullable=False),
    Column("bathrooms", Float, nullable=False),
    Column("living_area_sqft", Integer),
    Column("street", Text, nullable=False),
    Column("unit", Text),
    Column("city", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("postal_code", Text, nullable=False),
    Column("country", Text, nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("time_zone", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("search", TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True)),
)

photos = Table(
    "listing_photos",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "listing_id",
        UUID(as_uuid=True),
        ForeignKey("listings.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("key", Text, nullable=False, unique=True),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    Column("is_cover", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

photo_uploads = Table(
    "photo_uploads",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "listing_id",
        UUID(as_uuid=True),
        ForeignKey("listings.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("key", Text, nullable=False, unique=True),
    Column("content_type", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
