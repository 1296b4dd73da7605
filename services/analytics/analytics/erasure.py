"""Deletion requests for a deleted user's data held by Mixpanel and GA4.

- Mixpanel's GDPR API: `POST /api/app/data-deletions/v3.0/?token=<project token>` with the
  project's GDPR OAuth token as `Authorization: Bearer`, a JSON body of up to 2,000
  `distinct_ids` and `compliance_type: GDPR`; it answers with the deletion task's id.
- GA4's User Deletion API: `POST /analytics/v3/userDeletion/userDeletionRequests:upsert`, one
  identifier per request (`USER_ID` or `CLIENT_ID`) for the GA4 `propertyId`, with an OAuth
  access token of a service account (scope `analytics.user.deletion`), obtained by the
  JWT-bearer grant from the key file's `token_uri` and kept until shortly before it expires.

Each answers per request: 2xx done; 429, 5xx or the network: try again later; anything else
refuses the request for good (recorded with the reason).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from analytics.forwarding import GA4, MIXPANEL

log = logging.getLogger(__name__)

# (kind, identifier): Mixpanel's `distinct_id`, GA4's `USER_ID` or `CLIENT_ID`.
Subject = tuple[str, str]
MIXPANEL_MAX_IDS = 2000
GA4_DELETION_SCOPE = "https://www.googleapis.com/auth/analytics.user.deletion"


@dataclass(slots=True)
class Outcome:
    """One attempt's result per subject: done (with the destination's task id, when it gave
    one), refused for good with the reason, or to be tried again (after `retry_after`)."""

    done: dict[Subject, str] = field(default_factory=dict)
    refused: dict[Subject, str] = field(default_factory=dict)
    retry: list[Subject] = field(default_factory=list)
    retry_after: float | None = None


def _advice(response: httpx.Response) -> float | None:
    advised = response.headers.get("retry-after")
    try:
        return float(advised) if advised else None
    except ValueError:
        return None


def _transient(status: int) -> bool:
    return status == 429 or status >= 500


class MixpanelDeletions:
    name = MIXPANEL
    batch = MIXPANEL_MAX_IDS

    def __init__(
        self, client: httpx.AsyncClient, *, url: str, project_token: str, oauth_token: str
    ) -> None:
        self.client = client
        self.url = url.rstrip("/") + "/api/app/data-deletions/v3.0/"
        self.project_token = project_token
        self.oauth_token = oauth_token

    async def erase(self, subjects: list[Subject]) -> Outcome:
        ids = [subject for _, subject in subjects][:MIXPANEL_MAX_IDS]
        try:
            response = await self.client.post(
                self.url,
                params={"token": self.project_token},
                json={"distinct_ids": ids, "compliance_type": "GDPR"},
                headers={"Authorization": f"Bearer {self.oauth_token}"},
            )
        except httpx.HTTPError as exc:
            log.warning("mixpanel's GDPR API unreachable: %s", exc)
            return Outcome(retry=subjects)
        if response.is_success:
            try:
                task = str(response.json().get("results", {}).get("task_id", ""))
            except ValueError:
                task = ""
            return Outcome(done=dict.fromkeys(subjects, task))
        if _transient(response.status_code):
            return Outcome(retry=subjects, retry_after=_advice(response))
        reason = f"mixpanel answered {response.status_code}: {response.text[:200]}"
        return Outcome(refused=dict.fromkeys(subjects, reason))


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """What a Google service account key file holds that the JWT-bearer grant needs."""

    client_email: str
    private_key: str
    token_uri: str

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccount:
        info = json.loads(path.read_text())
        return cls(info["client_email"], info["private_key"], info["token_uri"])


class Ga4Deletions:
    name = GA4
    batch = 25  # requests per round (GA4 takes one identifier per request)

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        url: str,
        property_id: str,
        account: ServiceAccount,
        clock: Any = time.time,
    ) -> None:
        self.client = client
        self.url = url.rstrip("/") + "/analytics/v3/userDeletion/userDeletionRequests:upsert"
        self.property_id = property_id
        self.account = account
        self.clock = clock
        self._token: tuple[str, float] | None = None  # (access token, expires at)

    async def _access_token(self) -> str:
        now = float(self.clock())
        if self._token is not None and self._token[1] - 60 > now:
            return self._token[0]
        claims = {"iss": self.account.client_email, "scope": GA4_DELETION_SCOPE,
                  "aud": self.account.token_uri, "iat": int(now), "exp": int(now) + 3600}  # fmt: skip
        assertion = jwt.encode(claims, self.account.private_key, algorithm="RS256")
        response = await self.client.post(
            self.account.token_uri,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        )
        response.raise_for_status()
        granted = response.json()
        self._token = (str(granted["access_token"]), now + float(granted.get("expires_in", 3600)))
        return self._token[0]

    async def erase(self, subjects: list[Subject]) -> Outcome:
        outcome = Outcome()
        try:
            token = await self._access_token()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("no access token for GA4's User Deletion API: %s", exc)
            return Outcome(retry=subjects)
        for index, subject in enumerate(subjects):
            kind, ident = subject
            body = {"kind": "analytics#userDeletionRequest", "propertyId": self.property_id,
                    "id": {"type": kind, "userId": ident}}  # fmt: skip
            try:
                response = await self.client.post(
                    self.url, json=body, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                log.warning("GA4's User Deletion API unreachable: %s", exc)
                outcome.retry.extend(subjects[index:])
                return outcome
            if response.is_success:
                outcome.done[subject] = ""
            elif response.status_code == 401:
                self._token = None  # expired early: a new one next round
                outcome.retry.extend(subjects[index:])
                return outcome
            elif _transient(response.status_code):
                outcome.retry.extend(subjects[index:])
                outcome.retry_after = _advice(response)
                return outcome
            else:
                text = response.text[:200]
                outcome.refused[subject] = f"GA4 answered {response.status_code}: {text}"
        return outcome
