"""A few operations of an AWS REST-JSON API, signed with SigV4 and sent from the event loop.

A join's Chime call through boto3 costs ~1 ms of CPU in a worker thread (its signer, its
event hooks, urllib3 and http.client's header parsing) and takes the GIL back and forth with
the event loop; the same request built here from the service model's route is a fraction of
that and needs no thread. The routes, the endpoint and the signing name are read once from
the boto3 client's model, and the credentials come from the same provider chain (refreshed
as botocore refreshes them). Failures are raised as botocore raises them (`ClientError` with
the error's code and HTTP status, `BotoCoreError` for a Chime that cannot be reached), and
retried as botocore's standard mode does: throttling, transient codes, 5xx and connection
errors, up to `max_attempts` attempts with full-jitter exponential backoff (base 1 s for
throttling, 50 ms otherwise, at most 20 s).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
}
TRANSIENT = {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
TRANSIENT_STATUS = {500, 502, 503, 504}
MAX_BACKOFF = 20.0
# Headers botocore leaves out of the signature (a proxy may change them).
UNSIGNED = {"expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def sigv4_headers(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    token: str | None,
    now: datetime,
) -> dict[str, str]:
    """`headers` with `Host`, `X-Amz-Date`, the session token and `Authorization` (AWS
    Signature Version 4, the headers given signed but `UNSIGNED`), as botocore's `SigV4Auth` signs a
    non-S3 request."""
    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {**headers, "host": parts.netloc, "x-amz-date": amz_date}
    if token:
        signed["x-amz-security-token"] = token
    lowered = {
        k.lower(): " ".join(v.split()) for k, v in signed.items() if k.lower() not in UNSIGNED
    }
    names = sorted(lowered)
    query = sorted(
        (_encode(k), _encode(v))
        for k, _, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    canonical = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/~"),
            "&".join(f"{k}={v}" for k, v in query),
            "".join(f"{name}:{lowered[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(f"AWS4{secret_key}".encode(), amz_date[:8])
    for step in (region, service, "aws4_request"):
        key = _hmac(key, step)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = dict(signed)
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


class _Route:
    """One operation's HTTP method, path template and members bound to the path."""

    def __init__(self, operation: Any) -> None:
        self.name: str = operation.name
        self.method: str = operation.http["method"]
        self.uri: str = operation.http["requestUri"]
        shape = operation.input_shape
        self.in_path = {
            member: shape.members[member].serialization.get("name", member)
            for member in shape.members
            if shape.members[member].serialization.get("location") == "uri"
        }
        if any(
            m.serialization.get("location") not in (None, "uri") for m in shape.members.values()
        ):
            raise ValueError(f"{self.name}: only path and body members are supported")

    def request(self, params: dict[str, Any]) -> tuple[str, bytes | None]:
        path = self.uri
        body = dict(params)
        for member, label in self.in_path.items():
            path = path.replace("{" + label + "}", quote(str(body.pop(member)), safe="~"))
        return path, (json.dumps(body).encode() if self.method in ("POST", "PUT") else None)


class SignedJson:
    """The named operations of one boto3 client's API, as coroutines taking boto3's keyword
    arguments and returning its parsed answer (without `ResponseMetadata`). `credentials`
    gives the provider chain's credentials (botocore's, refreshed as it refreshes them), or
    None while there are none: asked again on the next call, as boto3 does."""

    def __init__(
        self,
        client: Any,
        credentials: Callable[[], Any],
        *,
        operations: list[str],
        max_attempts: int,
        connections: int,
        user_agent: str,
        connect_timeout: float = 2,
        read_timeout: float = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        model = client.meta.service_model
        self._routes = {name: _Route(model.operation_model(name)) for name in operations}
        self._endpoint = client.meta.endpoint_url.rstrip("/")
        self._region: str = client.meta.region_name
        self._service: str = model.signing_name
        self._credentials = credentials
        self._found: Any = None
        self._attempts = max(1, max_attempts)
        self._connections = connections
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=context),
                timeout=self._timeout,
                auto_decompress=False,
            )
        return self._http

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        route = self._routes[operation]
        path, body = route.request(params)
        url = self._endpoint + path
        for attempt in range(1, self._attempts + 1):
            try:
                status, headers, raw = await self._send(route.method, url, body)
            except (aiohttp.ClientError, OSError) as exc:
                if attempt == self._attempts:
                    raise EndpointConnectionError(endpoint_url=url, error=exc) from exc
                await asyncio.sleep(random.random() * min(0.05 * 2 ** (attempt - 1), MAX_BACKOFF))
                continue
            except TimeoutError as exc:
                if attempt == self._attempts:
                    raise ReadTimeoutError(endpoint_url=url, error=exc) from exc
                await asyncio.sleep(random.random() * min(0.05 * 2 ** (attempt - 1), MAX_BACKOFF))
                continue
            if status < 300:
                found: dict[str, Any] = json.loads(raw) if raw else {}
                return found
            error = _error(status, headers, raw, operation)
            code = error.response["Error"]["Code"]
            throttled = code in THROTTLED or status == 429
            if attempt == self._attempts or not (
                throttled or code in TRANSIENT or status in TRANSIENT_STATUS
            ):
                raise error
            base = 1.0 if throttled else 0.05
            await asyncio.sleep(random.random() * min(base * 2 ** (attempt - 1), MAX_BACKOFF))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send(self, method: str, url: str, body: bytes | None) -> tuple[int, Any, bytes]:
        if self._found is None:
            self._found = self._credentials()
            if self._found is None:
                raise NoCredentialsError()
        creds = self._found.get_frozen_credentials()
        headers = {"User-Agent": self._user_agent}
        if body is not None:
            headers["Content-Type"] = "application/json"
        signed = sigv4_headers(
            method=method,
            url=url,
            headers=headers,
            body=body or b"",
            region=self._region,
            service=self._service,
            access_key=creds.access_key,
            secret_key=creds.secret_key,
            token=creds.token,
            now=self._clock(),
        )
        signed.pop("host")
        async with self._session().request(method, url, data=body, headers=signed) as response:
            return response.status, response.headers, await response.read()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


def _error(status: int, headers: Any, raw: bytes, operation: str) -> ClientError:
    """botocore's `ClientError` for a REST-JSON error: the code from `x-amzn-ErrorType`
    (before any `:`), else the body's `__type` or `code` (after any `#`)."""
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(headers.get("x-amzn-ErrorType") or body.get("__type") or body.get("code") or "")
    code = code.split(":")[0].split("#")[-1] or str(status)
    message = str(body.get("message") or body.get("Message") or "")
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": dict(headers)},
    }
    return ClientError(response, operation)
