"""Passwords: the acceptance policy (NIST SP 800-63B in spirit) and Argon2id hashing.

The policy checks length (in Unicode characters after NFKC normalisation), refuses the
most common breached passwords (the bundled list of `breached.py`), refuses anything built
on the email's name, and requires a minimum zxcvbn strength score. There are no composition
rules. The online breach check (the range API, when configured) is the use cases' step
after this one, being a network call.

Hashing runs in the hasher's own worker threads (argon2 releases the GIL), never on the
event loop, and at most `workers` at a time — by default one core fewer than the process
may use (at least one): fifty sign-ins at once queue for those threads while the loop keeps
a core for every other request, whose latency a burst of logins must not raise. The pool
is the hasher's own, so a queue of hashes never holds up other `to_thread` work, and
`admission` lets only a few sign-ins into their transaction at once, so the others queue
without holding a database connection (fifty at once would otherwise empty the pool).
`verify_dummy` spends the same effort when no account matches, so a failed login takes the
same time whether the email is known or not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from servicekit.threads import started_pool
from servicekit.vocabulary import BadUserInput
from zxcvbn import zxcvbn

from identity.breached import BreachedList

ZXCVBN_MAX_LENGTH = 72  # the estimator's own input limit; longer passwords are judged by their head
T = TypeVar("T")


@cache
def bundled_breached() -> BreachedList:
    """The bundled breached-password list, read once per process."""
    return BreachedList.bundled()


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = 256
    min_score: int = 3
    breached: BreachedList = dataclasses.field(default_factory=bundled_breached, repr=False)

    def check(
        self,
        password: str,
        *,
        email: str | None,
        hints: tuple[str, ...] = (),
        field: str = "password",
    ) -> str:
        """The normalised password, or BAD_USER_INPUT naming the input `field` and saying
        what is wrong with it."""
        value = unicodedata.normalize("NFKC", password)
        if len(value) < self.min_length:
            raise _weak(f"password must be at least {self.min_length} characters", field)
        if len(value) > self.max_length:
            raise _weak(f"password must be at most {self.max_length} characters", field)
        lowered = value.lower()
        if value in self.breached:
            raise breached_password(field)
        inputs = [h for h in hints if h]
        if email:
            name = email.split("@", 1)[0].lower()
            inputs += [email, name]
            if lowered == email.lower() or (len(name) >= 3 and name in lowered):
                raise _weak("password must not contain your email address", field)
        result = zxcvbn(value[:ZXCVBN_MAX_LENGTH], user_inputs=inputs)
        if int(result["score"]) < self.min_score:
            feedback = result.get("feedback") or {}
            reason = str(feedback.get("warning") or "password is too easy to guess")
            raise _weak(reason, field, suggestions=list(feedback.get("suggestions") or []))
        return value


def breached_password(field: str) -> BadUserInput:
    """A password seen in breaches: attackers try those first, whatever its strength."""
    return BadUserInput(
        "this password has appeared in a data breach; choose another",
        field=field,
        reason="BREACHED_PASSWORD",
    )


def _weak(message: str, field: str, **details: object) -> BadUserInput:
    return BadUserInput(message, field=field, reason="WEAK_PASSWORD", **details)


@dataclass(frozen=True)
class Argon2Parameters:
    memory_cost: int  # KiB
    time_cost: int
    parallelism: int

    def describe(self) -> str:
        return f"argon2id m={self.memory_cost}KiB t={self.time_cost} p={self.parallelism}"


def default_workers() -> int:
    """Hashing threads: the cores this process may use but one, and at least one."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


class PasswordHasher:
    """Argon2id with configured parameters; tells when a stored hash should be upgraded."""

    def __init__(self, params: Argon2Parameters, *, workers: int | None = None) -> None:
        self.params = params
        self.workers = workers or default_workers()
        self._pool = started_pool(self.workers, "argon2")
        # Sign-ins let in at once: each holds a database connection and row locks while
        # its hash waits, so the rest wait here, holding nothing.
        self.admission = asyncio.Semaphore(2 * self.workers)
        self._hasher = Argon2Hasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            type=Type.ID,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash("a password nobody has, to spend the same effort")

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches; with no stored hash, spends the same time and fails."""
        if stored is None:
            await self.verify_dummy(password)
            return False
        return await self._run(lambda: self._verify(stored, password))

    async def verify_dummy(self, password: str) -> None:
        await self._run(lambda: self._verify(self._dummy_hash, password))

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
