"""Mixpanel's `/import`: batches of recorded events, gzip, `strict=1`, Basic auth with the
project's API secret (or a service account and `project_id`).

A 200 took everything; a 400 names each record it refused (`failed_records`), the rest were
taken; 401/403/413 refuse the whole batch; 429 and 5xx (and the network) ask for a retry.
"""

from __future__ import annotations

import gzip
import json
import logging
import uuid

import httpx

from analytics.domain import Recorded
from analytics.forwarding import MIXPANEL, Result, mixpanel_record

log = logging.getLogger(__name__)


class Mixpanel:
    name = MIXPANEL

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        username: str,
        password: str = "",
        project_id: str | None = None,
        batch: int = 2000,
    ) -> None:
        self.client = client
        self.url = url.rstrip("/") + "/import"
        self.auth = httpx.BasicAuth(username, password)
        self.params = {"strict": "1", **({"project_id": project_id} if project_id else {})}
        self.batch = batch

    async def send(self, events: list[Recorded]) -> Result:
        ids = [e.id for e in events]
        body = gzip.compress(json.dumps([mixpanel_record(e) for e in events]).encode())
        try:
            response = await self.client.post(
                self.url,
                params=self.params,
                content=body,
                auth=self.auth,
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        except httpx.HTTPError as exc:
            log.warning("mixpanel unreachable: %s", exc)
            return Result(retry=ids)
        status = response.status_code
        if status == 200:
            return Result(sent=ids)
        if status == 429 or status >= 500:
            advised = response.headers.get("retry-after")
            return Result(retry=ids, retry_after=float(advised) if advised else None)
        if status == 400:
            return _partial(events, response)
        reason = f"mixpanel answered {status}: {response.text[:200]}"
        return Result(rejected=dict.fromkeys(ids, reason))


def _partial(events: list[Recorded], response: httpx.Response) -> Result:
    """A strict 400: the failed records are refused for good, the others were imported."""
    try:
        failed = response.json().get("failed_records") or []
    except ValueError:
        failed = []
    rejected: dict[uuid.UUID, str] = {}
    for record in failed:
        index = record.get("index")
        if isinstance(index, int) and 0 <= index < len(events):
            field = record.get("field", "")
            rejected[events[index].id] = f"{field}: {record.get('message', 'invalid')}".strip()
    if not rejected:
        reason = f"mixpanel answered 400: {response.text[:200]}"
        return Result(rejected={e.id: reason for e in events})
    return Result(sent=[e.id for e in events if e.id not in rejected], rejected=rejected)
