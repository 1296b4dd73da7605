"""Dead letters: list the events consumers gave up on, and replay them once fixed.

A dead letter keeps the original envelope untouched, with the subject it came from and the
error in its headers. Replaying publishes it again on its original subject (under a new
`Nats-Msg-Id`, so JetStream's duplicate window does not swallow it) and removes it from the
dead-letter stream. Every consumer of that subject sees it again; those that had processed
it find it in their inbox and skip it, so a replay does each effect at most once.

    python -m servicekit.bus.deadletters list [--service scheduling]
    python -m servicekit.bus.deadletters replay 12 13      # by sequence
    python -m servicekit.bus.deadletters replay --all [--service scheduling]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import datetime

from nats.js.errors import NotFoundError

from servicekit.bus.connection import Bus
from servicekit.bus.events import Event
from servicekit.settings import InfraSettings

_OWN_HEADERS = ("Realty-Original-Subject", "Realty-Error", "Realty-Consumer", "Nats-Msg-Id")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    seq: int
    service: str
    consumer: str
    original_subject: str
    error: str
    event_id: str
    event_type: str
    dead_since: datetime | None
    data: bytes
    headers: dict[str, str]


class DeadLetters:
    """The dead-letter stream of one bus namespace."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def list(self, service: str | None = None) -> list[DeadLetter]:
        """Every dead letter (of one service when named), oldest first."""
        js = await self.bus.connect()
        stream = await self.bus.ensure_dlq_stream()
        wanted = self.bus.subject(f"dlq.{service}.>" if service else "dlq.>")
        found: list[DeadLetter] = []
        seq = 1
        while True:
            try:
                raw = await js.get_msg(stream, seq=seq, subject=wanted, next=True)
            except NotFoundError:
                return found
            if raw.seq is None:
                return found
            found.append(
                self._read(raw.seq, raw.subject or "", raw.data or b"", raw.headers, raw.time)
            )
            seq = raw.seq + 1

    async def replay(self, letter: DeadLetter) -> None:
        """Publish the event again on its original subject, then drop the dead letter."""
        js = await self.bus.connect()
        stream = await self.bus.ensure_dlq_stream()
        headers = {k: v for k, v in letter.headers.items() if k not in _OWN_HEADERS}
        headers["Nats-Msg-Id"] = f"{letter.event_id}:replay:{letter.seq}"
        await js.publish(letter.original_subject, letter.data, headers=headers)
        await js.delete_msg(stream, letter.seq)

    def _read(
        self,
        seq: int,
        subject: str,
        data: bytes,
        headers: dict[str, str] | None,
        time: datetime | None,
    ) -> DeadLetter:
        headers = dict(headers or {})
        _, service, consumer = [*self.bus.logical(subject).split(".", 2), "", ""][:3]
        try:
            event = Event.from_envelope(data)
            event_id, event_type = str(event.id), event.type
        except Exception:  # an undecodable envelope is exactly what can end up here
            event_id, event_type = f"undecodable-{seq}", ""
        return DeadLetter(
            seq=seq,
            service=service,
            consumer=consumer,
            original_subject=headers.get("Realty-Original-Subject", ""),
            error=headers.get("Realty-Error", ""),
            event_id=event_id,
            event_type=event_type,
            dead_since=time,
            data=data,
            headers=headers,
        )


async def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.bus.deadletters")
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("seqs", nargs="*", type=int, help="sequences to replay")
    parser.add_argument("--service", help="only this service's consumers")
    parser.add_argument("--all", action="store_true", help="replay every listed dead letter")
    args = parser.parse_args(argv)
    settings = InfraSettings()
    bus = Bus(
        settings.nats_url,
        namespace=settings.bus_namespace,
        name="deadletters",
        replicas=settings.nats_stream_replicas,
    )
    letters = DeadLetters(bus)
    try:
        found = await letters.list(args.service)
        if args.command == "list":
            for d in found:
                print(
                    f"{d.seq}\t{d.service}/{d.consumer}\t{d.original_subject}\t{d.event_id}\t{d.error}"
                )
            print(f"{len(found)} dead letter(s)")
            return 0
        chosen = found if args.all else [d for d in found if d.seq in set(args.seqs)]
        if not chosen:
            print("nothing to replay (give sequences or --all)", file=sys.stderr)
            return 1
        for d in chosen:
            await letters.replay(d)
            print(f"replayed {d.seq} -> {d.original_subject}")
        return 0
    finally:
        await bus.close()


def main() -> None:
    raise SystemExit(asyncio.run(_main(sys.argv[1:])))


if __name__ == "__main__":
    main()
