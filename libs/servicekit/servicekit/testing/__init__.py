"""Test support: real servers (configured or embedded) and isolated databases and streams."""

from servicekit.testing.databases import DatabaseFactory
from servicekit.testing.tokens import TokenIssuer

__all__ = ["DatabaseFactory", "TokenIssuer"]
