"""The TLS material of internal gRPC calls: who a service is, and whom it trusts.

Every service holds a certificate naming it twice: a SPIFFE URI
(`spiffe://realtyforyou/<service>`), which is the identity a callee reads, and a DNS name
(`<service>`), which the caller checks when it connects, so scheduling knows it reached
listings and not some other process on that port. Both ends trust one CA.

In production the files come from the environment (`GRPC_TLS_CA_FILE`, `GRPC_TLS_CERT_FILE`,
`GRPC_TLS_KEY_FILE`), issued by whatever the platform uses. Elsewhere a development CA in a
directory (`GRPC_TLS_DIR`, default `<REALTY_DATA_DIR>/tls`) issues each service its
certificate on first use and keeps it for the next run; a lock file makes services that
start at the same moment share one CA instead of racing to create two.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from servicekit.settings import ServiceSettings

TRUST_DOMAIN = "realtyforyou"
SPIFFE_PREFIX = f"spiffe://{TRUST_DOMAIN}/"

CA_LIFETIME = dt.timedelta(days=3650)
LEAF_LIFETIME = dt.timedelta(days=365)
# A development certificate this close to its end is issued again rather than reused.
RENEW_BEFORE = dt.timedelta(days=30)

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def spiffe_id(service: str) -> str:
    return f"{SPIFFE_PREFIX}{service}"


def service_of(spiffe_uri: str) -> str | None:
    """The service a SPIFFE URI of our trust domain names, None for anything else."""
    if not spiffe_uri.startswith(SPIFFE_PREFIX):
        return None
    name = spiffe_uri.removeprefix(SPIFFE_PREFIX)
    return name if name and "/" not in name else None


def service_of_certificate(pem: bytes) -> str | None:
    """The service a certificate's SPIFFE URI names; None when it has none or several."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    services = {
        service_of(uri) for uri in names.get_values_for_type(x509.UniformResourceIdentifier)
    }
    services.discard(None)
    return services.pop() if len(services) == 1 else None


class TlsConfigurationError(RuntimeError):
    """The gRPC TLS files are missing or only partly configured."""


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """PEM bytes: the CA both ends trust, this service's certificate and its private key."""

    ca: bytes
    certificate: bytes
    private_key: bytes

    @classmethod
    def from_files(cls, ca: Path, certificate: Path, private_key: Path) -> TlsMaterial:
        return cls(ca.read_bytes(), certificate.read_bytes(), private_key.read_bytes())

    @property
    def service(self) -> str | None:
        """Whom this certificate names (what a callee will see as the caller)."""
        return service_of_certificate(self.certificate)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Write atomically (a reader never sees half a file); keys readable by the owner only."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    temporary.replace(path)


class DevAuthority:
    """A development CA kept in a directory, issuing (and reusing) service certificates."""

    def __init__(self, directory: Path, *, clock: Clock = _utcnow) -> None:
        self.directory = directory
        self.clock = clock
        self.ca_file = directory / "ca.pem"
        self._ca_key_file = directory / "ca.key"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """The CA, created on first use; call with the lock held."""
        if self.ca_file.exists() and self._ca_key_file.exists():
            cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            key = serialization.load_pem_private_key(self._ca_key_file.read_bytes(), None)
            if isinstance(key, ec.EllipticCurvePrivateKey) and self._valid(cert):
                return cert, key
        key = _new_key()
        now = self.clock()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RealtyForYou development CA")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write(self._ca_key_file, _key_pem(key), secret=True)
        _write(self.ca_file, cert.public_bytes(serialization.Encoding.PEM))
        return cert, key

    def _valid(self, cert: x509.Certificate) -> bool:
        now = self.clock()
        return cert.not_valid_before_utc <= now and now < cert.not_valid_after_utc - RENEW_BEFORE

    def issue(
        self,
        *,
        uris: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        common_name: str = "service",
        lifetime: dt.timedelta = LEAF_LIFETIME,
    ) -> tuple[bytes, bytes]:
        """A fresh certificate and key (PEM) for any names; nothing is written."""
        with self._locked():
            ca_cert, ca_key = self._ca()
        return self._sign(ca_cert, ca_key, uris, dns_names, common_name, lifetime)

    def material(self, service: str) -> TlsMaterial:
        """`service`'s certificate, issued on first use and reused while valid."""
        cert_file = self.directory / f"{service}.pem"
        key_file = self.directory / f"{service}.key"
        with self._locked():
            ca_cert, ca_key = self._ca()
            if not key_file.exists() or not self._reusable(cert_file, ca_cert):
                cert, key = self._sign(
                    ca_cert, ca_key, [spiffe_id(service)], [service, "localhost"], service
                )
                _write(key_file, key, secret=True)
                _write(cert_file, cert)
            return TlsMaterial.from_files(self.ca_file, cert_file, key_file)

    def _sign(
        self,
        ca_cert: x509.Certificate,
        ca_key: ec.EllipticCurvePrivateKey,
        uris: Sequence[str],
        dns_names: Sequence[str],
        common_name: str,
        lifetime: dt.timedelta = LEAF_LIFETIME,
    ) -> tuple[bytes, bytes]:
        key = _new_key()
        now = self.clock()
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
        names += [x509.DNSName(d) for d in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def _reusable(self, cert_file: Path, ca_cert: x509.Certificate) -> bool:
        if not cert_file.exists():
            return False
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except ValueError:
            return False
        return self._valid(cert) and _signed_by(cert, ca_cert)


def _signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def service_tls(settings: ServiceSettings) -> TlsMaterial:
    """This service's TLS material: the configured files, else (outside production) the
    development CA's certificate for `settings.service_name`."""
    infra = settings.infra
    files = (infra.grpc_tls_ca_file, infra.grpc_tls_cert_file, infra.grpc_tls_key_file)
    if all(files):
        ca, cert, key = (Path(f) for f in files if f is not None)
        return TlsMaterial.from_files(ca, cert, key)
    if any(files):
        raise TlsConfigurationError(
            "set all of GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE, or none"
        )
    if infra.production:
        raise TlsConfigurationError(
            "production needs GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE"
        )
    return DevAuthority(infra.resolved_grpc_tls_dir()).material(settings.service_name)
