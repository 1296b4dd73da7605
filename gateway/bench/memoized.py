"""The benches' subgraphs: one ASGI app serving several graphql-core schemas by path
(`/accounts`, `/products`, …), each answer computed once per distinct request body and kept
as bytes, so the subgraphs cost next to nothing and the gateway under test is the limit."""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLSchema, execute, parse

KEPT_ANSWERS = 10_000


def memoized_subgraphs(schemas: dict[str, GraphQLSchema]) -> Any:
    answers: dict[bytes, bytes] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        key = scope["path"].encode() + body
        answer = answers.get(key)
        if answer is None:
            request = orjson.loads(body)
            result = execute(
                schemas[scope["path"].strip("/")],
                parse(request["query"]),
                variable_values=request.get("variables"),
                operation_name=request.get("operationName"),
            )
            answer = orjson.dumps(result.formatted)  # type: ignore[union-attr]
            if len(answers) < KEPT_ANSWERS:
                answers[key] = answer
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app
