"""REST-JSON as botocore speaks it: a request into the operation's input, an output or an
error back into the response botocore parses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.model import OperationModel, Shape, StructureShape

from chimesim import model
from chimesim.errors import ServiceError, bad_request

Params = dict[str, Any]


def parse_input(
    operation: OperationModel,
    path_params: dict[str, str],
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> Params:
    """The operation's input members, each from where the model places it."""
    shape = operation.input_shape
    if shape is None:
        return {}
    assert isinstance(shape, StructureShape)
    params: Params = {}
    if body.strip():
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise bad_request("the request body is not valid JSON") from exc
        if not isinstance(decoded, dict):
            raise bad_request("the request body must be a JSON object")
    else:
        decoded = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in path_params:
                params[name] = _scalar(member, path_params[wire], name)
        elif location == "querystring":
            if wire in query:
                values = query[wire]
                if member.type_name == "list":
                    params[name] = [_scalar(member.member, v, name) for v in values]  # type: ignore[attr-defined]
                else:
                    params[name] = _scalar(member, values[-1], name)
        elif location == "header":
            if wire.lower() in headers:
                params[name] = _scalar(member, headers[wire.lower()], name)
        elif name in decoded:
            params[name] = decoded[name]
    return params


def _scalar(shape: Shape, raw: str, name: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError as exc:
            raise bad_request(f"{name} must be an integer") from exc
    if shape.type_name == "boolean":
        if raw not in ("true", "false"):
            raise bad_request(f"{name} must be true or false")
        return raw == "true"
    return raw


def serialize_output(operation: OperationModel, output: Params) -> tuple[dict[str, str], bytes]:
    """Headers and JSON body of a successful response (an empty body when the operation has
    no output, as botocore expects of a 204)."""
    shape = operation.output_shape
    if shape is None:
        return {}, b""
    assert isinstance(shape, StructureShape)
    headers: dict[str, str] = {}
    body: Params = {}
    for name, member in shape.members.items():
        if output.get(name) is None:
            continue
        if member.serialization.get("location") == "header":
            headers[member.serialization.get("name", name)] = str(output[name])
        else:
            body[name] = _wire(member, output[name])
    return headers, orjson.dumps(body)


def _wire(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members: dict[str, Shape] = shape.members  # type: ignore[attr-defined]
        return {k: _wire(members[k], v) for k, v in value.items() if v is not None}
    if kind == "list":
        return [_wire(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _wire(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp" and isinstance(value, datetime):
        return _timestamp(shape, value)
    return value


def _timestamp(shape: Shape, value: datetime) -> Any:
    value = value.astimezone(UTC)
    if shape.serialization.get("timestampFormat") == "iso8601":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.timestamp()


def serialize_error(service: str, error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an error: the type in `x-amzn-ErrorType` (what botocore
    reads first), `Code`/`Message`/`RequestId` in the body as the exception shapes declare."""
    request_id = str(uuid.uuid4())
    body: Params = {"Message": error.message, "RequestId": request_id}
    code = model.error_code(service, error.shape)
    if code is not None:
        body["Code"] = code
    headers = {
        "x-amzn-ErrorType": error.shape,
        "x-amzn-RequestId": request_id,
        "Content-Type": "application/json",
    }
    return model.error_status(service, error.shape), headers, orjson.dumps(body)
