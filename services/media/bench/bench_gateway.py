"""`joinTour` through the gateway, as the stack runs (every service a process, the Chime SDK
emulator in this one): 50 people — a buyer and a realtor per tour — joining 25 confirmed
tours at once, then the same devices joining again. Prints p50/p95 and Chime calls per
join; fails only when a join fails. Target: p95 under 150 ms on this machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from tests.e2e.test_media_tour import JOIN, MediaStack, booked_tour, join_when_open, media
from tests.flows import post

TOURS = 25

__all__ = ["media"]  # the stack fixture, shared with the end-to-end test


async def _timed(client: httpx.AsyncClient, url: str, token: str, tour_id: str) -> float:
    began = time.perf_counter()
    body = await post(client, url, JOIN, token, t=tour_id)
    elapsed = time.perf_counter() - began
    assert "errors" not in body, body
    return elapsed


def _figures(name: str, seconds: list[float], calls: int) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    print(
        f"\n{name}: {len(ms)} joins, p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, "
        f"max {ms[-1]:.0f} ms, {calls / len(ms):.2f} Chime calls per join"
    )


async def bench_fifty_people_join_twenty_five_tours_through_the_gateway(
    media: MediaStack,
) -> None:
    url, chime = media.stack.graphql_url, media.chime
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        tours: list[tuple[str, str, str, str]] = []
        for _ in range(TOURS + 1):
            tours.append(await booked_tour(client, url))
        # The last tour's confirmation reaching media says the others' have too.
        probe = tours.pop()
        await join_when_open(client, url, probe[2], probe[0])

        def everyone() -> list[Any]:
            return [
                _timed(client, url, token, tour_id)
                for tour_id, realtor, buyer, _ in tours
                for token in (buyer, realtor)
            ]

        chime.reset_calls()
        first = await asyncio.gather(*everyone())
        _figures("first joins (25 meetings made)", list(first), sum(chime.calls().values()))
        chime.reset_calls()
        again = await asyncio.gather(*everyone())
        _figures("the same devices again", list(again), sum(chime.calls().values()))
