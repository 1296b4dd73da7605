"""Realistic demo listings: addresses, sizes and prices that agree with each other.

Deterministic for a given seed. Each home starts from a real metro (its coordinates, ZIP
prefix and typical price per square foot), gets a size from its bedroom count, bathrooms
from its bedrooms, a price from its size and market, and a title and description that
mention what it actually has. Used by `python -m listings.seed` and by the benchmarks.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from servicekit.vocabulary import Principal, Role

from listings.domain import (
    Address,
    GeoPoint,
    Listing,
    ListingDetails,
    ListingStatus,
    Money,
    PropertyType,
)


@dataclass(frozen=True, slots=True)
class Market:
    city: str
    state: str
    lat: float
    lng: float
    zip_prefix: str
    price_per_sqft: int  # USD, median for the metro
    neighbourhoods: tuple[str, ...]


MARKETS: tuple[Market, ...] = (
    Market("Portland", "OR", 45.5152, -122.6784, "972", 330, ("Alberta Arts", "Sellwood", "Laurelhurst", "Pearl District")),
    Market("Seattle", "WA", 47.6062, -122.3321, "981", 560, ("Ballard", "Capitol Hill", "Fremont", "Queen Anne")),
    Market("San Francisco", "CA", 37.7749, -122.4194, "941", 1010, ("Noe Valley", "Mission", "Sunset", "Pacific Heights")),
    Market("Los Angeles", "CA", 34.0522, -118.2437, "900", 690, ("Silver Lake", "Los Feliz", "Venice", "Echo Park")),
    Market("San Diego", "CA", 32.7157, -117.1611, "921", 640, ("North Park", "La Jolla", "Point Loma", "Hillcrest")),
    Market("Phoenix", "AZ", 33.4484, -112.074, "850", 280, ("Arcadia", "Encanto", "Ahwatukee", "Roosevelt Row")),
    Market("Denver", "CO", 39.7392, -104.9903, "802", 390, ("Highlands", "Wash Park", "Cherry Creek", "RiNo")),
    Market("Austin", "TX", 30.2672, -97.7431, "787", 350, ("Travis Heights", "Mueller", "Zilker", "Hyde Park")),
    Market("Dallas", "TX", 32.7767, -96.797, "752", 240, ("Lakewood", "Bishop Arts", "Uptown", "M Streets")),
    Market("Chicago", "IL", 41.8781, -87.6298, "606", 270, ("Lincoln Park", "Logan Square", "Wicker Park", "Hyde Park")),
    Market("Minneapolis", "MN", 44.9778, -93.265, "554", 230, ("Linden Hills", "Northeast", "Uptown", "Longfellow")),
    Market("Nashville", "TN", 36.1627, -86.7816, "372", 310, ("East Nashville", "12 South", "Germantown", "Sylvan Park")),
    Market("Atlanta", "GA", 33.749, -84.388, "303", 250, ("Inman Park", "Virginia-Highland", "Grant Park", "Kirkwood")),
    Market("Miami", "FL", 25.7617, -80.1918, "331", 520, ("Coconut Grove", "Little Havana", "Brickell", "Coral Way")),
    Market("Boston", "MA", 42.3601, -71.0589, "021", 720, ("Jamaica Plain", "South End", "Charlestown", "Dorchester")),
    Market("New York", "NY", 40.7128, -74.006, "100", 1150, ("Upper West Side", "Harlem", "Chelsea", "East Village")),
    Market("Brooklyn", "NY", 40.6782, -73.9442, "112", 880, ("Park Slope", "Williamsburg", "Bed-Stuy", "Greenpoint")),
    Market("Philadelphia", "PA", 39.9526, -75.1652, "191", 230, ("Fishtown", "Rittenhouse", "Queen Village", "Manayunk")),
    Market("Washington", "DC", 38.9072, -77.0369, "200", 560, ("Capitol Hill", "Logan Circle", "Petworth", "Georgetown")),
    Market("Raleigh", "NC", 35.7796, -78.6382, "276", 240, ("Oakwood", "Five Points", "Cameron Village", "Boylan Heights")),
)  # fmt: skip

STREETS = (
    "Maple", "Oak", "Cedar", "Pine", "Elm", "Willow", "Birch", "Walnut", "Chestnut", "Spruce",
    "Lake", "Hill", "Park", "Sunset", "Highland", "Ridge", "Meadow", "River", "Spring", "Forest",
    "Lincoln", "Jefferson", "Madison", "Washington", "Franklin", "Adams", "Jackson", "Grant",
)  # fmt: skip
SUFFIXES = ("Street", "Avenue", "Drive", "Lane", "Court", "Place", "Road", "Terrace", "Way")

STYLES: dict[PropertyType, tuple[str, ...]] = {
    PropertyType.RESIDENTIAL: ("craftsman bungalow", "mid-century ranch", "colonial", "Victorian", "modern farmhouse", "Tudor", "split-level home"),
    PropertyType.CONDO: ("loft", "condo", "penthouse", "garden-level condo", "corner unit"),
    PropertyType.TOWNHOUSE: ("townhouse", "row house", "end-unit townhome"),
    PropertyType.MULTI_FAMILY: ("duplex", "triplex", "fourplex"),
    PropertyType.LAND: ("buildable lot", "wooded parcel", "view lot"),
    PropertyType.COMMERCIAL: ("storefront", "mixed-use building", "office building"),
    PropertyType.RENTAL: ("apartment", "furnished flat", "garden apartment"),
}  # fmt: skip
ADJECTIVES = (
    "Sunny",
    "Charming",
    "Spacious",
    "Renovated",
    "Light-filled",
    "Cozy",
    "Elegant",
    "Updated",
    "Classic",
    "Stylish",
)

# (phrase for a title, phrase for the description)
FEATURES = (
    ("pool", "a sparkling swimming pool"),
    ("chef's kitchen", "a renovated kitchen with quartz counters"),
    ("hardwood floors", "original hardwood floors"),
    ("two-car garage", "an attached two-car garage"),
    ("city views", "sweeping city views"),
    ("fireplace", "a wood-burning fireplace"),
    ("garden", "a landscaped garden"),
    ("big deck", "a large deck for entertaining"),
    ("solar", "owned solar panels"),
    ("finished basement", "a finished basement"),
    ("home office", "a dedicated home office"),
    ("private patio", "a private patio"),
)  # fmt: skip

TYPE_WEIGHTS: tuple[tuple[PropertyType, int], ...] = (
    (PropertyType.RESIDENTIAL, 55), (PropertyType.CONDO, 20), (PropertyType.TOWNHOUSE, 12),
    (PropertyType.MULTI_FAMILY, 5), (PropertyType.LAND, 3), (PropertyType.COMMERCIAL, 2),
    (PropertyType.RENTAL, 3),
)  # fmt: skip
STATUS_WEIGHTS: tuple[tuple[ListingStatus, int], ...] = (
    (ListingStatus.ACTIVE, 70), (ListingStatus.COMING_SOON, 8), (ListingStatus.PENDING, 10),
    (ListingStatus.CLOSED, 7), (ListingStatus.DRAFT, 3), (ListingStatus.WITHDRAWN, 2),
)  # fmt: skip


def _pick(rng: random.Random, weighted: Sequence[tuple[object, int]]) -> object:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _bedrooms(rng: random.Random, kind: PropertyType) -> int:
    if kind is PropertyType.LAND or kind is PropertyType.COMMERCIAL:
        return 0
    if kind in (PropertyType.CONDO, PropertyType.RENTAL):
        return rng.choices([0, 1, 2, 3], weights=[8, 40, 40, 12])[0]
    if kind is PropertyType.MULTI_FAMILY:
        return rng.randint(4, 8)
    return rng.choices([2, 3, 4, 5, 6], weights=[12, 38, 32, 13, 5])[0]


def _bathrooms(rng: random.Random, beds: int, kind: PropertyType) -> float:
    if kind is PropertyType.LAND:
        return 0.0
    if kind is PropertyType.COMMERCIAL:
        return float(rng.randint(1, 4))
    base = max(1.0, beds * 0.6 + rng.choice([0.0, 0.5, 1.0]))
    return min(round(base * 2) / 2, 8.0)


def _living_area(rng: random.Random, beds: int, kind: PropertyType) -> int | None:
    if kind is PropertyType.LAND:
        return None
    if kind is PropertyType.COMMERCIAL:
        return rng.randrange(2_000, 12_000, 50)
    per_bed = 380 if kind in (PropertyType.CONDO, PropertyType.RENTAL) else 520
    area = 450 + per_bed * beds * rng.uniform(0.8, 1.3)
    return int(round(area / 10) * 10)


def _price_minor(rng: random.Random, market: Market, kind: PropertyType, sqft: int | None) -> int:
    if kind is PropertyType.LAND:
        dollars = market.price_per_sqft * rng.uniform(300, 900)
    else:
        factor = {PropertyType.CONDO: 0.95, PropertyType.COMMERCIAL: 0.7}.get(kind, 1.0)
        dollars = (sqft or 1000) * market.price_per_sqft * factor * rng.lognormvariate(0, 0.18)
    if kind is PropertyType.RENTAL:
        dollars = dollars * 0.0045  # monthly rent
        return int(round(dollars / 25) * 25 * 100)
    return int(min(round(dollars / 1000) * 1000, 21_000_000) * 100)


def _offset(rng: random.Random, lat: float, lng: float, km: float) -> GeoPoint:
    distance = km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance / 111.32 * math.cos(bearing)
    dlng = distance / (111.32 * math.cos(math.radians(lat))) * math.sin(bearing)
    return GeoPoint.of(round(lat + dlat, 6), round(lng + dlng, 6))


def generate_details(rng: random.Random, market: Market | None = None) -> ListingDetails:
    """One home's details, consistent with its market and kind."""
    market = market or rng.choice(MARKETS)
    kind = PropertyType(str(_pick(rng, TYPE_WEIGHTS)))
    beds = _bedrooms(rng, kind)
    baths = _bathrooms(rng, beds, kind)
    sqft = _living_area(rng, beds, kind)
    features = rng.sample(FEATURES, k=rng.randint(2, 4)) if kind is not PropertyType.LAND else []
    hood = rng.choice(market.neighbourhoods)
    style = rng.choice(STYLES[kind])
    headline = features[0][0] if features else "lot"
    title = f"{rng.choice(ADJECTIVES)} {style} in {hood}"
    if features and rng.random() < 0.5:
        title += f" with {headline}"
    sentences = [f"Welcome to this {style} in {market.city}'s {hood} neighborhood."]
    if kind is PropertyType.LAND:
        sentences.append("Utilities at the street and a survey on file; bring your plans.")
    else:
        area = f" across {sqft:,} square feet" if sqft else ""
        sentences.append(f"It offers {beds} bedrooms and {baths:g} bathrooms{area}.")
        sentences.append("Highlights include " + ", ".join(f[1] for f in features) + ".")
    sentences.append(rng.choice((
        "Close to parks, cafes and transit.",
        "Walk to schools, shops and the farmers market.",
        "Quiet street with easy access to downtown.",
        "Minutes from trails and the waterfront.",
    )))  # fmt: skip
    street = f"{rng.randint(10, 9899)} {rng.choice(STREETS)} {rng.choice(SUFFIXES)}"
    unit = None
    if kind in (PropertyType.CONDO, PropertyType.RENTAL):
        unit = f"Unit {rng.randint(1, 30)}{rng.choice('ABCD')}"
    return ListingDetails(
        title=title[:120],
        description=" ".join(sentences),
        price=Money.of(_price_minor(rng, market, kind, sqft), "USD"),
        property_type=kind,
        bedrooms=beds,
        bathrooms=baths,
        living_area_sqft=sqft,
        address=Address.of(
            street=street,
            unit=unit,
            city=market.city,
            state=market.state,
            postal_code=f"{market.zip_prefix}{rng.randint(1, 99):02d}",
            country="US",
        ),
        location=_offset(rng, market.lat, market.lng, 18.0),
    )


def generate_listings(
    count: int,
    *,
    realtor_ids: Sequence[uuid.UUID],
    seed: int = 42,
    now: datetime | None = None,
    days: int = 180,
) -> Iterator[Listing]:
    """`count` listings spread over the last `days`, owned by `realtor_ids` in turn."""
    rng = random.Random(seed)
    end = now or datetime.now(UTC)
    for n in range(count):
        created = end - timedelta(seconds=rng.uniform(0, days * 86_400))
        listing = Listing.create(
            by=Principal(realtor_ids[n % len(realtor_ids)], Role.REALTOR),
            details=generate_details(rng),
            status=ListingStatus.DRAFT,
            time_zone=None,
            now=created,
            listing_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        )
        listing.status = ListingStatus(str(_pick(rng, STATUS_WEIGHTS)))
        # Last touched within three days of creation, and never after `end`.
        listing.updated_at = min(end, created + timedelta(seconds=rng.uniform(0, 3 * 86_400)))
        # Its one event is `created` (announcing the listing as generated), whatever status
        # it was given: loading it through the use case publishes what a realtor's would.
        yield listing
