"""Passwords known from breaches: a bundled list checked offline, and optionally Have I Been
Pwned's k-anonymity range API.

The bundled list is the 30 000 most common passwords of zxcvbn's frequency list (itself
ranked from leaked password corpora), stored as the sorted first 8 bytes of each entry's
SHA-1: 240 KB on disk and in memory, no password in clear, and a chance of a false match
around 30 000 / 2⁶⁴. `python -m identity.breached` regenerates the file from the
installed zxcvbn; a test checks the file is exactly that.

With `IDENTITY_HIBP_URL` set, a password that passes the bundled list is also looked up
with the range protocol (`GET {url}/range/{first 5 hex of SHA-1}` returns `SUFFIX:COUNT`
lines; `Add-Padding` hides the answer's size), so the password never leaves the service and
its hash only as a 5-character prefix shared by hundreds of others. If the API does not
answer in time the check is skipped (logged): registering must not depend on a third
party, and the bundled list still applies.
"""

from __future__ import annotations

import hashlib
import logging
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

BUNDLED_PATH = Path(__file__).with_name("breached_passwords.bin")
PREFIX_BYTES = 8
RANGE_PREFIX = 5  # hex characters sent to the range API


def _sha1(password: str) -> bytes:
    return hashlib.sha1(password.encode(), usedforsecurity=False).digest()


def encode_list(passwords: Iterable[str]) -> bytes:
    """The file's content for these passwords (compared in lower case, as users vary case
    without making a password any less guessable)."""
    prefixes = sorted({_sha1(p.lower())[:PREFIX_BYTES] for p in passwords})
    return b"".join(prefixes)


class BreachedList:
    """The bundled list in memory: sorted 64-bit integers, searched by bisection."""

    def __init__(self, content: bytes) -> None:
        if len(content) % PREFIX_BYTES:
            raise ValueError("breached-password list is truncated")
        self._prefixes = array(
            "Q",
            (
                int.from_bytes(content[i : i + PREFIX_BYTES], "big")
                for i in range(0, len(content), PREFIX_BYTES)
            ),
        )

    @classmethod
    def bundled(cls) -> BreachedList:
        return cls(BUNDLED_PATH.read_bytes())

    def __len__(self) -> int:
        return len(self._prefixes)

    def __contains__(self, password: object) -> bool:
        if not isinstance(password, str):
            return False
        wanted = int.from_bytes(_sha1(password.lower())[:PREFIX_BYTES], "big")
        i = bisect_left(self._prefixes, wanted)
        return i < len(self._prefixes) and self._prefixes[i] == wanted


class RangeApi:
    """A client of the k-anonymity range API (Have I Been Pwned's `range/{prefix}`)."""

    def __init__(self, base_url: str, *, http: httpx.AsyncClient, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.timeout = timeout

    async def times_seen(self, password: str) -> int | None:
        """How often the password appears in breaches (0: never); None when the API could
        not be asked."""
        digest = _sha1(password).hex().upper()
        prefix, suffix = digest[:RANGE_PREFIX], digest[RANGE_PREFIX:]
        try:
            response = await self.http.get(
                f"{self.base_url}/range/{prefix}",
                headers={"Add-Padding": "true"},
                timeout=self.timeout,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("breached-password range API unavailable: %s", str(exc)[:200])
            return None
        for line in response.text.splitlines():
            found, _, count = line.strip().partition(":")
            if found.upper() == suffix:
                try:
                    return int(count)  # padding entries have a count of 0
                except ValueError:
                    return None
        return 0

    async def aclose(self) -> None:
        await self.http.aclose()


def zxcvbn_passwords() -> list[str]:
    """The passwords of zxcvbn's frequency list, most common first (the bundled source)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return list(FREQUENCY_LISTS["passwords"])


def main() -> None:
    """Write the bundled list from the installed zxcvbn."""
    content = encode_list(zxcvbn_passwords())
    BUNDLED_PATH.write_bytes(content)
    print(f"{BUNDLED_PATH}: {len(content) // PREFIX_BYTES} entries, {len(content)} bytes")


if __name__ == "__main__":
    main()
