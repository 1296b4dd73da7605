"""Carrying effects out against S3 and SQS (moto in development and tests) with boto3."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import orjson
from botocore.config import Config

from chimesim import media
from chimesim.effects import Concatenate, Effect, PublishEvent, PutObject
from chimesim.settings import Settings

log = logging.getLogger("chimesim")


class Outside:
    def __init__(self, settings: Settings) -> None:
        config = Config(retries={"max_attempts": 3, "mode": "standard"})
        common: dict[str, Any] = {
            "region_name": settings.region,
            "endpoint_url": settings.aws_endpoint_url,
            "config": config,
        }
        self.queue_url = settings.events_queue_url
        self.s3 = boto3.client("s3", **common)
        self.sqs = boto3.client("sqs", **common)
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chimesim-events")

    def carry_out_all(self, effects: list[Effect]) -> None:
        """Perform effects in order; a run of events goes out as `publish` sends them."""
        run: list[PublishEvent] = []
        for effect in effects:
            if isinstance(effect, PublishEvent):
                run.append(effect)
                continue
            self.publish(self.queue_url, run)
            run = []
            self.carry_out(effect)
        self.publish(self.queue_url, run)

    def publish(self, queue_url: str | None, events: list[PublishEvent]) -> None:
        """Send events to the queue ten to a request (SQS's batch size), the batches side
        by side — a standard queue keeps no order anyway, and a consumer orders Chime's
        events by their `timestamp`."""
        if not queue_url or not events:
            return
        batches = [events[i : i + 10] for i in range(0, len(events), 10)]
        if len(batches) == 1:
            self._publish(queue_url, batches[0])
            return
        list(self.pool.map(lambda batch: self._publish(queue_url, batch), batches))

    def _publish(self, queue_url: str, batch: list[PublishEvent]) -> None:
        entries = [
            {"Id": str(index), "MessageBody": orjson.dumps(event.envelope).decode()}
            for index, event in enumerate(batch)
        ]
        try:
            result = self.sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:
            log.exception("could not send %d events", len(entries))
            return
        for failure in result.get("Failed", []):
            log.error("event not sent: %s", failure.get("Message"))

    def carry_out(self, effect: Effect) -> bool:
        """Perform one effect; False when it failed (logged, as Chime would retry or give up
        without the caller's request failing)."""
        try:
            if isinstance(effect, PublishEvent):
                self.publish(self.queue_url, [effect])
            elif isinstance(effect, PutObject):
                encryption: dict[str, str] = {}
                if effect.kms_key_id:
                    encryption = {
                        "ServerSideEncryption": "aws:kms",
                        "SSEKMSKeyId": effect.kms_key_id,
                    }
                self.s3.put_object(
                    Bucket=effect.bucket,
                    Key=effect.key,
                    Body=effect.body(),
                    ContentType=effect.content_type,
                    **encryption,
                )
            else:
                self._concatenate(effect)
        except Exception:
            log.exception("could not carry out %s", type(effect).__name__)
            return False
        return True

    def _concatenate(self, job: Concatenate) -> None:
        audio = self._read_all(job.source_bucket, f"{job.source_prefix}/audio/", ".mp4")
        if not audio:
            raise ValueError(f"no audio chunks under {job.source_prefix}/audio/")
        self.s3.put_object(
            Bucket=job.sink_bucket,
            Key=f"{job.sink_prefix}/audio/{job.pipeline_id}.mp4",
            Body=media.concatenate(audio),
            ContentType="video/mp4",
        )
        for folder in job.text_folders:
            texts = self._read_all(job.source_bucket, f"{job.source_prefix}/{folder}/", ".txt")
            self.s3.put_object(
                Bucket=job.sink_bucket,
                Key=f"{job.sink_prefix}/{folder}/{job.pipeline_id}.txt",
                Body=b"".join(texts),
                ContentType="text/plain",
            )

    def _read_all(self, bucket: str, prefix: str, suffix: str) -> list[bytes]:
        keys: list[str] = []
        for result in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            keys.extend(o["Key"] for o in result.get("Contents", []) if o["Key"].endswith(suffix))
        # Chunk names start with their UTC time, so name order is time order.
        return [self.s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in sorted(keys)]
