"""Amazon Chime SDK through boto3: meetings and transcription (`chime-sdk-meetings`), capture
and concatenation pipelines (`chime-sdk-media-pipelines`).

boto3 is synchronous; every call runs in a worker thread of the client's own pool (sized
for the joins in flight: the default executor's few threads would queue them; started
with the client, so a burst of first joins does not wait for threads to start), so the
event loop keeps serving.
botocore retries throttling and transient failures itself (standard mode); what is left
after its attempts becomes our vocabulary: RATE_LIMITED when Chime throttles, UNAVAILABLE
when it fails or cannot be reached, and `Gone` when the meeting no longer exists (so the
caller can make a new one).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from servicekit.threads import started_pool
from servicekit.vocabulary import Conflict, RateLimited, Unavailable

T = TypeVar("T")

THROTTLED = {"ThrottlingException", "ThrottledClientException", "TooManyRequestsException"}
FAILED = {"ServiceFailureException", "ServiceUnavailableException", "InternalFailure"}
GONE = {"NotFoundException", "NotFound"}


class Gone(Exception):
    """The meeting (or attendee) asked about has ended or never existed in Chime."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _from_code(code: str, status: int) -> Exception | None:
    if code in GONE or status == 404:
        return Gone(code)
    if code in THROTTLED or status == 429:
        return RateLimited("the video service is busy; try again in a moment")
    if code == "LimitExceededException":
        return Conflict("the tour's call is full", reason="MEETING_FULL")
    if code == "ResourceLimitExceededException":
        return Conflict("the call is being captured already", reason="CAPTURE_RUNNING")
    if code in FAILED or status >= 500:
        return Unavailable("the video service is unavailable; try again shortly")
    return None


def translate(exc: Exception) -> Exception:
    """The error a caller should see for a failed Chime call."""
    if isinstance(exc, ClientError):
        return _from_code(_code(exc), _status(exc)) or exc
    if isinstance(exc, BotoCoreError):
        return Unavailable("the video service cannot be reached; try again shortly")
    return exc


def refusal(error: dict[str, Any]) -> Exception:
    """The error for one attendee a batch refused (`CreateAttendeeError.ErrorCode` names the
    exception without its `Exception` suffix: `LimitExceeded`, `Throttling`, …)."""
    code = str(error.get("ErrorCode") or "")
    found = _from_code(code if code.endswith("Exception") else f"{code}Exception", 0)
    return found or Unavailable("the video service refused the attendee; try again shortly")


WITH_MEETING = 20  # attendees one CreateMeetingWithAttendees takes
# The User-Agent of media's AWS clients, fixed: without one botocore builds its own again for
# every request (SDK, platform and feature components, a tenth of a Chime call's CPU).
USER_AGENT = f"realty-media Botocore/{botocore.__version__}"


def _requested(attendees: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    return [{"ExternalUserId": key, "Capabilities": caps} for key, caps in attendees]


def _outcomes(found: dict[str, Any]) -> dict[str, dict[str, Any] | Exception]:
    """Each `ExternalUserId` of a call that makes attendees to its record (`Attendees`) or
    to the error for that one attendee (`Errors`)."""
    result: dict[str, dict[str, Any] | Exception] = {
        str(a["ExternalUserId"]): a for a in found.get("Attendees") or []
    }
    for error in found.get("Errors") or []:
        result[str(error["ExternalUserId"])] = refusal(error)
    return result


class _Chime:
    """A boto3 client of one Chime SDK API, its calls in a thread pool of its own."""

    service = ""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        max_attempts: int = 3,
        concurrency: int = 32,
        client: Any = None,
    ) -> None:
        self._pool = started_pool(concurrency, "chime")
        # Parameter validation off: every request is built here from typed values, and the
        # service validates what it gets anyway; botocore's walk of the input costs CPU
        # on every call.
        config = Config(
            parameter_validation=False,
            user_agent=USER_AGENT,
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=2,
            read_timeout=5,
            max_pool_connections=concurrency,
        )
        self._client: Any = client or boto3.client(
            self.service, endpoint_url=endpoint_url, region_name=region, config=config
        )

    async def _call(self, fn: Callable[..., T], **kwargs: Any) -> T:
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, functools.partial(fn, **kwargs))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc) from exc

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ChimeMeetings(_Chime):
    """The meeting operations media uses; each returns Chime's record as Chime returned it."""

    service = "chime-sdk-meetings"

    def __init__(self, *, media_region: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.media_region = media_region

    async def create_meeting_with_attendees(
        self, *, tour_id: str, token: str, attendees: list[tuple[str, dict[str, str]]]
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any] | Exception]]:
        """The tour's meeting made with its first attendees (1 to `WITH_MEETING`) in one call
        (`CreateMeetingWithAttendees`): Chime's `Meeting`, and each `ExternalUserId` Chime
        answered for to its record or to the error for that one attendee. A repeated
        `ClientRequestToken` returns the meeting made before, with only the wanted attendees
        it already has: a device left out of the answer is still to be added."""
        found = await self._call(
            self._client.create_meeting_with_attendees,
            ClientRequestToken=token,
            MediaRegion=self.media_region,
            ExternalMeetingId=tour_id,
            Attendees=_requested(attendees),
        )
        meeting: dict[str, Any] = found["Meeting"]
        return meeting, _outcomes(found)

    async def create_attendee(
        self, *, meeting_id: str, external_user_id: str, capabilities: dict[str, str]
    ) -> dict[str, Any]:
        found = await self._call(
            self._client.create_attendee,
            MeetingId=meeting_id,
            ExternalUserId=external_user_id,
            Capabilities=capabilities,
        )
        attendee: dict[str, Any] = found["Attendee"]
        return attendee

    async def batch_create_attendees(
        self, *, meeting_id: str, attendees: list[tuple[str, dict[str, str]]]
    ) -> dict[str, dict[str, Any] | Exception]:
        """Up to 100 attendees in one call (`BatchCreateAttendee`): each `ExternalUserId` to
        its Chime record, or to the error for the one attendee Chime refused."""
        found = await self._call(
            self._client.batch_create_attendee,
            MeetingId=meeting_id,
            Attendees=_requested(attendees),
        )
        return _outcomes(found)

    async def get_attendee(self, *, meeting_id: str, attendee_id: str) -> dict[str, Any]:
        found = await self._call(
            self._client.get_attendee, MeetingId=meeting_id, AttendeeId=attendee_id
        )
        attendee: dict[str, Any] = found["Attendee"]
        return attendee

    async def update_capabilities(
        self, *, meeting_id: str, attendee_id: str, capabilities: dict[str, str]
    ) -> dict[str, Any]:
        found = await self._call(
            self._client.update_attendee_capabilities,
            MeetingId=meeting_id,
            AttendeeId=attendee_id,
            Capabilities=capabilities,
        )
        attendee: dict[str, Any] = found["Attendee"]
        return attendee

    async def delete_attendee(self, *, meeting_id: str, attendee_id: str) -> None:
        try:
            await self._call(
                self._client.delete_attendee, MeetingId=meeting_id, AttendeeId=attendee_id
            )
        except Gone:
            return  # already gone with its meeting: what leaving wanted

    async def delete_meeting(self, *, meeting_id: str) -> None:
        try:
            await self._call(self._client.delete_meeting, MeetingId=meeting_id)
        except Gone:
            return

    async def start_transcription(self, *, meeting_id: str, language: str) -> None:
        """Live transcription by Amazon Transcribe; the capture keeps its messages."""
        await self._call(
            self._client.start_meeting_transcription,
            MeetingId=meeting_id,
            TranscriptionConfiguration={
                "EngineTranscribeSettings": {"LanguageCode": language, "Region": "auto"}
            },
        )

    async def stop_transcription(self, *, meeting_id: str) -> None:
        try:
            await self._call(self._client.stop_meeting_transcription, MeetingId=meeting_id)
        except Gone:
            return  # the meeting ended, and its transcription with it


# What a capture keeps: the mixed audio with the active speaker's video, no per-attendee
# video or shared content (the concatenation joins the audio folder).
CAPTURE_ARTIFACTS = {
    "Audio": {"MuxType": "AudioWithActiveSpeakerVideo"},
    "Video": {"State": "Disabled", "MuxType": "VideoOnly"},
    "Content": {"State": "Disabled", "MuxType": "ContentOnly"},
}
CONCATENATED_ARTIFACTS = {
    "Audio": {"State": "Enabled"},
    "Video": {"State": "Disabled"},
    "Content": {"State": "Disabled"},
    "DataChannel": {"State": "Disabled"},
    "TranscriptionMessages": {"State": "Enabled"},
    "MeetingEvents": {"State": "Enabled"},
    "CompositedVideo": {"State": "Disabled"},
}


@dataclass(frozen=True, slots=True)
class Pipeline:
    id: str
    arn: str


class ChimePipelines(_Chime):
    """Media capture and concatenation (`chime-sdk-media-pipelines`) into the recordings
    bucket, encrypted with the customer-managed KMS key, written with the sink role."""

    service = "chime-sdk-media-pipelines"

    async def create_capture(
        self, *, meeting_arn: str, sink_arn: str, token: str, kms_key_id: str, sink_role_arn: str
    ) -> Pipeline:
        found = await self._call(
            self._client.create_media_capture_pipeline,
            SourceType="ChimeSdkMeeting",
            SourceArn=meeting_arn,
            SinkType="S3Bucket",
            SinkArn=sink_arn,
            ClientRequestToken=token,
            ChimeSdkMeetingConfiguration={"ArtifactsConfiguration": CAPTURE_ARTIFACTS},
            SseAwsKeyManagementParams={"AwsKmsKeyId": kms_key_id},
            SinkIamRoleArn=sink_role_arn,
        )
        pipeline = found["MediaCapturePipeline"]
        return Pipeline(str(pipeline["MediaPipelineId"]), str(pipeline["MediaPipelineArn"]))

    async def delete_capture(self, *, pipeline_id: str) -> None:
        try:
            await self._call(
                self._client.delete_media_capture_pipeline, MediaPipelineId=pipeline_id
            )
        except Gone:
            return  # stopped already (its meeting ended)

    async def create_concatenation(
        self, *, capture_arn: str, destination_arn: str, token: str
    ) -> Pipeline:
        found = await self._call(
            self._client.create_media_concatenation_pipeline,
            Sources=[
                {
                    "Type": "MediaCapturePipeline",
                    "MediaCapturePipelineSourceConfiguration": {
                        "MediaPipelineArn": capture_arn,
                        "ChimeSdkMeetingConfiguration": {
                            "ArtifactsConfiguration": CONCATENATED_ARTIFACTS
                        },
                    },
                }
            ],
            Sinks=[
                {
                    "Type": "S3Bucket",
                    "S3BucketSinkConfiguration": {"Destination": destination_arn},
                }
            ],
            ClientRequestToken=token,
        )
        pipeline = found["MediaConcatenationPipeline"]
        return Pipeline(str(pipeline["MediaPipelineId"]), str(pipeline["MediaPipelineArn"]))
