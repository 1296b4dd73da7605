"""Test support: real servers (configured or embedded) and isolated databases and streams."""

from servicekit.testing.databases import DatabaseFactory

__all__ = ["DatabaseFactory"]
