"""The default public fields make the frontends' public pages cacheable on our own schema.

The listing page and the city search are the most asked anonymous queries; if a field
they select is missing from `DEFAULT_PUBLIC_FIELDS`, the response cache silently never
holds them (the listing page missed `Listing.timeZone` once, and every listing page went
to listings and identity). The queries are the ones `tools/load/load.py` sends as the
frontends do.
"""

from __future__ import annotations

import pytest
from gateway.caching.policy import PublicFields, analyse
from gateway.compose import compose
from gateway.settings import DEFAULT_PUBLIC_FIELDS
from gateway.supergraph import Supergraph
from graphql import GraphQLSchema, parse

from .test_services import service_sources

LISTING = """query($id: ID!) { listing(id: $id) { id slug title description status propertyType
  bedrooms bathrooms livingAreaSqft timeZone price { amount currency }
  address { street city state postalCode } location { lat lng }
  realtor { id displayName avatarUrl } } }"""
SEARCH = """query($f: ListingFilter, $first: Int) { listings(filter: $f, first: $first) {
  edges { cursor node { id slug title price { amount currency } bedrooms bathrooms
  address { city state } realtor { id displayName } } } pageInfo { hasNextPage endCursor } } }"""
WATCHED = frozenset({"Listing", "User"})


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    sources = service_sources()
    if not {"listings", "identity"} <= {source.name for source in sources}:
        pytest.skip("listings and identity are not both in this checkout")
    return Supergraph.parse(compose(sources)).api_schema


def test_the_listing_page_is_public_and_tagged_by_its_listing_and_realtor(
    schema: GraphQLSchema,
) -> None:
    policy = analyse(schema, parse(LISTING), None, PublicFields(DEFAULT_PUBLIC_FIELDS), WATCHED)

    assert policy is not None
    found = {(p.path, p.type_name, p.id_key, p.in_list) for p in policy.positions}
    assert found == {
        (("listing",), "Listing", "id", False),
        (("listing", "realtor"), "User", "id", False),
    }


def test_the_city_search_is_public_and_dropped_by_any_listing_or_realtor(
    schema: GraphQLSchema,
) -> None:
    policy = analyse(schema, parse(SEARCH), None, PublicFields(DEFAULT_PUBLIC_FIELDS), WATCHED)

    assert policy is not None
    assert {(p.type_name, p.in_list) for p in policy.positions} == {
        ("Listing", True),
        ("User", True),
    }


def test_a_private_field_on_the_page_keeps_it_out_of_the_cache(schema: GraphQLSchema) -> None:
    private = LISTING.replace("realtor { id", "realtor { email id")

    assert (
        analyse(schema, parse(private), None, PublicFields(DEFAULT_PUBLIC_FIELDS), WATCHED) is None
    )
