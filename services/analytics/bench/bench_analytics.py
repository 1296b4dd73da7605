"""Benchmarks (printed figures; they pass or fail on correctness only):

1. Ingestion from the bus, end to end: N tour events (five steps per tour) already in
   JetStream (published beforehand, 200 awaiting their acks at a time, not measured), from
   the consumers' start (their creation included) until every consumer has acknowledged
   everything, recorded with inbox rows, raw rows and every count: the drain of a backlog.
   Events per second over the whole drain, and over its last nine tenths (the steady rate,
   without the consumers' creation and first fetches), and this process's CPU per event (user and
   kernel; PostgreSQL's and NATS's are not in it, the wait's polling of JetStream is).
2. `User.dashboard` through the subgraph for a realtor with `ANALYTICS_BENCH_MINE` events in
   range among `ANALYTICS_BENCH_TOTAL` in all; p50 and p95, and CPU per request in this
   process. The events are loaded in bulk (raw rows, their ids, then the tours' first steps
   and the rollups counted from them, as migrations 0004 and 0007 do), not through the
   consumers. `platformStats` over the same 30 days, the same way.
3. Forwarding to the local Mixpanel server: events per second through the forwarder.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import resource
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from realty.scheduling.v1 import scheduling_pb2
from servicekit.auth import Role
from servicekit.testing.cpu import collected_as_served
from sqlalchemy import text

INGEST = int(os.environ.get("ANALYTICS_BENCH_INGEST", "10000"))
MINE = int(os.environ.get("ANALYTICS_BENCH_MINE", "100000"))
TOTAL = int(os.environ.get("ANALYTICS_BENCH_TOTAL", "5000000"))
PROFILE = os.environ.get("ANALYTICS_BENCH_PROFILE")  # a file for cProfile's stats of ingestion
FORWARD = int(os.environ.get("ANALYTICS_BENCH_FORWARD", "10000"))
START = datetime(2027, 2, 1, 5, 0, tzinfo=UTC)
VERBS = ("requested", "confirmed", "started", "completed", "cancelled")
NAMES = ("Property View", "Tour Requested", "Tour Scheduled", "Tour Started", "Tour Completed",
         "Tour Cancelled", "Tour Declined")  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def backends_cpu(stack: Any) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving this database (from /proc: the
    server runs on this machine in the benchmarks); empty where it cannot be read."""
    rows = await stack.rows("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    tick = os.sysconf("SC_CLK_TCK")
    spent: dict[int, float] = {}
    for (pid,) in rows:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return spent


async def recorded(stack: Any, count: int) -> float:
    """Until the inbox holds `count` events. Polling JetStream alone (`consumed`) is what held
    ingestion back: the consumer info of a filtered durable counts its pending messages on
    every request (NATS 2.9's file store scans them), and twenty requests a second slowed the
    deliveries of the first half of the backlog to about a third (fetches waiting 0.3-0.9 s
    for their 500 messages, against none once fewer were pending).

    Returns when a tenth had been recorded: the steady rate is taken from there, past the
    consumers' creation and first fetches."""
    tenth: float | None = None
    while True:
        [(n,)] = await stack.rows("SELECT count(*) FROM inbox")
        if tenth is None and n >= count // 10:
            tenth = time.perf_counter()
        if n >= count:
            return tenth if tenth is not None else time.perf_counter()
        await asyncio.sleep(0.02)


async def bench_ingestion_from_the_bus(stack: Any) -> None:
    realtor, listing = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = Timestamp()
    stamp.FromDatetime(START)
    tour = scheduling_pb2.Tour()
    sending = []
    published = time.perf_counter()
    for i in range(INGEST):
        if i % len(VERBS) == 0:
            tour = scheduling_pb2.Tour(id=str(uuid.uuid4()), listing_id=listing,
                                       buyer_id=str(uuid.uuid4()), realtor_id=realtor,
                                       starts_at=stamp, ends_at=stamp)  # fmt: skip
        verb = VERBS[i % len(VERBS)]
        sending.append(stack.publish(f"scheduling.tour.{verb}",
                                     scheduling_pb2.TourChanged(tour=tour),
                                     at=START + timedelta(seconds=i)))  # fmt: skip
        if len(sending) == 200 or i == INGEST - 1:  # 200 awaiting their acks at a time
            await asyncio.gather(*sending)
            sending = []
    published = time.perf_counter() - published
    profile = cProfile.Profile() if PROFILE else None
    backends = await backends_cpu(stack)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    began, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    # The cyclic collector as the service process runs it (servicekit.collector).
    with collected_as_served(stack.parts.infra.settings.gc_young_threshold):
        stack.start_consumers()
        tenth = await recorded(stack, INGEST)
        steady = time.perf_counter() - tenth
        await stack.consumed(timeout=600)
    elapsed, spent = time.perf_counter() - began, time.process_time() - cpu
    used = resource.getrusage(resource.RUSAGE_SELF)
    user, system = used.ru_utime - usage.ru_utime, used.ru_stime - usage.ru_stime
    database = sum(t - backends.get(pid, 0.0) for pid, t in (await backends_cpu(stack)).items())
    if profile is not None:
        profile.disable()
        profile.dump_stats(PROFILE)
    [(count,)] = await stack.rows("SELECT count(*) FROM events")
    assert count == INGEST
    [(steps,)] = await stack.rows("SELECT sum(n) FROM realtor_days")
    assert steps == INGEST  # every step of every tour counted once
    print(
        f"\ningestion: {INGEST} events from the bus in {elapsed:.2f} s = {INGEST / elapsed:,.0f}/s"
        f" (steady, past the first tenth: {(INGEST - INGEST // 10) / steady:,.0f}/s)"
        f" (this process: {spent * 1e6 / INGEST:.0f} us CPU per event, of which"
        f" {system * 1e6 / INGEST:.0f} us in the kernel; {user * 1e6 / INGEST:.0f} us user);"
        f" PostgreSQL's backends: {database * 1e6 / INGEST:.0f} us CPU per event (those still"
        f" connected at the end); published beforehand in {published:.1f} s ({INGEST / published:,.0f}/s), not measured;"
        f" load average {os.getloadavg()[0]:.1f}"
    )


async def bench_dashboard(stack: Any) -> None:
    realtor = uuid.uuid4()
    listings = [uuid.uuid4() for _ in range(20)]
    began = time.perf_counter()
    async with stack.db.engine.begin() as conn:
        # Seven events per tour (its steps one minute apart), 20 listings, over 30 days.
        insert = text(
            """INSERT INTO events (id, name, occurred_at, received_at, source, realtor_id,
                                   listing_id, tour_id, properties)
               SELECT gen_random_uuid(), (CAST(:names AS text[]))[1 + (n % 7)],
                      :start + (n / 7) * (2592000 / greatest(CAST(:count AS bigint) / 7, 1))
                                 * interval '1 second' + (n % 7) * interval '1 minute',
                      now(), 'bench',
                      CASE WHEN :mine THEN CAST(:realtor AS uuid)
                           ELSE md5('r' || (n / 70))::uuid END,
                      (CAST(:listings AS uuid[]))[1 + (n / 7 % 20)],
                      md5(CAST(:realtor AS text) || :mine || (n / 7))::uuid, '{}'::jsonb
               FROM generate_series(1, :count) AS n"""
        )
        names = list(NAMES)
        await conn.execute(insert, {"names": names, "start": START, "mine": True,
                                    "realtor": realtor, "listings": listings, "count": MINE})  # fmt: skip
        await conn.execute(insert, {"names": names, "start": START - timedelta(days=60),
                                    "mine": False, "realtor": realtor, "listings": listings,
                                    "count": max(TOTAL - MINE, 0)})  # fmt: skip
        await conn.execute(text("INSERT INTO event_keys SELECT id, occurred_at FROM events"))
        await conn.execute(
            text(
                """INSERT INTO tour_steps (tour_id, name, occurred_at, day, realtor_id,
                                          listing_id, reason)
                   SELECT DISTINCT ON (tour_id, name) tour_id, name, occurred_at,
                          (occurred_at AT TIME ZONE 'UTC')::date, realtor_id, listing_id, ''
                   FROM events WHERE name <> 'Property View'
                   ORDER BY tour_id, name, occurred_at"""
            )
        )
        await conn.execute(
            text(
                """UPDATE tour_steps r SET took_seconds = extract(epoch FROM a.at - r.occurred_at)
                   FROM (SELECT tour_id, min(occurred_at) AS at FROM tour_steps
                         WHERE name IN ('Tour Scheduled', 'Tour Declined') GROUP BY tour_id) a
                   WHERE r.name = 'Tour Requested' AND a.tour_id = r.tour_id"""
            )
        )
        await conn.execute(
            text(
                """UPDATE tour_steps c
                   SET took_seconds = extract(epoch FROM c.occurred_at - s.occurred_at)
                   FROM tour_steps s
                   WHERE c.name = 'Tour Completed' AND s.name = 'Tour Started'
                     AND s.tour_id = c.tour_id AND c.occurred_at >= s.occurred_at"""
            )
        )
        await conn.execute(
            text(
                """INSERT INTO rollups (realtor_id, day, listing_id, name, reason, n)
                   SELECT realtor_id, (occurred_at AT TIME ZONE 'UTC')::date, listing_id, name,
                          '', count(*) FROM events WHERE name = 'Property View' GROUP BY 1, 2, 3, 4
                   UNION ALL
                   SELECT realtor_id, day, listing_id, name, reason, count(*) FROM tour_steps
                   GROUP BY 1, 2, 3, 4, 5"""
            )
        )
        await conn.execute(
            text(
                """INSERT INTO realtor_days (realtor_id, day, name, reason, n)
                   SELECT realtor_id, day, name, reason, sum(n) FROM rollups GROUP BY 1, 2, 3, 4"""
            )
        )
        await conn.execute(
            text(
                """INSERT INTO platform_days (day, name, reason, n)
                   SELECT (occurred_at AT TIME ZONE 'UTC')::date, name, '', count(*) FROM events
                   WHERE name = 'Property View' GROUP BY 1, 2
                   UNION ALL
                   SELECT (occurred_at AT TIME ZONE 'UTC')::date, name, reason, count(*)
                   FROM tour_steps GROUP BY 1, 2, 3"""
            )
        )
        await conn.execute(
            text(
                """INSERT INTO platform_actives (day, role, user_id)
                   SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date, 'realtor', realtor_id
                   FROM events WHERE realtor_id IS NOT NULL"""
            )
        )
    # As autovacuum leaves a settled table: statistics, and the visibility map that lets the
    # timings' scan of tour_steps stay in the index.
    async with stack.db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("events", "event_keys", "tour_steps", "rollups", "realtor_days",
                      "platform_days", "platform_actives"):  # fmt: skip
            await conn.execute(text(f"VACUUM ANALYZE {table}"))
    print(f"\ndashboard: {TOTAL} events loaded in {time.perf_counter() - began:.1f} s")
    query = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
      _entities(representations: [{__typename: "User", id: $id}]) { ... on User {
        dashboard(from: $from, to: $to) { current { funnel { count } medianResponseMinutes }
          previous { funnel { count } } listings { counts { views } } daily { date } } } } }"""
    variables = {"id": str(realtor), "from": START.isoformat(),
                 "to": (START + timedelta(days=30)).isoformat()}  # fmt: skip
    times = []
    cpu = time.process_time()
    for _ in range(30):
        began = time.perf_counter()
        body = await stack.gql(query, variables, user=realtor, role=Role.REALTOR)
        times.append((time.perf_counter() - began) * 1000)
        assert not body.get("errors"), body
    spent = (time.process_time() - cpu) * 1000 / 30
    queries = stack.parts.reports.queries
    reads: list[float] = []
    end = START + timedelta(days=30)
    period, before = (START, end), (START - timedelta(days=30), START)
    for _ in range(10):
        began = time.perf_counter()
        await queries.board(realtor, period, before)
        reads.append((time.perf_counter() - began) * 1000)
    print(f"dashboard's one read (both periods): p50 {statistics.median(reads):.1f} ms")
    funnel = body["data"]["_entities"][0]["dashboard"]["current"]["funnel"]
    assert funnel[0]["count"] > 0 and funnel[1]["count"] > 0, funnel
    print(f"dashboard over {MINE} events of {TOTAL}: p50 {statistics.median(times):.0f} ms, "
          f"p95 {percentile(times, 0.95):.0f} ms, {spent:.1f} ms CPU per request in process")  # fmt: skip
    platform = """query($from: DateTime!, $to: DateTime!) { platformStats(from: $from, to: $to) {
      figures { funnel { count } medianResponseMinutes } activeRealtors toursPerDay { count } } }"""
    times = []
    cpu = time.process_time()
    for _ in range(30):
        began = time.perf_counter()
        body = await stack.gql(platform, variables, user=uuid.uuid4(), role=Role.ADMIN)
        times.append((time.perf_counter() - began) * 1000)
        assert not body.get("errors"), body
    spent = (time.process_time() - cpu) * 1000 / 30
    assert body["data"]["platformStats"]["activeRealtors"] > 0, body
    print(f"platformStats over 30 days of {TOTAL}: p50 {statistics.median(times):.0f} ms, "
          f"p95 {percentile(times, 0.95):.0f} ms, {spent:.1f} ms CPU per request in process")  # fmt: skip


async def bench_forwarding_to_mixpanel(forwarding: Any) -> None:
    stack, apis = forwarding
    async with stack.db.engine.begin() as conn:
        await conn.execute(
            text(
                """WITH made AS (
                     INSERT INTO events (id, name, occurred_at, received_at, source, user_id,
                                         properties)
                     SELECT gen_random_uuid(), 'Feedback', :at, :at, 'client', gen_random_uuid(),
                            '{"page": "/"}'::jsonb FROM generate_series(1, :count)
                     RETURNING id, occurred_at),
                   keys AS (INSERT INTO event_keys SELECT id, occurred_at FROM made)
                   INSERT INTO deliveries (destination, event_id, due_at)
                   SELECT 'mixpanel', id, :at FROM made"""
            ),
            {"at": stack.clock(), "count": FORWARD},
        )
    mixpanel = next(f for f in stack.parts.forwarders if f.destination.name == "mixpanel")
    mixpanel.destination.batch = 2000
    began = time.perf_counter()
    while await mixpanel.run_once():
        pass
    elapsed = time.perf_counter() - began
    assert len(apis.mixpanel.imported) == FORWARD
    print(f"\nforwarding: {FORWARD} events to the local Mixpanel in {elapsed:.2f} s = "
          f"{FORWARD / elapsed:,.0f}/s")  # fmt: skip
