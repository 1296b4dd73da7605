"""GraphQL over HTTP: methods, content negotiation and the spec's status codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.metrics import gateway_metrics
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from starlette.testclient import TestClient

JSON_HEADERS = {"content-type": "application/json"}
GRAPHQL_RESPONSE = "application/graphql-response+json"


def post(client: TestClient, body: object, **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/graphql", content=json.dumps(body), headers={**JSON_HEADERS, **headers})


def test_post_query_returns_data_as_application_json_by_default(client: TestClient) -> None:
    response = post(client, {"query": "{ hello }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"hello": "hello world"}}


def test_variables_and_operation_name_reach_the_engine(client: TestClient) -> None:
    body = {
        "query": "query A { hello } query B($n: String) { hello(name: $n) }",
        "operationName": "B",
        "variables": {"n": "ada"},
    }
    assert post(client, body).json() == {"data": {"hello": "hello ada"}}


def test_graphql_response_json_validation_error_is_400(client: TestClient) -> None:
    response = post(client, {"query": "{ nope }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in response.json()


def test_application_json_validation_error_is_200(client: TestClient) -> None:
    response = post(client, {"query": "{ nope }"}, accept="application/json")
    assert response.status_code == 200
    assert response.json()["errors"]


def test_parse_error_is_a_request_error_per_media_type(client: TestClient) -> None:
    strict = post(client, {"query": "{ hello "}, accept=GRAPHQL_RESPONSE)
    assert strict.status_code == 400
    error = strict.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert error["locations"][0]["line"] == 1
    assert post(client, {"query": "{ hello "}, accept="application/json").status_code == 200


def test_success_with_graphql_response_json_is_200(client: TestClient) -> None:
    response = post(client, {"query": "{ hello }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)


def test_accept_preference_by_quality(client: TestClient) -> None:
    accept = f"application/json;q=0.5, {GRAPHQL_RESPONSE};q=0.9"
    response = post(client, {"query": "{ hello }"}, accept=accept)
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    wildcard = post(client, {"query": "{ hello }"}, accept="*/*")
    assert wildcard.headers["content-type"].startswith("application/json")


def test_unacceptable_accept_is_406(client: TestClient) -> None:
    assert post(client, {"query": "{ hello }"}, accept="text/xml").status_code == 406


def test_malformed_body_is_400_whatever_the_media_type(client: TestClient) -> None:
    response = client.post("/graphql", content=b"{not json", headers=JSON_HEADERS)
    assert response.status_code == 400
    assert post(client, [{"query": "{ hello }"}]).status_code == 400
    assert post(client, {"query": 5}).status_code == 400
    assert post(client, {"query": "{ hello }", "variables": [1]}).status_code == 400
    assert post(client, {}).status_code == 400


def test_unsupported_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/graphql",
        content=b"query=x",
        headers={"content-type": "application/xml", "apollo-require-preflight": "1"},
    )
    assert response.status_code == 415


def test_get_runs_queries(client: TestClient) -> None:
    response = client.get(
        "/graphql",
        params={"query": "query($n: String) { hello(name: $n) }", "variables": '{"n": "bo"}'},
        headers={"apollo-require-preflight": "true"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"hello": "hello bo"}}


def test_get_refuses_mutations_with_405(client: TestClient, engines: dict[str, Any]) -> None:
    response = client.get(
        "/graphql",
        params={"query": "mutation { bump }"},
        headers={"apollo-require-preflight": "true"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert engines["v1"].bumps == 0
    assert post(client, {"query": "mutation { bump }"}).json() == {"data": {"bump": 1}}


def test_get_picks_the_named_operation_for_the_405_rule(client: TestClient) -> None:
    params = {"query": "query Q { hello } mutation M { bump }", "operationName": "Q"}
    headers = {"apollo-require-preflight": "true"}
    assert client.get("/graphql", params=params, headers=headers).status_code == 200
    params["operationName"] = "M"
    assert client.get("/graphql", params=params, headers=headers).status_code == 405


def test_get_with_bad_variables_json_is_400(client: TestClient) -> None:
    response = client.get(
        "/graphql",
        params={"query": "{ hello }", "variables": "{oops"},
        headers={"apollo-require-preflight": "true"},
    )
    assert response.status_code == 400


def test_other_methods_are_405(client: TestClient) -> None:
    response = client.put("/graphql", content=b"{}", headers=JSON_HEADERS)
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


def test_subscription_over_http_is_refused(client: TestClient) -> None:
    response = post(client, {"query": "subscription { ticks(count: 1) }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert "WebSocket" in response.json()["errors"][0]["message"]


def test_engine_crash_is_a_500_without_internals(client: TestClient) -> None:
    response = post(client, {"query": "query Crash { hello }", "operationName": "Crash"})
    assert response.status_code == 500
    text = response.text
    assert "secret internals" not in text and "Traceback" not in text
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


def test_body_over_the_limit_is_413(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_body_bytes=64)
    response = post(client, {"query": "{ hello }", "variables": {"pad": "x" * 100}})
    assert response.status_code == 413


def test_introspection_can_be_switched_off(make_client) -> None:  # type: ignore[no-untyped-def]
    on = make_client()
    assert post(on, {"query": "{ __schema { queryType { name } } }"}).json() == {
        "data": {"__schema": {"queryType": {"name": "Query"}}}
    }
    off = make_client(introspection=False)
    response = post(off, {"query": "{ __schema { queryType { name } } }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert "introspection" in response.json()["errors"][0]["message"]
    hidden = post(
        off, {"query": 'query { ...F } fragment F on Query { __type(name: "Node") { name } }'}
    )
    assert hidden.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert post(off, {"query": "{ __typename hello }"}).json()["data"]["hello"] == "hello world"


def test_graphiql_page_for_browsers(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    page = client.get("/graphql", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql" in page.text.lower()
    assert (
        make_client(environment="production")
        .get("/graphql", headers={"accept": "text/html"})
        .status_code
        == 406
    )
    off = make_client(graphiql=False)
    assert off.get("/graphql", headers={"accept": "text/html"}).status_code == 406


def test_health_and_metrics(make_client: Callable[..., TestClient]) -> None:
    metrics = gateway_metrics()  # as the gateway process builds them: with the process collector
    client = make_client(metrics=metrics)
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert post(client, {"query": "{ hello }"}).status_code == 200
    assert post(client, {"query": "{ hello }"}).status_code == 200
    assert post(client, {"query": "{ hello"}, accept=GRAPHQL_RESPONSE).status_code == 400
    ok = {"transport": "http", "operation": "query", "status": "200"}
    assert metrics.value("gateway_requests_total", **ok) == 2
    assert metrics.value("gateway_requests_total", **{**ok, "status": "400"}) == 0
    by_kind = {"transport": "http", "operation": "query"}
    assert metrics.value("gateway_request_duration_seconds_count", **by_kind) == 2
    assert metrics.value("gateway_request_duration_seconds_sum", **by_kind) > 0
    assert metrics.value("gateway_request_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
    unknown = {"transport": "http", "operation": "unknown", "status": "400"}
    assert metrics.value("gateway_requests_total", **unknown) == 1

    response = client.get("/metrics")
    assert response.status_code == 200
    exposed = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert exposed[("gateway_requests_total", tuple(sorted(ok.items())))] == 2
    assert exposed[("gateway_request_errors_total", (("code", "GRAPHQL_PARSE_FAILED"),))] == 1
    assert any(name == "process_cpu_seconds_total" for name, _ in exposed)


def test_oversized_request_headers_are_431_before_the_edge(client: TestClient) -> None:
    response = client.post(
        "/graphql",
        content=json.dumps({"query": "{ hello }"}),
        headers={**JSON_HEADERS, "x-padding": "p" * 20_000},
    )
    assert response.status_code == 431
    assert response.json()["errors"][0]["extensions"]["reason"] == "HEADERS_TOO_LARGE"


def test_requests_past_the_in_flight_limit_are_shed_with_a_code(
    make_client: Any,
) -> None:
    from gateway.app import GatewayApp

    client = make_client()
    app = client.app
    assert isinstance(app, GatewayApp)
    from servicekit.shedding import ShedLoad

    shedder = app._limited.app
    assert isinstance(shedder, ShedLoad)
    shedder.max_in_flight, shedder.in_flight = 1, 1  # one request already being served
    response = client.post(
        "/graphql", content=json.dumps({"query": "{ hello }"}), headers=JSON_HEADERS
    )
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert client.get("/healthz").status_code == 200
