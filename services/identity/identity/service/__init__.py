"""Identity's use cases: one method per command or query, each command one unit of work.

Every command opens a unit of work, loads through the store, lets the domain decide, writes,
appends its audit entries and commits; the unit of work writes the events of the users it
tracked to the outbox in the same transaction. Emails are sent after the commit, off the
request path (see `mailer.py`). No SQL here: it lives in `store/` and `queries.py`.

The use cases come in groups, one module each; `IdentityService` is all of them over one
set of collaborators (`base.UseCases`).
"""

from __future__ import annotations

from identity.service.accounts import AccountCases
from identity.service.base import AuthResult, Client, Registration, throttle_key, utcnow
from identity.service.recovery import RecoveryCases
from identity.service.sign_in import SignInCases
from identity.service.signing import KeyCases

__all__ = [
    "AuthResult",
    "Client",
    "IdentityService",
    "Registration",
    "throttle_key",
    "utcnow",
]


class IdentityService(AccountCases, SignInCases, RecoveryCases, KeyCases):
    """Every use case of identity (what the adapters and the operator commands call)."""
