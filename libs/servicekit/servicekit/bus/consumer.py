"""Durable JetStream consumers whose effects happen exactly once.

For each delivery the runner opens a unit of work, records the event id in the inbox and
runs the handler in that same transaction, commits, then acks. A redelivered event finds its
id in the inbox and is acked without running the handler again. A handler that fails is
retried with growing delays; after `max_deliver` attempts the event goes to the dead-letter
subject `dlq.<service>.<durable>` with the error, and is acked so the stream moves on.

A batched subscription may acknowledge cumulatively (`ack_through`): one ack for a whole
fetched batch. An ack then also acknowledges every earlier message, so a failing event is
retried in place, holding the events after it, until it is handled or dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import FetchTimeoutError, NotFoundError
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Link, SpanKind
from prometheus_client import Counter
from realty.events.v1.envelope_pb2 import Envelope

from servicekit.bus.connection import Bus
from servicekit.bus.events import Event
from servicekit.bus.failures import Failure, classify
from servicekit.bus.pulls import Puller
from servicekit.db import Database, UnitOfWork
from servicekit.telemetry import context_from_headers, tracer

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter(
    "realty_dead_letters_total",
    "Events a consumer gave up on and sent to its dead-letter subject.",
    ["service", "consumer"],
)
TRANSIENT_FAILURES = Counter(
    "realty_consumer_transient_failures_total",
    "Deliveries that failed because a dependency was down (retried, never dead-lettered).",
    ["service", "consumer"],
)

Handler = Callable[[Event, UnitOfWork], Awaitable[None]]
BatchHandler = Callable[[list[Event], UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """`handler` runs for every event on `subject` (a logical subject, wildcards allowed)."""

    subject: str
    handler: Handler
    durable: str
    max_deliver: int = 5  # attempts for an unforeseen error before it is dead-lettered
    backoff: Sequence[float] = field(default=(0.5, 2.0, 10.0, 30.0, 60.0))  # last one is the cap
    ack_wait: float = 30.0
    # The handler may share one transaction with the other events of a fetched batch: it
    # writes only through the unit of work it is given and keeps no state between events.
    batched: bool = False
    # A batched subscription may also take a fetched batch whole: the events seen for the
    # first time, in stream order, in one call (whole-batch statements instead of one round
    # trip per event); `handler` still meets a redelivered event alone.
    batch_handler: BatchHandler | None = None
    fetch: int | None = None  # messages per fetch; the runner's `batch` when None
    # A batched subscription may be acknowledged a batch at a time (AckPolicy.ALL, one ack
    # for the batch's last message), pulled in bulk (servicekit.bus.pulls). Its durable is
    # `<service>-<durable>-through` (JetStream cannot change an existing durable's ack
    # policy): it takes over from the explicit one at its ack floor, which is then deleted.
    # A failing event is retried in place, after `backoff`, the events after it waiting.
    ack_through: bool = False
    # With `ack_through`: this many later batches are recorded (each in its own transaction)
    # while one commits and is acknowledged, so the handler's statements and this process's
    # work overlap. Only for a handler whose batches may commit in any order, which waits on
    # rows or locks that another batch holds rather than reading around them.
    overlap: int = 0


# The consumer's hottest statement, sent as is (no SQL compilation per event).
_RECORD_IN_INBOX = (
    "INSERT INTO inbox (consumer, event_id, subject) VALUES (%s, %s, %s) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
# The same for a batch: the ids returned are those seen for the first time.
_RECORD_BATCH_IN_INBOX = (
    "INSERT INTO inbox (consumer, event_id, subject) "
    "SELECT %s, id, subject FROM unnest(%s::uuid[], %s::text[]) AS fresh (id, subject) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


def _array(values: Iterable[str]) -> str:
    """Values as one array literal, each quoted: a batch's ids and subjects as one parameter
    instead of psycopg's list dumper, which dumps each element on its own."""
    return (
        "{"
        + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        + "}"
    )


# Tokens of a JetStream ack subject in its first form ($JS.ACK.<stream>.<consumer>.<delivered>
# ...); the later one adds the domain and account, and its count of deliveries is elsewhere.
_FIRST_FORM_TOKENS = 9


def _redelivered(msg: Msg) -> bool:
    """Whether JetStream delivered the message before, read from its ack subject alone (nats'
    `metadata` parses every field into objects: about 6% of a batch's CPU, profiled)."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) < _FIRST_FORM_TOKENS:
        return False
    at = 4 if len(tokens) == _FIRST_FORM_TOKENS else Msg.Ack.NumDelivered
    return tokens[at] != "1"


def _ordering_key(msg: Msg) -> str:
    """The entity an event is about (envelope `subject_id`), read without a full decode."""
    try:
        return Envelope.FromString(msg.data).subject_id
    except DecodeError:
        return ""


class ConsumerRunner:
    """Runs every subscription of one service until cancelled."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        service: str,
        subscriptions: Sequence[Subscription],
        *,
        batch: int = 64,
    ) -> None:
        self.db = db
        self.bus = bus
        self.service = service
        self.subscriptions = list(subscriptions)
        self.batch = batch
        self.ready = asyncio.Event()
        # Subscriptions whose last delivery failed transiently (a dependency is down).
        self._waiting_out: dict[str, str] = {}
        self._logged_waiting: set[str] = set()

    async def healthy(self) -> bool:
        """Readiness: False while some subscription is waiting for a dependency to come back."""
        return not self._waiting_out

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._consume(sub)) for sub in self.subscriptions]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _consume(self, sub: Subscription) -> None:
        if sub.ack_through:
            await self._consume_through(sub)
            return
        js = await self.bus.connect()
        stream = await self.bus.ensure_stream_for(sub.subject)
        await self.bus.ensure_dlq_stream()
        durable = f"{self.service}-{sub.durable}"
        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=self.bus.subject(sub.subject),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=sub.ack_wait,
            # Unlimited: a transient failure is redelivered for as long as it takes; the
            # runner itself dead-letters what is permanent.
            max_deliver=-1,
            max_ack_pending=1000,
        )
        await js.add_consumer(stream, config=config)  # creates, or updates an older config
        psub = await js.pull_subscribe(
            self.bus.subject(sub.subject), durable=durable, stream=stream, config=config
        )
        self.ready.set()
        try:
            while True:
                try:
                    messages = await psub.fetch(sub.fetch or self.batch, timeout=1.0)
                except (FetchTimeoutError, TimeoutError):
                    continue
                await self._deliver_batch(sub, messages)
        finally:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    async def _consume_through(self, sub: Subscription) -> None:
        """Pull in bulk from the cumulative durable, one ack per batch handled."""
        js = await self.bus.connect()
        stream = await self.bus.ensure_stream_for(sub.subject)
        await self.bus.ensure_dlq_stream()
        durable = await self._through_durable(js, stream, sub)
        puller = Puller(self.bus.nc, stream, durable)
        await puller.start()
        self.ready.set()
        # Batches being recorded and not yet settled (acknowledged, or delivered one at a
        # time), oldest first: at most `overlap` more than the one settled next.
        pending: deque[tuple[list[Msg], asyncio.Task[bool]]] = deque()
        try:
            while True:
                messages = await puller.fetch(sub.fetch or self.batch, timeout=1.0)
                if not messages:
                    while pending:
                        await self._settle(sub, *pending.popleft())
                    continue
                pending.append(
                    (messages, asyncio.create_task(self._record_together(sub, messages)))
                )
                while len(pending) > sub.overlap:
                    await self._settle(sub, *pending.popleft())  # while the later ones record
        finally:
            for _, recording in pending:
                recording.cancel()
            with contextlib.suppress(NatsError):  # the connection is closing with us
                await puller.stop()

    async def _settle(
        self, sub: Subscription, messages: list[Msg], recording: asyncio.Task[bool]
    ) -> None:
        """Acknowledge a batch recorded whole, or deliver its events one at a time in stream
        order (an ack covers every event before it). Batches are settled in stream order."""
        if await recording:
            await messages[-1].ack()  # acknowledges the batch whole
            return
        for msg in messages:
            await self._deliver_holding(sub, msg)

    async def _through_durable(self, js: JetStreamContext, stream: str, sub: Subscription) -> str:
        """The cumulative durable, created (or updated) as it is; when new, started where
        the explicit durable of the same subscription had acknowledged everything (what it
        had acked past its floor is delivered again and found in the inbox), which is then
        deleted."""
        explicit = f"{self.service}-{sub.durable}"
        durable = f"{explicit}-through"
        config = ConsumerConfig(
            durable_name=durable,
            filter_subject=self.bus.subject(sub.subject),
            ack_policy=AckPolicy.ALL,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=sub.ack_wait,
            max_deliver=-1,  # the runner dead-letters what is permanent
            # what is recorded, committing and arriving, with room to spare
            max_ack_pending=max(1000, (sub.overlap + 3) * (sub.fetch or self.batch)),
        )
        try:
            current = await js.consumer_info(stream, durable)
            config.deliver_policy = current.config.deliver_policy
            config.opt_start_seq = current.config.opt_start_seq
        except NotFoundError:
            try:
                before = await js.consumer_info(stream, explicit)
            except NotFoundError:
                before = None
            if before is not None:
                floor = before.ack_floor.stream_seq if before.ack_floor else 0
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = (floor or 0) + 1
        await js.add_consumer(stream, config=config)
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, explicit)
            log.info("%s took over from %s", durable, explicit)
        return durable

    async def _deliver_holding(self, sub: Subscription, msg: Msg) -> None:
        """One event of a cumulative durable, retried in place until it is handled or
        dead-lettered (its ack would acknowledge any earlier one, so none may be left
        pending). The message is kept from redelivery meanwhile (in progress)."""
        try:
            event = Event.from_envelope(msg.data)
        except Exception as exc:
            await self._dead_letter(sub, msg, f"undecodable envelope: {exc}")
            return
        attempt = msg.metadata.num_delivered if msg.metadata else 1
        while True:
            try:
                await self._handle_traced(sub, event)
            except Exception as exc:
                delay = self._retry_in(sub, event, exc, attempt)
                if delay is None:
                    await self._dead_letter(sub, msg, repr(exc))
                    return
                await self._hold(msg, delay, sub.ack_wait)
                attempt += 1
                continue
            self._back(sub)
            await msg.ack()
            return

    @staticmethod
    async def _hold(msg: Msg, delay: float, ack_wait: float) -> None:
        """Wait `delay`, telling JetStream the message is still being worked on."""
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        while (left := until - loop.time()) > 0:
            await asyncio.sleep(min(left, ack_wait / 3))
            await msg.in_progress()

    async def _deliver_batch(self, sub: Subscription, messages: list[Msg]) -> None:
        """Handle a batch: in one transaction when the subscription allows it and it works;
        else entities concurrently, each entity's events in stream order."""
        if sub.batched and len(messages) > 1 and await self._deliver_together(sub, messages):
            return
        chains: dict[str, list[Msg]] = defaultdict(list)
        for msg in messages:
            chains[_ordering_key(msg)].append(msg)

        async def in_order(chain: list[Msg]) -> None:
            for msg in chain:
                await self._deliver(sub, msg)

        await asyncio.gather(*(in_order(chain) for chain in chains.values()))

    async def _deliver(self, sub: Subscription, msg: Msg) -> None:
        try:
            event = Event.from_envelope(msg.data)
        except Exception as exc:
            await self._dead_letter(sub, msg, f"undecodable envelope: {exc}")
            return
        try:
            await self._handle_traced(sub, event)
        except Exception as exc:
            await self._failed(sub, msg, event, exc)
            return
        self._back(sub)
        await msg.ack()

    async def _handle_traced(self, sub: Subscription, event: Event) -> None:
        """`_handle` in a consumer span, the child of the span that published the event."""
        parent = context_from_headers(
            {"traceparent": event.traceparent, "tracestate": event.tracestate}
        )
        token = otel_context.attach(parent)
        try:
            with tracer("servicekit.bus").start_as_current_span(
                f"consume {event.subject}", kind=SpanKind.CONSUMER
            ) as span:
                span.set_attribute("messaging.message.id", str(event.id))
                span.set_attribute("messaging.consumer.group.name", sub.durable)
                await self._handle(sub, event)
        finally:
            otel_context.detach(token)

    def _back(self, sub: Subscription) -> None:
        """A delivery went through: the subscription's dependencies are back, if they were out."""
        if self._waiting_out.pop(sub.durable, None) is not None:
            self._logged_waiting.discard(sub.durable)
            log.info("%s: its dependencies are back", sub.durable)

    async def _deliver_together(self, sub: Subscription, messages: list[Msg]) -> bool:
        """Record the batch in one transaction, in stream order; True when it was (and every
        message is acked). False, with nothing recorded, when it has to go one at a time."""
        if not await self._record_together(sub, messages):
            return False
        for msg in messages:
            await msg.ack()
        return True

    async def _record_together(self, sub: Subscription, messages: list[Msg]) -> bool:
        """Record the batch in one transaction, in stream order; True when it was. False,
        with nothing recorded, when it has to go one at a time."""
        if len(messages) < 2:
            return False
        if any(_redelivered(msg) for msg in messages):
            return False  # a redelivery: something failed before, let each event meet it alone
        try:
            events = [Event.from_envelope(msg.data) for msg in messages]
        except Exception:
            return False  # the undecodable one is dead-lettered on the one-at-a-time path
        links = []
        for event in events:
            carried = context_from_headers(
                {"traceparent": event.traceparent, "tracestate": event.tracestate}
            )
            span_context = otel_trace.get_current_span(carried).get_span_context()
            if span_context.is_valid:
                links.append(Link(span_context))
        try:
            with tracer("servicekit.bus").start_as_current_span(
                f"consume {sub.subject} batch", kind=SpanKind.CONSUMER, links=links
            ) as span:
                span.set_attribute("messaging.batch.message_count", len(events))
                span.set_attribute("messaging.consumer.group.name", sub.durable)
                await self._handle_together(sub, events)
        except Exception as exc:
            log.info(
                "%s: a batch of %d failed (%s); delivering it one event at a time",
                sub.durable,
                len(events),
                str(exc)[:300],
            )
            return False
        self._back(sub)
        return True

    async def _handle_together(self, sub: Subscription, events: list[Event]) -> None:
        async with self.db.uow() as uow:
            connection = await uow.session.connection()
            found = await connection.exec_driver_sql(
                _RECORD_BATCH_IN_INBOX,
                (sub.durable, _array(str(e.id) for e in events), _array(e.subject for e in events)),
            )
            fresh = {row[0] for row in found}
            first: list[Event] = []
            for event in events:
                if event.id not in fresh:
                    log.debug("event %s already processed by %s", event.id, sub.durable)
                    continue
                fresh.discard(event.id)  # the same event twice in one batch runs once
                first.append(event)
            if sub.batch_handler is not None:
                if first:
                    await sub.batch_handler(first, uow)
                    uow.collect_events()
            else:
                for event in first:
                    uow.actor = event.actor  # what the handler emits is attributed to it
                    await sub.handler(event, uow)
                    uow.collect_events()
            uow.actor = None
            await uow.commit()

    async def _failed(self, sub: Subscription, msg: Msg, event: Event, exc: Exception) -> None:
        attempt = msg.metadata.num_delivered if msg.metadata else 1
        delay = self._retry_in(sub, event, exc, attempt)
        if delay is None:
            await self._dead_letter(sub, msg, repr(exc))
            return
        await msg.nak(delay=delay)

    def _retry_in(
        self, sub: Subscription, event: Event, exc: Exception, attempt: int
    ) -> float | None:
        """Seconds until a failed event is tried again, logged and counted as its kind of
        failure is; None when it is to be dead-lettered."""
        kind = classify(exc)
        if kind is Failure.PERMANENT or (kind is Failure.UNKNOWN and attempt >= sub.max_deliver):
            self._waiting_out.pop(sub.durable, None)
            log.error(
                "event %s refused (%s, attempt %d); dead-lettered: %r",
                event.id,
                kind.value,
                attempt,
                exc,
            )
            return None
        delay = sub.backoff[min(attempt - 1, len(sub.backoff) - 1)]
        if kind is Failure.TRANSIENT:
            TRANSIENT_FAILURES.labels(self.service, sub.durable).inc()
            self._waiting_out[sub.durable] = str(exc)
            if sub.durable not in self._logged_waiting:
                self._logged_waiting.add(sub.durable)
                log.warning("%s waits for a dependency: %s", sub.durable, str(exc)[:300])
        else:
            log.warning(
                "event %s failed (attempt %d), retrying in %.1fs: %s",
                event.id,
                attempt,
                delay,
                str(exc)[:300],
            )
        return delay

    async def _handle(self, sub: Subscription, event: Event) -> None:
        async with self.db.uow(actor=event.actor) as uow:
            connection = await uow.session.connection()
            first_time = await connection.exec_driver_sql(
                _RECORD_IN_INBOX, (sub.durable, event.id, event.subject)
            )
            if first_time.first() is None:
                log.debug("event %s already processed by %s", event.id, sub.durable)
                return
            await sub.handler(event, uow)
            await uow.commit()

    async def _dead_letter(self, sub: Subscription, msg: Msg, error: str) -> None:
        js = await self.bus.connect()
        headers = dict(msg.headers or {})
        headers.pop("Nats-Msg-Id", None)
        headers.update(
            {
                "Realty-Original-Subject": msg.subject,
                "Realty-Error": error[:1000],
                "Realty-Consumer": sub.durable,
            }
        )
        await js.publish(self.bus.dlq_subject(self.service, sub.durable), msg.data, headers=headers)
        DEAD_LETTERS.labels(self.service, sub.durable).inc()
        await msg.ack()
