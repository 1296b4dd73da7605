"""What a listing search asks for: filters, the sort, a circle on the map.

Pure values (validated on construction, BAD_USER_INPUT naming the filter field); the SQL
that answers them is in `queries.py`.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from enum import StrEnum

from servicekit.vocabulary import BadUserInput

from listings.domain import GeoPoint, ListingStatus, PropertyType

MAX_RADIUS_KM = 500.0
MAX_TEXT = 200

# Attribute of `ListingQuery` -> its name in the search filter input.
_MINIMA = {
    "min_price": "minPrice",
    "max_price": "maxPrice",
    "min_bedrooms": "minBedrooms",
    "min_sqft": "minSqft",
}


class ListingSort(StrEnum):
    RELEVANCE = "RELEVANCE"
    NEWEST = "NEWEST"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"


@dataclass(frozen=True, slots=True)
class Near:
    point: GeoPoint
    radius_km: float

    @classmethod
    def of(cls, lat: float, lng: float, radius_km: float) -> Near:
        if not (math.isfinite(radius_km) and 0 < radius_km <= MAX_RADIUS_KM):
            raise BadUserInput(
                f"radiusKm must be greater than 0 and at most {MAX_RADIUS_KM:g}",
                field="near.radiusKm",
            )
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise BadUserInput("latitude must be between -90 and 90", field="near.lat")
        if not (math.isfinite(lng) and -180.0 <= lng <= 180.0):
            raise BadUserInput("longitude must be between -180 and 180", field="near.lng")
        return cls(GeoPoint(lat, lng), radius_km)


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """What a caller searches for; empty fields do not filter."""

    text: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    property_types: tuple[PropertyType, ...] = ()
    min_price: int | None = None
    max_price: int | None = None
    min_bedrooms: int | None = None
    min_bathrooms: float | None = None
    min_sqft: int | None = None
    near: Near | None = None
    statuses: tuple[ListingStatus, ...] = (ListingStatus.ACTIVE,)
    realtor_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.text is not None:
            cleaned = self.text.strip()
            if len(cleaned) > MAX_TEXT:
                raise BadUserInput(f"text is longer than {MAX_TEXT} characters", field="text")
            object.__setattr__(self, "text", cleaned or None)
        for name, label in _MINIMA.items():
            value = getattr(self, name)
            if value is not None and value < 0:
                raise BadUserInput(f"{label} must not be negative", field=label)
        if self.min_bathrooms is not None and not (
            math.isfinite(self.min_bathrooms) and self.min_bathrooms >= 0
        ):
            raise BadUserInput("minBathrooms must not be negative", field="minBathrooms")
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise BadUserInput("minPrice is greater than maxPrice", field="minPrice")
        if not self.statuses:
            raise BadUserInput("statuses must not be empty", field="statuses")


def effective_sort(query: ListingQuery, sort: ListingSort) -> ListingSort:
    """RELEVANCE needs words to rank by; without text it means NEWEST."""
    return ListingSort.NEWEST if sort is ListingSort.RELEVANCE and not query.text else sort
