"""Domain events over NATS JetStream: outbox relay, streams, consumers with an inbox."""

from servicekit.bus.connection import Bus
from servicekit.bus.consumer import ConsumerRunner, Subscription
from servicekit.bus.events import Event
from servicekit.bus.relay import OutboxRelay
from servicekit.bus.retention import BusRetention
from servicekit.tables import create_bus_tables, drop_bus_tables

__all__ = [
    "Bus",
    "BusRetention",
    "ConsumerRunner",
    "Event",
    "OutboxRelay",
    "Subscription",
    "create_bus_tables",
    "drop_bus_tables",
]
