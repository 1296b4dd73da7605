"""Secret per-user calendar feed URLs (`<public url>/calendar/<token>.ics`), derived, not stored.

A token is the user id followed by an HMAC, under the server's feed secret, of the user id
and the user's rotation nonce (empty until they first rotate it). So showing a user their
URL reads at most the nonce and never writes; the URL stays the same until an explicit
rotation stores a new nonce, which revokes the old URL. Without the secret nobody can make
or check a token, and the database never holds one (only the nonce, and the SHA-256 of the
current token that tokens issued before derivation are still found by).

Pure: the standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid

MAC_BYTES = hashlib.sha256().digest_size
TOKEN_BYTES = 16 + MAC_BYTES
# A token longer than this is nobody's (derived ones are 64 characters, older ones 43).
MAX_TOKEN_LENGTH = 100


def fingerprint(token: str) -> bytes:
    """What the database keeps of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


def new_nonce() -> bytes:
    return secrets.token_bytes(16)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None


class CalendarFeeds:
    """Makes and checks feed tokens with the server's secret."""

    def __init__(self, *, secret: str, public_url: str) -> None:
        self._secret = secret.encode()
        self.public_url = public_url.rstrip("/")

    def _mac(self, user_id: uuid.UUID, nonce: bytes) -> bytes:
        return hmac.new(self._secret, user_id.bytes + nonce, hashlib.sha256).digest()

    def token(self, user_id: uuid.UUID, nonce: bytes | None) -> str:
        return _encode(user_id.bytes + self._mac(user_id, nonce or b""))

    def url(self, user_id: uuid.UUID, nonce: bytes | None) -> str:
        return f"{self.public_url}/calendar/{self.token(user_id, nonce)}.ics"

    @staticmethod
    def claimed_owner(token: str) -> uuid.UUID | None:
        """The user a derived token names (not yet checked); None for any other string."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        raw = _decode(token)
        if raw is None or len(raw) != TOKEN_BYTES:
            return None
        return uuid.UUID(bytes=raw[:16])

    def matches(self, token: str, user_id: uuid.UUID, nonce: bytes | None) -> bool:
        """True when `token` is the user's current token (constant-time comparison)."""
        return hmac.compare_digest(token, self.token(user_id, nonce))
