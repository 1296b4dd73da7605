"""Carrying effects out against S3 and SQS (moto in development and tests) with boto3."""

from __future__ import annotations

import logging
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
        self.sqs = boto3.client("sqs", **common) if self.queue_url else None

    def carry_out(self, effect: Effect) -> bool:
        """Perform one effect; False when it failed (logged, as Chime would retry or give up
        without the caller's request failing)."""
        try:
            if isinstance(effect, PublishEvent):
                if self.sqs is not None and self.queue_url:
                    self.sqs.send_message(
                        QueueUrl=self.queue_url, MessageBody=orjson.dumps(effect.envelope).decode()
                    )
            elif isinstance(effect, PutObject):
                self.s3.put_object(
                    Bucket=effect.bucket,
                    Key=effect.key,
                    Body=effect.body(),
                    ContentType=effect.content_type,
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
