"""GA4's Measurement Protocol (`/mp/collect`): up to 25 events a request, one request per
visitor (client_id, user_id).

GA4 answers 2xx to anything it receives and drops what is invalid without saying, so every
event is checked against GA4's limits before it leaves (`forwarding.ga4_event`): what cannot
be sent whole is recorded as rejected, with the reason, never sent cut.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import httpx

from analytics.domain import Recorded
from analytics.forwarding import GA4, Result, ga4_event, ga4_identity

log = logging.getLogger(__name__)


class Ga4:
    name = GA4

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        measurement_id: str,
        api_secret: str,
        batch: int = 25,
    ) -> None:
        self.client = client
        self.url = url.rstrip("/") + "/mp/collect"
        self.params = {"measurement_id": measurement_id, "api_secret": api_secret}
        self.batch = min(batch, 25)

    async def send(self, events: list[Recorded]) -> Result:
        result = Result()
        requests: dict[tuple[str, str | None], list[tuple[Recorded, dict[str, Any]]]]
        requests = defaultdict(list)
        for event in events:
            mapped = ga4_event(event)
            if isinstance(mapped, str):
                result.rejected[event.id] = mapped
            else:
                requests[ga4_identity(event)].append((event, mapped))
        for (client_id, user_id), batch in requests.items():
            body: dict[str, Any] = {
                "client_id": client_id,
                "events": [
                    {**mapped, "timestamp_micros": int(e.occurred_at.timestamp() * 1_000_000)}
                    for e, mapped in batch
                ],
            }
            if user_id is not None:
                body["user_id"] = user_id
            ids = [e.id for e, _ in batch]
            try:
                response = await self.client.post(self.url, params=self.params, json=body)
            except httpx.HTTPError as exc:
                log.warning("ga4 unreachable: %s", exc)
                result.retry.extend(ids)
                continue
            status = response.status_code
            if 200 <= status < 300:
                result.sent.extend(ids)
            elif status == 429 or status >= 500:
                result.retry.extend(ids)
                advised = response.headers.get("retry-after")
                if advised:
                    result.retry_after = max(result.retry_after or 0.0, float(advised))
            else:
                reason = f"ga4 answered {status}: {response.text[:200]}"
                result.rejected.update(dict.fromkeys(ids, reason))
        return result
