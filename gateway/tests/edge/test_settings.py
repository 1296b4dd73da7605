"""Configuration from the environment: prefixed names first, the stack's shared names second."""

from __future__ import annotations

import pytest
from gateway.settings import GatewaySettings


def test_shared_identity_settings_are_used_when_the_gateway_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.test")
    monkeypatch.setenv("IDENTITY_JWKS_URL", "http://identity.test/jwks")
    monkeypatch.setenv("REDIS_URL", "redis://cache.test:6379/0")
    settings = GatewaySettings()
    assert settings.jwt_issuer == "https://issuer.test"
    assert settings.jwks_url == "http://identity.test/jwks"
    assert settings.redis_url == "redis://cache.test:6379/0"
    monkeypatch.setenv("GATEWAY_JWT_ISSUER", "https://gateway-issuer.test")
    assert GatewaySettings().jwt_issuer == "https://gateway-issuer.test"


def test_graphiql_follows_the_environment_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REALTY_ENV", raising=False)
    assert GatewaySettings().serve_graphiql
    monkeypatch.setenv("REALTY_ENV", "production")
    assert not GatewaySettings().serve_graphiql
    monkeypatch.setenv("GATEWAY_GRAPHIQL", "true")
    assert GatewaySettings().serve_graphiql


def test_defaults_listen_on_loopback_port_4000(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GATEWAY_HOST", "GATEWAY_PORT", "GATEWAY_SUPERGRAPH_PATH"):
        monkeypatch.delenv(name, raising=False)
    settings = GatewaySettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 4000)
    assert settings.supergraph_path.parts[-2:] == (".dev", "supergraph.graphql")
