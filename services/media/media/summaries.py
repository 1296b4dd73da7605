"""A tour's summary from its transcript: what a realtor needs after a tour — an overview,
what the buyer asked and liked, their concerns, the next steps agreed.

In production Amazon Bedrock writes it (the Converse API, boto3 `bedrock-runtime`, model
from settings). Without Bedrock (`make dev`, tests, an offline demo) an extractive
summariser picks the key sentences under the same four headings, so there is always one.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from servicekit.vocabulary import Unavailable

from media.domain import Transcript

HEADINGS = ("Overview", "What the buyer asked and liked", "Concerns", "Agreed next steps")

SYSTEM_PROMPT = (
    "You summarise recorded live video tours of homes for the realtor who hosted them. "
    "Write plain text under exactly these four headings, each on its own line followed by "
    "short bullet points: 'Overview', 'What the buyer asked and liked', 'Concerns', "
    "'Agreed next steps'. Use only what the transcript says; write 'None mentioned.' under "
    "a heading the conversation gives nothing for. Name people as the transcript does."
)


@dataclass(frozen=True, slots=True)
class TourContext:
    buyer_name: str
    realtor_name: str


class Summariser(Protocol):
    async def summarise(self, transcript: Transcript, context: TourContext) -> str: ...


def prompt(transcript: Transcript, context: TourContext) -> str:
    return (
        f"The buyer is {context.buyer_name}; the realtor is {context.realtor_name}.\n"
        "Transcript of the tour (speaker: words):\n\n"
        f"{transcript.text}"
    )


class BedrockSummariser:
    """Amazon Bedrock's Converse API with the configured model."""

    def __init__(
        self,
        *,
        model_id: str,
        region: str,
        endpoint_url: str | None = None,
        max_tokens: int = 800,
        client: Any = None,
    ) -> None:
        self.model_id = model_id
        self.max_tokens = max_tokens
        config = Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=60)
        self._client: Any = client or boto3.client(
            "bedrock-runtime", endpoint_url=endpoint_url, region_name=region, config=config
        )

    async def summarise(self, transcript: Transcript, context: TourContext) -> str:
        try:
            found = await asyncio.to_thread(
                self._client.converse,
                modelId=self.model_id,
                system=[{"text": SYSTEM_PROMPT}],
                messages=[{"role": "user", "content": [{"text": prompt(transcript, context)}]}],
                inferenceConfig={"maxTokens": self.max_tokens, "temperature": 0.2},
            )
        except (BotoCoreError, ClientError) as exc:
            raise Unavailable("the summary model is unavailable; try again later") from exc
        blocks = found.get("output", {}).get("message", {}).get("content", [])
        text = "\n".join(b["text"] for b in blocks if isinstance(b, dict) and "text" in b)
        if not text.strip():
            raise Unavailable("the summary model answered nothing")
        return text.strip()


# -- offline ------------------------------------------------------------------------------------
_WORD = re.compile(r"[a-z']+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "there",
        "they",
        "this",
        "to",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yes",
        "okay",
        "ok",
        "just",
        "like",
        "really",
        "very",
    ]
)
_LIKED = re.compile(r"\b(love|loved|like|liked|great|beautiful|nice|perfect|amazing|enjoy)\b", re.I)
_CONCERN = re.compile(
    r"\b(concern|concerned|worried|worry|problem|issue|noise|noisy|damage|expensive|small|"
    r"old|leak|crack|repair|but)\b",
    re.I,
)
_NEXT = re.compile(
    r"\b(next|schedule|send|follow up|follow-up|offer|inspection|call you|tomorrow|"
    r"next week|appointment|paperwork|second visit)\b",
    re.I,
)


def _sentences(transcript: Transcript) -> list[tuple[str, str]]:
    """(speaker, sentence) for every sentence of the transcript."""
    found: list[tuple[str, str]] = []
    for segment in transcript.segments:
        for sentence in re.split(r"(?<=[.!?])\s+", segment.text):
            if sentence.strip():
                found.append((segment.speaker_name, sentence.strip()))
    return found


class ExtractiveSummariser:
    """The key sentences of the transcript by word weight, sorted under the four headings."""

    def __init__(self, *, per_heading: int = 3) -> None:
        self.per_heading = per_heading

    async def summarise(self, transcript: Transcript, context: TourContext) -> str:
        return self.summarise_now(transcript, context)

    def summarise_now(self, transcript: Transcript, context: TourContext) -> str:
        sentences = _sentences(transcript)
        if not sentences:
            return "\n".join(f"{h}\n- None mentioned." for h in HEADINGS)
        weights = Counter(
            w for _, s in sentences for w in _WORD.findall(s.lower()) if w not in _STOP
        )

        def score(sentence: str) -> float:
            words = [w for w in _WORD.findall(sentence.lower()) if w not in _STOP]
            return sum(weights[w] for w in words) / (len(words) ** 0.5) if words else 0.0

        ranked = sorted(range(len(sentences)), key=lambda i: -score(sentences[i][1]))

        def pick(test: Any, speaker: str | None = None) -> list[str]:
            chosen = [
                i
                for i in ranked
                if test(sentences[i][1]) and (speaker is None or sentences[i][0] != speaker)
            ][: self.per_heading]
            return [f"- {sentences[i][0]}: {sentences[i][1]}" for i in sorted(chosen)]

        not_realtor = context.realtor_name
        sections = {
            HEADINGS[0]: [
                f"- A tour with {context.buyer_name}, hosted by {context.realtor_name}: "
                f"{len(transcript.segments)} things said.",
                *pick(lambda s: True),
            ],
            HEADINGS[1]: pick(lambda s: s.endswith("?") or bool(_LIKED.search(s)), not_realtor),
            HEADINGS[2]: pick(lambda s: bool(_CONCERN.search(s))),
            HEADINGS[3]: pick(lambda s: bool(_NEXT.search(s))),
        }
        return "\n".join(
            f"{heading}\n" + "\n".join(lines or ["- None mentioned."])
            for heading, lines in sections.items()
        )
