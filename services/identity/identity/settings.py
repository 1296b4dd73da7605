"""Identity's settings (env prefix `IDENTITY_`), with the security limits as named values.

Argon2 parameters default to OWASP's minimum (19 MiB, 2 passes, 1 lane); a production
environment refuses to start below it, while tests may lower them to stay fast.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from servicekit.settings import ServiceSettings, service_config

# OWASP Password Storage Cheat Sheet: equivalent Argon2id minimums (memory KiB, passes), p=1.
OWASP_ARGON2_MINIMUMS: tuple[tuple[int, int], ...] = (
    (47104, 1),
    (19456, 2),
    (12288, 3),
    (9216, 4),
    (7168, 5),
)


def meets_owasp_minimum(memory_cost: int, time_cost: int) -> bool:
    """True when (memory, passes) is at least one of OWASP's equivalent minimums."""
    return any(memory_cost >= m and time_cost >= t for m, t in OWASP_ARGON2_MINIMUMS)


class Settings(ServiceSettings):
    model_config = service_config("IDENTITY_")

    service_name: str = "identity"
    http_port: int = 4001
    grpc_port: int = 50051

    frontend_url: str = "http://localhost:3000"

    # Tokens (seconds).
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    reset_token_ttl: int = 30 * 60
    verify_token_ttl: int = 48 * 3600
    key_cache_seconds: float = 30.0
    # Private signing keys are encrypted at rest with this passphrase when it is set.
    signing_key_passphrase: str | None = None

    # Passwords.
    argon2_memory_cost: int = 19456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    # Threads hashing passwords at once in a process; 0: the process's cores but one (min 1),
    # so a burst of sign-ins leaves a core to every other request.
    argon2_workers: int = Field(0, ge=0)
    password_min_length: int = 12
    password_max_length: int = 256
    password_min_score: int = 3
    # A k-anonymity range API (Have I Been Pwned's protocol, e.g.
    # https://api.pwnedpasswords.com) asked after the bundled list; unset: offline only.
    hibp_url: str | None = None
    hibp_timeout_seconds: float = 2.0

    # Brute force. Per (account, client) pair, the client being its address plus its device
    # identifier: delays after the free failures, then a lock of that client only.
    login_free_failures: int = 3
    login_max_failures_client: int = 10
    # Per account from every client: delays only, never a lock; clients that signed in to
    # the account within `login_known_client_days` are spared them.
    login_free_failures_account: int = 10
    login_known_client_days: int = 90
    # Per client address across accounts (max 0: no address limit).
    login_free_failures_ip: int = 25
    login_max_failures_ip: int = 50
    login_delay_base_seconds: float = 1.0
    login_delay_max_seconds: float = 60.0
    login_lock_seconds: int = 15 * 60
    login_window_seconds: int = 15 * 60

    # Password reset mail: at most one per account in this many seconds.
    reset_mail_interval_seconds: int = 60

    @model_validator(mode="after")
    def _production_floor(self) -> Settings:
        if self.infra.production and not meets_owasp_minimum(
            self.argon2_memory_cost, self.argon2_time_cost
        ):
            raise ValueError(
                "IDENTITY_ARGON2_MEMORY_COST/TIME_COST are below OWASP's Argon2id minimum"
            )
        if self.access_token_ttl > self.infra.jwt_max_lifetime_seconds:
            # Every verifier would refuse such tokens, and revocations are followed only
            # one maximum lifetime back.
            raise ValueError("IDENTITY_ACCESS_TOKEN_TTL exceeds JWT_MAX_LIFETIME_SECONDS")
        if self.password_max_length < 128 or self.password_min_length < 8:
            raise ValueError("password length limits must allow 8..128 characters at least")
        return self
