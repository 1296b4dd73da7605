"""`IDENTITY_PROCESSES=2`: two processes answer on one port; one of them runs the relay."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from identity.app import MIGRATIONS_DIR
from servicekit.embedded import free_port
from servicekit.mail import MailCatcher
from servicekit.testing import DatabaseFactory

from .conftest import PASSWORD

REGISTER = """mutation($i: RegisterInput!) { register(input: $i) { accessToken } }"""


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


@pytest.fixture
def two_processes(
    database_factory: DatabaseFactory, mail_catcher: MailCatcher, nats_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    # A loop of its own: an earlier test's asyncio.run() leaves the main thread without one.
    loop = asyncio.new_event_loop()
    try:
        url = loop.run_until_complete(database_factory.create(MIGRATIONS_DIR))
    finally:
        loop.close()
    port = free_port()
    env = {
        **os.environ,
        "IDENTITY_DATABASE_URL": url,
        "IDENTITY_HTTP_PORT": str(port),
        "IDENTITY_GRPC_PORT": str(free_port()),
        "IDENTITY_PROCESSES": "2",
        "IDENTITY_ARGON2_MEMORY_COST": "8",
        "IDENTITY_ARGON2_TIME_COST": "1",
        "NATS_URL": nats_url,
        "SMTP_PORT": str(mail_catcher.port),
        "REALTY_BUS_NAMESPACE": f"procs{port}",
    }
    process = subprocess.Popen([sys.executable, "-m", "identity"], env=env)
    try:
        yield process, f"http://127.0.0.1:{port}", url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def leadership_sessions(url: str) -> tuple[int, int]:
    """(leadership connections open, advisory locks granted) on the service's database."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        row = conn.execute(
            """SELECT count(*),
                      count(*) FILTER (WHERE EXISTS (
                        SELECT 1 FROM pg_locks l WHERE l.pid = a.pid
                        AND l.locktype = 'advisory' AND l.granted))
               FROM pg_stat_activity a
               WHERE datname = current_database()
               AND application_name LIKE 'identity leadership%'"""
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_two_processes_share_the_port_and_elect_one_relay(
    two_processes: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    process, base, url = two_processes
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if children(process.pid) and leadership_sessions(url)[0] == 2:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    assert len(children(process.pid)) == 1  # the first process started one sibling
    assert leadership_sessions(url) == (2, 1)  # two candidates, one leader

    for i in range(8):  # fresh connections, spread over both processes by the kernel
        body = httpx.post(
            f"{base}/graphql",
            json={
                "query": REGISTER,
                "variables": {
                    "i": {
                        "email": f"p{i}@example.com",
                        "password": PASSWORD,
                        "displayName": "P",
                        "role": "BUYER",
                        "timeZone": "UTC",
                    }
                },
            },
            timeout=30,
        ).json()
        assert body["data"]["register"]["accessToken"], body

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ).fetchone()
            if waiting is not None and waiting[0] == 0:
                break
            time.sleep(0.1)
        total = conn.execute("SELECT count(*) FROM outbox").fetchone()
        holders = conn.execute(
            """SELECT a.application_name FROM pg_stat_activity a JOIN pg_locks l
               ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
               WHERE a.datname = current_database()
               AND (a.application_name LIKE 'identity leadership%'
                    OR a.application_name LIKE 'identity outbox relay%')"""
        ).fetchall()
    assert waiting is not None and waiting[0] == 0 and total is not None and total[0] >= 8
    # One relay, in the leading process: both locks are held by connections of the same pid.
    leader_pids = {name.rsplit("pid=", 1)[1] for (name,) in holders}
    assert len(holders) == 2 and len(leader_pids) == 1, holders
