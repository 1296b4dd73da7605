"""`User.listings` for many realtors in one statement: a LATERAL join over the requests.

Each request (realtor, `status`, whether the caller sees that realtor's private listings,
cursor position, page size) is a row of an `unnest`; each row's page is read newest first
from `listings_realtor`, and the counts, when wanted, by one more statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    Text,
    column,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.selectable import TableValuedAlias

from listings.queries.search import PUBLIC_VALUES
from listings.store import LISTING_COLUMNS
from listings.tables import listings

if TYPE_CHECKING:
    from listings.queries import RealtorListings

# The position just before anyone's newest listing: a first page continues from there, so
# every page is the same keyset condition, an index condition on `listings_realtor`.
BEFORE_NEWEST = (datetime.max.replace(tzinfo=UTC), uuid.UUID(int=(1 << 128) - 1))


def _realtors(wanted: Sequence[RealtorListings], private: Sequence[bool]) -> TableValuedAlias:
    """The requests as rows, numbered from 1 (`unnest` of one array per column)."""
    return (
        func.unnest(
            literal([w.realtor_id for w in wanted], ARRAY(UUID(as_uuid=True))),
            literal([w.status.value if w.status else None for w in wanted], ARRAY(Text)),
            literal(list(private), ARRAY(Boolean)),
            literal([w.before[0] for w in wanted], ARRAY(DateTime(timezone=True))),
            literal([w.before[1] for w in wanted], ARRAY(UUID(as_uuid=True))),
            literal([w.limit + 1 for w in wanted], ARRAY(Integer)),
        )
        .table_valued(
            column("realtor_id", UUID(as_uuid=True)),
            column("status", Text),
            column("private", Boolean),
            column("before_at", DateTime(timezone=True)),
            column("before_id", UUID(as_uuid=True)),
            column("fetch", Integer),
            with_ordinality="ordinal",
        )
        .render_derived(name="wanted")
    )


def _shown(wanted: TableValuedAlias) -> list[ColumnElement[bool]]:
    """A requested realtor's listings of the requested status, private ones only where the
    caller sees that realtor's (the `private` column: `sees_private_listings_of`)."""
    c = listings.c
    return [
        c.realtor_id == wanted.c.realtor_id,
        or_(wanted.c.status.is_(None), c.status == wanted.c.status),
        or_(wanted.c.private, c.status.in_(PUBLIC_VALUES)),
    ]


def realtor_pages_statement(
    wanted: Sequence[RealtorListings], private: Sequence[bool]
) -> Select[Any]:
    """Each request's page (`limit + 1` rows, newest first) with its `ordinal`."""
    parents = _realtors(wanted, private)
    c = listings.c
    page = (
        select(*LISTING_COLUMNS, c.created_at.label("sort_value"))
        .where(
            *_shown(parents),
            tuple_(c.created_at, c.id) < tuple_(parents.c.before_at, parents.c.before_id),
        )
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(parents.c.fetch)
        .lateral("page")
    )
    return (
        select(parents.c.ordinal, page)
        .select_from(parents.join(page, true()))
        .order_by(parents.c.ordinal, page.c.sort_value.desc(), page.c.id.desc())
    )


def realtor_counts_statement(
    wanted: Sequence[RealtorListings], private: Sequence[bool]
) -> Select[Any]:
    """How many listings each request's list holds in all (`ordinal`, `total`)."""
    parents = _realtors(wanted, private)
    total = select(func.count()).select_from(listings).where(*_shown(parents)).scalar_subquery()
    return select(parents.c.ordinal, total.label("total")).select_from(parents)
