"""The botocore service models, and the routes their `requestUri`s describe.

Everything the wire looks like — paths, methods, status codes, member locations, error
statuses — is read from the same model files boto3 uses, so the emulator cannot drift from
what a client sends and expects.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from functools import cache

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

MEETINGS = "chime-sdk-meetings"
PIPELINES = "chime-sdk-media-pipelines"


@cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(Loader().load_service_model(name, "service-2"), service_name=name)


@dataclass(frozen=True)
class Route:
    """One operation's place on the wire."""

    service: str
    operation: OperationModel
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return str(self.operation.name)

    @property
    def status(self) -> int:
        return int(self.operation.http.get("responseCode", 200))

    def match(self, method: str, path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.path.fullmatch(path)
        if found is None:
            return None
        for key, value in self.query:
            if value not in query.get(key, []):
                return None
        return {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}


def _route(service: str, operation: OperationModel) -> Route:
    uri = operation.http["requestUri"]
    template, _, literal = uri.partition("?")
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{"):
            name = part.strip("{}").rstrip("+")
            pattern += f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(part)
    query = tuple(
        (key, value[0] if value else "")
        for key, value in urllib.parse.parse_qs(literal, keep_blank_values=True).items()
    )
    return Route(service, operation, operation.http["method"], re.compile(pattern), query)


def routes(implemented: dict[str, set[str]]) -> list[Route]:
    """Routes of the implemented operations, the most specific (most literal query
    parameters, then longest path) first, as `POST /meetings?operation=create-attendees`
    must win over `POST /meetings`."""
    found = [
        _route(service, service_model(service).operation_model(name))
        for service, names in implemented.items()
        for name in sorted(names)
    ]
    return sorted(found, key=lambda r: (-len(r.query), -len(r.path.pattern)))


def error_status(service: str, shape: str) -> int:
    model = service_model(service).shape_for(shape)
    return int(model.metadata.get("error", {}).get("httpStatusCode", 400))


def error_code(service: str, shape: str) -> str | None:
    """The `Code` member for an exception shape: the error's name without `Exception`
    (`NotFoundException` → `NotFound`), or, where the model types `Code` with an enum, the
    value that names it (`ThrottledClientException` → `Throttling`) or none."""
    members = getattr(service_model(service).shape_for(shape), "members", {})
    if "Code" not in members:
        return None
    stem = shape.removesuffix("Exception").removesuffix("Client")
    enum = members["Code"].enum
    if not enum:
        return stem
    candidates = [stem, "ResourceLimitExceeded" if stem.endswith("LimitExceeded") else stem]
    if stem == "Throttled":
        candidates.append("Throttling")
    return next((c for c in candidates if c in enum), None)


def member_shape(shape: Shape, name: str) -> Shape:
    members: dict[str, Shape] = getattr(shape, "members", {})
    return members[name]
