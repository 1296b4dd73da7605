"""Who is calling over gRPC, and which callers each method admits.

A call has two parties, proven separately: the calling *service*, named by its client
certificate (never by metadata), and, when the call is made on a user's behalf, the *user*,
whose own access token travels with the call and is verified by the callee. Calls made on
nobody's behalf (event consumers, workers) carry the service identity only.

Each servicer declares, in its `rpc.py`, an `Access` table: for every method the services
that may call it. The table is the one place to read who may see what (which services may
read users' e-mail addresses, for instance); `servicekit.grpc` enforces it for every call.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from servicekit.vocabulary import Principal


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made the current gRPC call: a service, and the user it acts for (if any)."""

    service: str
    principal: Principal | None = None


current_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "current_caller", default=None
)

# The end user's verified access token, forwarded on the calls made while serving them.
current_access_token: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_access_token", default=None
)


def allow(*services: str) -> frozenset[str]:
    """The services that may call a method (an empty set: none may)."""
    return frozenset(services)


@dataclass(frozen=True)
class Access:
    """The allow-list of one gRPC service: method name -> services that may call it."""

    service: str
    methods: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def admits(self, method: str, caller: str) -> bool:
        """Unknown methods admit nobody: a method must be declared to be callable."""
        return caller in self.methods.get(method, frozenset())

    def check_covers(self, methods: Iterable[str]) -> None:
        """Fail when the table and the service's methods differ, so a method added to the
        proto cannot go live without someone deciding who may call it."""
        declared, actual = set(self.methods), set(methods)
        missing, unknown = sorted(actual - declared), sorted(declared - actual)
        if missing or unknown:
            raise ValueError(
                f"access table of {self.service}: undeclared methods {missing}, "
                f"methods not in the service {unknown}"
            )
