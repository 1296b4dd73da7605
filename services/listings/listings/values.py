"""Value objects of a listing: money, address, location and the described details.

Each validates itself on construction and raises BAD_USER_INPUT naming the offending field,
so a value that exists is a valid one. Plain Python, like the rest of the domain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from servicekit.vocabulary import BadUserInput

from listings.timezones import BY_REGION

# ISO 4217 codes accepted for prices, with their number of minor-unit digits.
CURRENCIES: dict[str, int] = {
    "USD": 2, "CAD": 2, "MXN": 2, "BRL": 2, "ARS": 2, "CLP": 0, "COP": 2, "PEN": 2,
    "EUR": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "ISK": 0, "PLN": 2,
    "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "UAH": 2, "TRY": 2, "ILS": 2, "AED": 2,
    "SAR": 2, "INR": 2, "SGD": 2, "MYR": 2, "THB": 2, "VND": 0, "PHP": 2, "IDR": 2,
    "CNY": 2, "HKD": 2, "TWD": 2, "JPY": 0, "KRW": 0, "AUD": 2, "NZD": 2, "ZAR": 2,
    "EGP": 2, "MAD": 2, "KES": 2, "NGN": 2, "RUB": 2,
}  # fmt: skip

MAX_TITLE = 120
MAX_DESCRIPTION = 10_000
# GraphQL `Int` is 32-bit: the largest amount the public contract can carry.
MAX_PRICE_MINOR = 2_147_483_647
MAX_ROOMS = 100
MAX_LIVING_AREA = 1_000_000


_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,19}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(
    value: str, name: str, *, maximum: int, required: bool = True, lines: bool = False
) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise BadUserInput(f"{name} must not be empty", field=name)
    if len(cleaned) > maximum:
        raise BadUserInput(f"{name} is longer than {maximum} characters", field=name)
    bad = _CONTROL.search(cleaned) or (not lines and ("\n" in cleaned or "\r" in cleaned))
    if bad:
        raise BadUserInput(f"{name} contains control characters", field=name)
    return cleaned


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of an ISO 4217 currency (cents for USD)."""

    amount: int
    currency: str

    @classmethod
    def of(cls, amount: int, currency: str) -> Money:
        code = currency.strip().upper()
        if code not in CURRENCIES:
            raise BadUserInput(f"unknown currency {currency!r}", field="price.currency")
        if amount <= 0:
            raise BadUserInput("price must be positive", field="price.amount")
        if amount > MAX_PRICE_MINOR:
            raise BadUserInput("price is too large", field="price.amount")
        return cls(amount, code)

    @property
    def exponent(self) -> int:
        return CURRENCIES.get(self.currency, 2)

    def decimal_string(self) -> str:
        """The amount in major units as text, e.g. "450000.00" (schema.org `price`)."""
        if self.exponent == 0:
            return str(self.amount)
        major, minor = divmod(self.amount, 10**self.exponent)
        return f"{major}.{minor:0{self.exponent}d}"


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    unit: str | None
    city: str
    state: str
    postal_code: str
    country: str

    @classmethod
    def of(
        cls,
        *,
        street: str,
        unit: str | None,
        city: str,
        state: str,
        postal_code: str,
        country: str,
    ) -> Address:
        code = country.strip().upper()
        if not _COUNTRY.match(code):
            raise BadUserInput(
                "country must be an ISO 3166-1 alpha-2 code", field="address.country"
            )
        region = _text(state, "address.state", maximum=50)
        if code in BY_REGION:
            region = region.upper()
            if region not in BY_REGION[code]:
                raise BadUserInput(
                    f"unknown state/province code {state!r} for {code}", field="address.state"
                )
        postal = postal_code.strip()
        if not _POSTAL.match(postal):
            raise BadUserInput("postal code is not valid", field="address.postalCode")
        unit_text = _text(unit, "address.unit", maximum=50, required=False) if unit else None
        return cls(
            street=_text(street, "address.street", maximum=200),
            unit=unit_text or None,
            city=_text(city, "address.city", maximum=100),
            state=region,
            postal_code=postal.upper(),
            country=code,
        )

    def one_line(self) -> str:
        street = f"{self.street} {self.unit}" if self.unit else self.street
        return f"{street}, {self.city}, {self.state} {self.postal_code}"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lng: float

    @classmethod
    def of(cls, lat: float, lng: float) -> GeoPoint:
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise BadUserInput("latitude must be between -90 and 90", field="location.lat")
        if not (math.isfinite(lng) and -180.0 <= lng <= 180.0):
            raise BadUserInput("longitude must be between -180 and 180", field="location.lng")
        return cls(lat, lng)


class PropertyType(StrEnum):
    RESIDENTIAL = "RESIDENTIAL"
    CONDO = "CONDO"
    TOWNHOUSE = "TOWNHOUSE"
    MULTI_FAMILY = "MULTI_FAMILY"
    LAND = "LAND"
    COMMERCIAL = "COMMERCIAL"
    RENTAL = "RENTAL"


@dataclass(frozen=True, slots=True)
class ListingDetails:
    """Everything a realtor describes about a home (validated on construction)."""

    title: str
    description: str
    price: Money
    property_type: PropertyType
    bedrooms: int
    bathrooms: float
    living_area_sqft: int | None
    address: Address
    location: GeoPoint | None

    @classmethod
    def restore(cls, **values: Any) -> ListingDetails:
        """Rebuild stored details without re-validating them: rows written under older
        rules must stay readable when the rules for new input tighten."""
        details = object.__new__(cls)
        for name, value in values.items():
            object.__setattr__(details, name, value)
        return details

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", _text(self.title, "title", maximum=MAX_TITLE))
        object.__setattr__(
            self,
            "description",
            _text(
                self.description, "description", maximum=MAX_DESCRIPTION, required=False, lines=True
            ),
        )
        if not 0 <= self.bedrooms <= MAX_ROOMS:
            raise BadUserInput(f"bedrooms must be between 0 and {MAX_ROOMS}", field="bedrooms")
        baths = self.bathrooms
        if not (math.isfinite(baths) and 0 <= baths <= MAX_ROOMS) or (baths * 4) % 1:
            raise BadUserInput(
                f"bathrooms must be between 0 and {MAX_ROOMS} in steps of 0.25", field="bathrooms"
            )
        area = self.living_area_sqft
        if area is not None and not 1 <= area <= MAX_LIVING_AREA:
            raise BadUserInput(
                f"livingAreaSqft must be between 1 and {MAX_LIVING_AREA}", field="livingAreaSqft"
            )
