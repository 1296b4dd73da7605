"""A local Amazon Bedrock Runtime endpoint speaking the Converse API, for tests.

`POST /model/{modelId}/converse` takes the REST-JSON request botocore sends and answers in
the shape botocore's model defines (`output.message`, `stopReason`, `usage`, `metrics`);
errors carry `x-amzn-ErrorType` as Bedrock's do. Its "model" writes the four headings a
tour summary has, quoting the transcript's questions, so a test can tell its answer from the
offline summariser's. It records every request and can be told to fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _error(kind: str, status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"message": message}, status_code=status, headers={"x-amzn-ErrorType": kind}
    )


@dataclass
class LocalBedrock:
    models: set[str]
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/model/{model_id:path}/converse", self.converse, methods=["POST"])]
        )

    async def converse(self, request: Request) -> JSONResponse:
        model_id = request.path_params["model_id"]
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error("ValidationException", 400, "The request body is not JSON")
        self.requests.append({"modelId": model_id, **body})
        if self.failures:
            self.failures -= 1
            return _error("ServiceUnavailableException", 503, "The model is not available now")
        if model_id not in self.models:
            return _error("ResourceNotFoundException", 404, f"Model {model_id} not found")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or messages[-1].get("role") != "user":
            return _error("ValidationException", 400, "messages must end with a user message")
        text = "\n".join(
            block["text"] for block in messages[-1].get("content", []) if "text" in block
        )
        questions = [line for line in text.splitlines() if line.rstrip().endswith("?")]
        answer = "\n".join(
            [
                "Overview",
                "- A tour of the home, written by the local model.",
                "What the buyer asked and liked",
                *(f"- {q}" for q in questions),
                "Concerns",
                "- None mentioned.",
                "Agreed next steps",
                "- Follow up as agreed.",
            ]
        )
        words_in, words_out = len(text.split()), len(answer.split())
        return JSONResponse(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
                "stopReason": "end_turn",
                "usage": {
                    "inputTokens": words_in,
                    "outputTokens": words_out,
                    "totalTokens": words_in + words_out,
                },
                "metrics": {"latencyMs": 1},
            }
        )
