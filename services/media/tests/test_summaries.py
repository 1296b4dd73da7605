"""Summaries: Bedrock's Converse API (against a local endpoint speaking it) when a model is
configured, the offline extractive summariser otherwise."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from chimesim.testing import ChimeSim, EventQueue, ServerThread
from media.domain import Segment, Transcript
from media.summaries import HEADINGS, BedrockSummariser, ExtractiveSummariser, TourContext
from servicekit.bus import Bus
from servicekit.embedded import free_port
from servicekit.mail import MailCatcher
from servicekit.testing import DatabaseFactory, TokenIssuer
from servicekit.vocabulary import Unavailable

from .conftest import FakeIdentity, Stack, media_stack
from .converse import LocalBedrock
from .test_recording import STOP, record_a_tour, tour_view, until_status

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def transcript(*lines: tuple[str, str]) -> Transcript:
    return Transcript(
        "en-US",
        tuple(
            Segment(uuid.uuid4(), who, float(n), float(n) + 1, text)
            for n, (who, text) in enumerate(lines)
        ),
    )


TOUR = transcript(
    ("Rita Realtor", "Welcome to the house, the kitchen was renovated last year."),
    ("Bob Buyer", "I love the kitchen and the big windows."),
    ("Bob Buyer", "Is the street noisy at night?"),
    ("Rita Realtor", "It is quiet, but there is a bus line two blocks away."),
    ("Bob Buyer", "I am worried the basement could leak."),
    (
        "Rita Realtor",
        "I will send you the inspection report tomorrow and we can schedule a second visit.",
    ),
)
CONTEXT = TourContext(buyer_name="Bob Buyer", realtor_name="Rita Realtor")


def test_the_offline_summary_sorts_key_sentences_under_the_four_headings() -> None:
    summary = ExtractiveSummariser().summarise_now(TOUR, CONTEXT)
    assert [line for line in summary.splitlines() if line in HEADINGS] == list(HEADINGS)
    parts = {h: "" for h in HEADINGS}
    current = None
    for line in summary.splitlines():
        if line in HEADINGS:
            current = line
        elif current is not None:
            parts[current] += line + "\n"
    assert "Bob Buyer" in parts[HEADINGS[0]] and "Rita Realtor" in parts[HEADINGS[0]]
    assert "Is the street noisy at night?" in parts[HEADINGS[1]]
    assert "I love the kitchen" in parts[HEADINGS[1]]
    assert "Rita Realtor:" not in parts[HEADINGS[1]]  # what the buyer asked, not the host
    assert "basement could leak" in parts[HEADINGS[2]]
    assert "inspection report tomorrow" in parts[HEADINGS[3]]


def test_an_empty_transcript_gives_headings_with_nothing_mentioned() -> None:
    summary = ExtractiveSummariser().summarise_now(transcript(), CONTEXT)
    assert summary.count("- None mentioned.") == 4


@pytest.fixture(scope="module")
def bedrock(aws_endpoint: str) -> Iterator[tuple[LocalBedrock, str]]:
    """The local Converse endpoint (`aws_endpoint` sets the test credentials boto3 signs with)."""
    local = LocalBedrock(models={MODEL})
    port = free_port()
    server = ServerThread(local.app(), port)
    server.start()
    try:
        yield local, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def test_bedrock_converse_gets_the_prompt_and_its_answer_is_the_summary(
    bedrock: tuple[LocalBedrock, str],
) -> None:
    local, url = bedrock
    local.requests.clear()
    summariser = BedrockSummariser(model_id=MODEL, region="us-east-1", endpoint_url=url)
    summary = await summariser.summarise(TOUR, CONTEXT)
    assert summary.splitlines()[0] == "Overview"
    assert "- Bob Buyer: Is the street noisy at night?" in summary
    sent = local.requests[-1]
    assert sent["modelId"] == MODEL
    system = sent["system"][0]["text"]
    assert all(f"'{h}'" in system for h in HEADINGS)
    prompt = sent["messages"][0]["content"][0]["text"]
    assert "The buyer is Bob Buyer; the realtor is Rita Realtor." in prompt
    assert "Bob Buyer: I am worried the basement could leak." in prompt
    assert sent["inferenceConfig"]["maxTokens"] == 800


async def test_a_failing_or_unknown_model_is_unavailable(
    bedrock: tuple[LocalBedrock, str],
) -> None:
    local, url = bedrock
    unknown = BedrockSummariser(model_id="no.such-model-v1:0", region="us-east-1", endpoint_url=url)
    with pytest.raises(Unavailable):
        await unknown.summarise(TOUR, CONTEXT)
    local.failures = 5  # more than botocore's attempts
    try:
        with pytest.raises(Unavailable):
            await BedrockSummariser(model_id=MODEL, region="us-east-1", endpoint_url=url).summarise(
                TOUR, CONTEXT
            )
    finally:
        local.failures = 0


@pytest_asyncio.fixture(loop_scope="session")
async def with_bedrock(
    database_factory: DatabaseFactory,
    bus: Bus,
    identity: tuple[FakeIdentity, str],
    mail_catcher: MailCatcher,
    token_issuer: TokenIssuer,
    aws_endpoint: str,
    chime: ChimeSim,
    chime_events: EventQueue,
    bedrock: tuple[LocalBedrock, str],
) -> AsyncIterator[Stack]:
    """Media on the emulator with Bedrock configured (the local Converse endpoint)."""
    async with media_stack(
        database_factory,
        bus,
        identity,
        mail_catcher,
        token_issuer,
        aws_endpoint,
        chime=None,
        chime_endpoint=chime.url,
        queue_name=chime_events.url.rsplit("/", 1)[-1],
        wait_seconds=1,
        settings_overrides={"bedrock_model_id": MODEL, "bedrock_endpoint_url": bedrock[1]},
    ) as the_stack:
        yield the_stack


async def test_a_recordings_summary_comes_from_bedrock_when_configured(
    with_bedrock: Stack, chime: ChimeSim, bedrock: tuple[LocalBedrock, str]
) -> None:
    stack = with_bedrock
    local, _ = bedrock
    tour, buyer, realtor, _, _ = await record_a_tour(stack, chime)
    await stack.ok(STOP, {"t": str(tour.id)}, as_=realtor)
    assert (await until_status(stack, tour.id, buyer, "AVAILABLE"))["status"] == "AVAILABLE"

    local.failures = 5  # Bedrock is down: the recording waits for the next round
    try:
        assert await stack.parts.recording_worker.run_once() == 0
    finally:
        local.failures = 0
    assert (await tour_view(stack, tour.id, buyer))["recordings"][-1]["transcript"] is None
    assert await stack.parts.recording_worker.run_once() == 1
    summary = (await tour_view(stack, tour.id, buyer))["recordings"][-1]["summary"]
    assert "written by the local model" in summary
    assert f"- {buyer.name}: I love the light here. Is the roof new?" in summary
