"""Listings, photos, pending uploads; full-text and geo indexes; outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID

from servicekit.tables import create_bus_tables, drop_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, description), 'B') || "
    "setweight(to_tsvector('english'::regconfig, street || ' ' || coalesce(unit, '') || ' ' "
    "|| city || ' ' || state || ' ' || postal_code), 'C')"
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS cube")
    op.execute("CREATE EXTENSION IF NOT EXISTS earthdistance")
    op.create_table(
        "listings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("slug", sa.Text, nullable=False),
        sa.Column("realtor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("price_amount", sa.BigInteger, nullable=False),
        sa.Column("price_currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("property_type", sa.Text, nullable=False),
        sa.Column("bedrooms", sa.Integer, nullable=False),
        sa.Column("bathrooms", sa.Float, nullable=False),
        sa.Column("living_area_sqft", sa.Integer),
        sa.Column("street", sa.Text, nullable=False),
        sa.Column("unit", sa.Text),
        sa.Column("city", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("postal_code", sa.Text, nullable=False),
        sa.Column("country", sa.Text, nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search", TSVECTOR, sa.Computed(SEARCH_DOCUMENT, persisted=True)),
        sa.UniqueConstraint("slug", name="listings_slug_key"),
        sa.CheckConstraint("price_amount > 0", name="listings_price_positive"),
        sa.CheckConstraint(
            "latitude IS NULL OR latitude BETWEEN -90 AND 90", name="listings_latitude_range"
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180", name="listings_longitude_range"
        ),
    )
    # No pending list: searches stay fast right after bulk loads (listings change rarely).
    op.execute("CREATE INDEX listings_search ON listings USING gin (search) WITH (fastupdate = off)")
    op.execute(
        "CREATE INDEX listings_geo ON listings USING gist (ll_to_earth(latitude, longitude))"
    )
    op.execute("CREATE INDEX listings_newest ON listings (status, created_at DESC, id DESC)")
    op.execute("CREATE INDEX listings_price ON listings (status, price_amount, id)")
    op.execute("CREATE INDEX listings_realtor ON listings (realtor_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX listings_city ON listings (lower(city))")
    op.execute("CREATE INDEX listings_state ON listings (state)")
    op.execute("CREATE INDEX listings_postal_code ON listings (postal_code)")
    op.execute("CREATE INDEX listings_updated ON listings (updated_at DESC)")

    op.create_table(
        "listing_photos",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "listing_id",
            UUID(as_uuid=True),
            sa.ForeignKey("listings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("is_cover", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_listing_photos_listing_id", "listing_photos", ["listing_id"])

    op.create_table(
        "photo_uploads",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "listing_id",
            UUID(as_uuid=True),
            sa.ForeignKey("listings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_photo_uploads_listing_id", "photo_uploads", ["listing_id"])

    create_bus_tables(op.get_bind())


def downgrade() -> None:
    drop_bus_tables(op.get_bind())
    op.drop_table("photo_uploads")
    op.drop_table("listing_photos")
    op.drop_table("listings")

