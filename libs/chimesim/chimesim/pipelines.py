"""Chime SDK Media Pipelines: capture (one active per meeting) and concatenation.

A capture writes its chunks as the meeting goes on (see `capture`) and stops when it is
deleted or its meeting ends. A concatenation made while its capture still runs waits for
it, then joins the audio chunks into `<prefix>/audio/<pipelineId>.mp4` (and, when enabled,
the meeting events and transcripts into one `.txt` each).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chimesim import capture
from chimesim.effects import Concatenate
from chimesim.errors import ServiceError, bad_request, not_found
from chimesim.events import PIPELINE_STATE_CHANGE
from chimesim.paging import page
from chimesim.state import (
    CapturePipeline,
    ConcatenationPipeline,
    Meeting,
    Pipeline,
    TimelineEntry,
    World,
)

MEETING_ARN = re.compile(
    r"arn:aws:chime:[a-z0-9-]*:\d{12}:meeting[:/](?P<id>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})"
)
BUCKET_ARN = re.compile(
    r"arn:aws:s3:::(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?"
)


def parse_bucket_arn(arn: str, member: str) -> tuple[str, str]:
    found = BUCKET_ARN.fullmatch(arn)
    if found is None:
        raise bad_request(f"{member} must be an S3 bucket ARN (arn:aws:s3:::bucket[/prefix])")
    return found["bucket"], (found["prefix"] or "").strip("/")


class Pipelines:
    def __init__(self, world: World, clock_now: Callable[[], datetime], *, max_chunks: int) -> None:
        self.world = world
        self.now = clock_now
        self.max_chunks = max_chunks

    # -- operations ---------------------------------------------------------------------
    def create_media_capture_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("ClientRequestToken")
        if token and token in self.world.pipeline_tokens:
            known = self.world.pipelines[self.world.pipeline_tokens[token]]
            return {"MediaCapturePipeline": known.as_output()}
        found = MEETING_ARN.fullmatch(params["SourceArn"])
        if found is None:
            raise bad_request("SourceArn must be the ARN of a Chime SDK meeting")
        meeting = self.world.meetings.get(found["id"].lower())
        if meeting is None or not meeting.active:
            raise bad_request(f"The meeting {found['id']} is not found or has ended")
        if any(p.meeting_id == meeting.meeting_id for p in self._active_captures()):
            raise ServiceError(
                "ResourceLimitExceededException",
                "The meeting already has an active media capture pipeline",
            )
        bucket, prefix = parse_bucket_arn(params["SinkArn"], "SinkArn")
        now = self.now()
        pipeline_id = str(uuid.uuid4())
        pipeline = CapturePipeline(
            pipeline_id=pipeline_id,
            arn=self._arn(pipeline_id),
            meeting_id=meeting.meeting_id,
            created=now,
            updated=now,
            request=params,
            bucket=bucket,
            prefix=prefix or pipeline_id,
            status="Initializing",
            timeline_start=len(meeting.timeline),
        )
        self._remember(pipeline, token)
        created = pipeline.as_output()
        pipeline.status = "InProgress"
        self._timeline(meeting, "CaptureStarted", now)
        self._event(pipeline, meeting, "chime:MediaPipelineInProgress", now)
        return {"MediaCapturePipeline": created}

    def get_media_capture_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._find(params["MediaPipelineId"])
        if not isinstance(pipeline, CapturePipeline):
            raise not_found(f"The media capture pipeline {params['MediaPipelineId']} is not found")
        return {"MediaCapturePipeline": pipeline.as_output()}

    def delete_media_capture_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._find(params["MediaPipelineId"])
        if not isinstance(pipeline, CapturePipeline):
            raise not_found(f"The media capture pipeline {params['MediaPipelineId']} is not found")
        self._delete(pipeline)
        return {}

    def list_media_capture_pipelines(self, params: dict[str, Any]) -> dict[str, Any]:
        captures = [p for p in self.world.pipelines.values() if isinstance(p, CapturePipeline)]
        visible = [p for p in captures if not p.deleted]
        chosen, token = page(visible, params.get("MaxResults"), params.get("NextToken"))
        summaries = [{"MediaPipelineId": p.pipeline_id, "MediaPipelineArn": p.arn} for p in chosen]
        return {"MediaCapturePipelines": summaries, "NextToken": token}

    def create_media_concatenation_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("ClientRequestToken")
        if token and token in self.world.pipeline_tokens:
            known = self.world.pipelines[self.world.pipeline_tokens[token]]
            return {"MediaConcatenationPipeline": known.as_output()}
        source = params["Sources"][0]["MediaCapturePipelineSourceConfiguration"]
        capture_pipeline = next(
            (
                p
                for p in self.world.pipelines.values()
                if isinstance(p, CapturePipeline) and p.arn == source["MediaPipelineArn"]
            ),
            None,
        )
        if capture_pipeline is None:
            raise bad_request(
                f"The media capture pipeline {source['MediaPipelineArn']} is not found"
            )
        parse_bucket_arn(
            params["Sinks"][0]["S3BucketSinkConfiguration"]["Destination"], "Destination"
        )
        now = self.now()
        pipeline_id = str(uuid.uuid4())
        pipeline = ConcatenationPipeline(
            pipeline_id=pipeline_id,
            arn=self._arn(pipeline_id),
            meeting_id=capture_pipeline.meeting_id,
            created=now,
            updated=now,
            request=params,
            status="Initializing",
        )
        self._remember(pipeline, token)
        created = pipeline.as_output()
        pipeline.status = "InProgress"
        meeting = self.world.meetings[pipeline.meeting_id]
        self._event(pipeline, meeting, "chime:MediaPipelineInProgress", now)
        if capture_pipeline.status == "Stopped":
            self._concatenate(pipeline, capture_pipeline)
        return {"MediaConcatenationPipeline": created}

    def get_media_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._find(params["MediaPipelineId"])
        key = (
            "MediaCapturePipeline"
            if isinstance(pipeline, CapturePipeline)
            else "MediaConcatenationPipeline"
        )
        return {"MediaPipeline": {key: pipeline.as_output()}}

    def delete_media_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._find(params["MediaPipelineId"])
        if isinstance(pipeline, ConcatenationPipeline) and pipeline.status == "InProgress":
            raise ServiceError(
                "ConflictException", "The media concatenation pipeline is still in progress"
            )
        self._delete(pipeline)
        return {}

    # -- lifecycle ------------------------------------------------------------------------
    def progress(self, now: datetime) -> None:
        """Write the chunks every running capture has completed by `now`."""
        for pipeline in self._active_captures():
            meeting = self.world.meetings[pipeline.meeting_id]
            self.world.effects.extend(
                capture.write_until(pipeline, meeting, now, final=False, max_chunks=self.max_chunks)
            )

    def meeting_ended(self, meeting: Meeting, at: datetime) -> None:
        for pipeline in self._active_captures():
            if pipeline.meeting_id == meeting.meeting_id:
                self._stop(pipeline, at)

    # -- internals ------------------------------------------------------------------------
    def _arn(self, pipeline_id: str) -> str:
        return (
            f"arn:aws:chime:{self.world.region}:{self.world.account}:media-pipeline/{pipeline_id}"
        )

    def _remember(self, pipeline: Pipeline, token: str | None) -> None:
        self.world.pipelines[pipeline.pipeline_id] = pipeline
        if token:
            self.world.pipeline_tokens[token] = pipeline.pipeline_id

    def _find(self, pipeline_id: str) -> Pipeline:
        pipeline = self.world.pipelines.get(pipeline_id.lower())
        if pipeline is None or pipeline.deleted:
            raise not_found(f"The media pipeline {pipeline_id} is not found")
        return pipeline

    def _active_captures(self) -> list[CapturePipeline]:
        return [
            p
            for p in self.world.pipelines.values()
            if isinstance(p, CapturePipeline) and p.status == "InProgress"
        ]

    def _delete(self, pipeline: Pipeline) -> None:
        if isinstance(pipeline, CapturePipeline) and pipeline.status == "InProgress":
            self._stop(pipeline, self.now())
        pipeline.deleted = True

    def _stop(self, pipeline: CapturePipeline, at: datetime) -> None:
        meeting = self.world.meetings[pipeline.meeting_id]
        self._timeline(meeting, "CaptureEnded", at)
        self.world.effects.extend(
            capture.write_until(pipeline, meeting, at, final=True, max_chunks=self.max_chunks)
        )
        pipeline.status = "Stopped"
        pipeline.updated = at
        self._event(pipeline, meeting, "chime:MediaPipelineDeleted", at)
        for waiting in list(self.world.pipelines.values()):
            if (
                isinstance(waiting, ConcatenationPipeline)
                and waiting.status == "InProgress"
                and waiting.request["Sources"][0]["MediaCapturePipelineSourceConfiguration"][
                    "MediaPipelineArn"
                ]
                == pipeline.arn
            ):
                self._concatenate(waiting, pipeline)

    def _concatenate(self, pipeline: ConcatenationPipeline, source: CapturePipeline) -> None:
        config = pipeline.request["Sources"][0]["MediaCapturePipelineSourceConfiguration"]
        artifacts = config["ChimeSdkMeetingConfiguration"]["ArtifactsConfiguration"]
        folders = tuple(
            folder
            for member, folder in (
                ("MeetingEvents", "meeting-events"),
                ("TranscriptionMessages", "transcription-messages"),
            )
            if artifacts[member]["State"] == "Enabled"
        )
        sink = pipeline.request["Sinks"][0]["S3BucketSinkConfiguration"]["Destination"]
        bucket, prefix = parse_bucket_arn(sink, "Destination")
        meeting = self.world.meetings[pipeline.meeting_id]

        def done(succeeded: bool) -> None:
            at = self.now()
            pipeline.status = "Stopped" if succeeded else "Failed"
            pipeline.updated = at
            event = (
                "chime:MediaPipelineDeleted" if succeeded else "chime:MediaPipelinePermanentFailure"
            )
            self._event(pipeline, meeting, event, at)

        self.world.effects.append(
            Concatenate(
                pipeline_id=pipeline.pipeline_id,
                source_bucket=source.bucket,
                source_prefix=source.prefix,
                sink_bucket=bucket,
                sink_prefix=prefix or pipeline.pipeline_id,
                text_folders=folders,
                done=done,
            )
        )

    def _event(self, pipeline: Pipeline, meeting: Meeting, event: str, at: datetime) -> None:
        detail = {
            "eventType": event,
            "meetingId": meeting.meeting_id,
            "externalMeetingId": meeting.external_meeting_id,
            "mediaPipelineId": pipeline.pipeline_id,
            "mediaPipelineArn": pipeline.arn,
            "mediaRegion": meeting.media_region,
        }
        self.world.emit(PIPELINE_STATE_CHANGE, detail, at)

    def _timeline(self, meeting: Meeting, kind: str, at: datetime) -> None:
        meeting.timeline.append(TimelineEntry(at, kind, {"MeetingId": meeting.meeting_id}))
