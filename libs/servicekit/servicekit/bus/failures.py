"""Which failures of an event handler are worth waiting out, and which are the event's own.

A consumer whose database, broker or peer service is down cannot process anything, but the
events are fine: dead-lettering them would lose their effects for good. Such *transient*
failures are retried for as long as it takes (with a capped back-off, while readiness says
the dependency is down). A *permanent* failure is the event's own: it cannot be decoded, or
applying it breaks a rule of the domain. Only those go to the dead-letter subject; anything
unforeseen is retried a few times first, in case it was transient after all.
"""

from __future__ import annotations

from enum import Enum

import psycopg
from google.protobuf.message import DecodeError
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from servicekit.vocabulary import RateLimited, ServiceError, Unavailable


class Failure(Enum):
    TRANSIENT = "transient"  # the world is broken: wait and retry, never dead-letter
    PERMANENT = "permanent"  # the event is: dead-letter at once
    UNKNOWN = "unknown"  # a bug or a surprise: retry a few times, then dead-letter


# SQLSTATE classes that mean "try again later", not "this statement is wrong":
# 08 connection exception, 40 transaction rollback (serialization, deadlock), 53 insufficient
# resources, 57 operator intervention (admin shutdown, cannot connect now), 58 system error.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")


def _sqlstate(exc: BaseException) -> str | None:
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(original, "sqlstate", None)


def classify(exc: BaseException) -> Failure:
    """The kind of a handler's failure (see the module docstring)."""
    if isinstance(exc, (Unavailable, RateLimited)):
        return Failure.TRANSIENT
    if isinstance(exc, ServiceError):
        return Failure.PERMANENT  # a rule of the domain said no: retrying says no again
    if isinstance(exc, (DecodeError, UnicodeDecodeError)):
        return Failure.PERMANENT
    if isinstance(exc, (OSError, TimeoutError, ConnectionError, PoolTimeout, DisconnectionError)):
        return Failure.TRANSIENT
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Failure.TRANSIENT
    state = _sqlstate(exc)
    if state is not None and state[:2] in _TRANSIENT_SQLSTATE_CLASSES:
        return Failure.TRANSIENT
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(original, (psycopg.OperationalError, psycopg.InterfaceError)):
        return Failure.TRANSIENT  # no SQLSTATE: the server could not be reached at all
    return Failure.UNKNOWN
