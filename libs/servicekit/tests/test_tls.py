"""The development CA and where a service finds its TLS material."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from servicekit.settings import InfraSettings, ServiceSettings
from servicekit.tls import (
    DevAuthority,
    TlsConfigurationError,
    TlsMaterial,
    service_of,
    service_of_certificate,
    service_tls,
)

NOW = dt.datetime(2027, 1, 4, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def names(material: TlsMaterial) -> list[str]:
    cert = x509.load_pem_x509_certificate(material.certificate)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in san]


def test_a_service_certificate_names_the_service_for_callers_and_callees(tmp_path: Path) -> None:
    material = DevAuthority(tmp_path).material("scheduling")
    assert material.service == "scheduling"
    assert names(material)[:2] == ["spiffe://realtyforyou/scheduling", "scheduling"]
    assert (tmp_path / "scheduling.key").stat().st_mode & 0o077 == 0
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0


def test_certificates_are_reused_across_runs_until_they_near_their_end(tmp_path: Path) -> None:
    clock = Clock()
    first = DevAuthority(tmp_path, clock=clock).material("identity")
    again = DevAuthority(tmp_path, clock=clock).material("identity")
    assert again == first
    clock.now = NOW + dt.timedelta(days=340)  # within 30 days of the one-year lifetime
    renewed = DevAuthority(tmp_path, clock=clock).material("identity")
    assert renewed.certificate != first.certificate and renewed.ca == first.ca


def test_a_certificate_from_a_replaced_ca_is_issued_again(tmp_path: Path) -> None:
    first = DevAuthority(tmp_path).material("listings")
    (tmp_path / "ca.pem").unlink()
    second = DevAuthority(tmp_path).material("listings")
    assert second.ca != first.ca and second.certificate != first.certificate


def test_only_spiffe_ids_of_our_trust_domain_name_a_service(tmp_path: Path) -> None:
    assert service_of("spiffe://realtyforyou/media") == "media"
    assert service_of("spiffe://elsewhere/media") is None
    assert service_of("spiffe://realtyforyou/media/extra") is None
    assert service_of("spiffe://realtyforyou/") is None
    authority = DevAuthority(tmp_path)
    both, _ = authority.issue(uris=["spiffe://realtyforyou/a", "spiffe://realtyforyou/b"])
    assert service_of_certificate(both) is None
    assert service_of_certificate(b"not a certificate") is None


def settings(**env: str) -> ServiceSettings:
    return ServiceSettings(service_name="media", infra=InfraSettings(**env))  # type: ignore[arg-type]


def test_configured_files_win(tmp_path: Path) -> None:
    issued = DevAuthority(tmp_path / "ca").material("media")
    loaded = service_tls(
        settings(
            GRPC_TLS_CA_FILE=str(tmp_path / "ca" / "ca.pem"),
            GRPC_TLS_CERT_FILE=str(tmp_path / "ca" / "media.pem"),
            GRPC_TLS_KEY_FILE=str(tmp_path / "ca" / "media.key"),
            REALTY_ENV="production",
        )
    )
    assert loaded == issued


def test_development_falls_back_to_the_dev_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    material = service_tls(settings(GRPC_TLS_DIR=str(tmp_path)))
    assert material.service == "media" and (tmp_path / "media.pem").exists()
    monkeypatch.delenv("GRPC_TLS_DIR")
    assert InfraSettings(REALTY_DATA_DIR=str(tmp_path)).resolved_grpc_tls_dir() == tmp_path / "tls"  # type: ignore[call-arg]


def test_production_requires_files_and_partial_configuration_fails(tmp_path: Path) -> None:
    with pytest.raises(TlsConfigurationError, match="production needs"):
        service_tls(settings(REALTY_ENV="production", GRPC_TLS_DIR=str(tmp_path)))
    with pytest.raises(TlsConfigurationError, match="or none"):
        service_tls(settings(GRPC_TLS_CERT_FILE=str(tmp_path / "media.pem")))
    assert not (tmp_path / "ca.pem").exists()
