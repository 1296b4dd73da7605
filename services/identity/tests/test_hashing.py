"""Argon2 runs off the event loop, in the hasher's own threads, at most `workers` at once."""

from __future__ import annotations

import asyncio
import threading

from identity.passwords import Argon2Parameters, PasswordHasher

FAST = Argon2Parameters(memory_cost=8, time_cost=1, parallelism=1)


async def test_verifications_run_in_a_bounded_pool_of_their_own_threads() -> None:
    hasher = PasswordHasher(FAST, workers=2)
    stored = await hasher.hash("violet tractor sings at dawn")
    loop_thread = threading.get_ident()
    running, most, threads = 0, 0, set()
    guard = threading.Lock()
    release = threading.Event()

    def verify_and_hold() -> bool:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
            threads.add(threading.current_thread().name)
        release.wait(10)
        ok = hasher._verify(stored, "violet tractor sings at dawn")
        with guard:
            running -= 1
        return ok

    tasks = [asyncio.ensure_future(hasher._run(verify_and_hold)) for _ in range(6)]
    while most < 2:  # the loop keeps running while the hashes hold their threads
        await asyncio.sleep(0.001)
    release.set()
    assert all(await asyncio.gather(*tasks))
    assert most == 2 and all(name.startswith("argon2") for name in threads)
    assert loop_thread not in {t.ident for t in threading.enumerate() if t.name in threads}
    assert await hasher.verify(stored, "violet tractor sings at dawn")
    assert not await hasher.verify(stored, "wrong password entirely")
