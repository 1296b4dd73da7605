"""The bulk puller returns a durable's messages in stream order, a batch at most at a time,
none lost between batches, and waits for messages when there are none."""

from __future__ import annotations

from nats.js.api import AckPolicy, ConsumerConfig
from servicekit.bus import Bus
from servicekit.bus.pulls import Puller


async def durable(bus: Bus, name: str) -> str:
    js = await bus.connect()
    stream = await bus.ensure_stream_for("demo.item.changed")
    await js.add_consumer(stream, config=ConsumerConfig(
        durable_name=name, filter_subject=bus.subject("demo.item.>"),
        ack_policy=AckPolicy.ALL))  # fmt: skip
    return stream


async def test_batches_come_in_stream_order_and_none_is_lost(bus: Bus) -> None:
    stream = await durable(bus, "pulled")
    for i in range(25):
        await bus.publish("demo.item.changed", str(i).encode(), msg_id=f"m{i}")
    puller = Puller(bus.nc, stream, "pulled")
    await puller.start()
    try:
        batches = [await puller.fetch(10, timeout=2.0) for _ in range(3)]
        assert [len(b) for b in batches] == [10, 10, 5]
        assert [int(m.data) for b in batches for m in b] == list(range(25))
        await batches[-1][-1].ack()  # acknowledges all 25
        assert await puller.fetch(10, timeout=0.2) == []
    finally:
        await puller.stop()
    info = await (await bus.connect()).consumer_info(stream, "pulled")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_fetch_waits_for_what_is_published_while_it_waits(bus: Bus) -> None:
    stream = await durable(bus, "waiting")
    puller = Puller(bus.nc, stream, "waiting")
    await puller.start()
    try:
        assert await puller.fetch(10, timeout=0.2) == []  # nothing there: a waiting pull
        await bus.publish("demo.item.changed", b"late", msg_id="late")
        got = await puller.fetch(10, timeout=5.0)
        assert [m.data for m in got] == [b"late"]
    finally:
        await puller.stop()
