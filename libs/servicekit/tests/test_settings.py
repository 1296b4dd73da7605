"""Configuration defaults and overrides."""

from __future__ import annotations

import pytest
from servicekit.settings import InfraSettings, ServiceSettings, service_config


class DemoSettings(ServiceSettings):
    model_config = service_config("DEMO_")
    service_name: str = "demo"


def test_each_service_gets_its_own_database_on_the_shared_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:secret@db.internal:5432/postgres")
    settings = DemoSettings()
    assert (
        settings.resolved_database_url() == "postgresql://app:secret@db.internal:5432/realty_demo"
    )
    monkeypatch.setenv("DEMO_DATABASE_URL", "postgresql://other@elsewhere/demo_db")
    assert DemoSettings().resolved_database_url() == "postgresql://other@elsewhere/demo_db"


def test_production_talks_to_aws_itself_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert InfraSettings().aws_endpoint_url == "http://127.0.0.1:4566"
    monkeypatch.setenv("REALTY_ENV", "production")
    assert InfraSettings().aws_endpoint_url is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://vpce.example.internal")
    assert InfraSettings().aws_endpoint_url == "https://vpce.example.internal"
