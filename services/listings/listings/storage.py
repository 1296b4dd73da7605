"""Photo objects in S3: the bucket (SSE-KMS), presigned uploads and downloads.

boto3 is synchronous; every call that touches the network runs in a worker thread so the
event loop keeps serving. URL signing is local computation and runs inline.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class StoredObject:
    size: int
    content_type: str | None
    encryption: str | None


class PhotoStorage:
    """One bucket of listing photos, encrypted at rest with a KMS key found by alias."""

    def __init__(
        self,
        *,
        bucket: str,
        kms_key_alias: str,
        region: str,
        endpoint_url: str | None = None,
        cdn_base_url: str | None = None,
        download_expires: int = 3600,
        cors_origins: list[str] | None = None,
    ) -> None:
        self.bucket = bucket
        self.kms_key_alias = kms_key_alias
        self.region = region
        self.cdn_base_url = cdn_base_url.rstrip("/") if cdn_base_url else None
        self.download_expires = download_expires
        self.cors_origins = cors_origins or ["*"]
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        self._s3: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self._kms: Any = boto3.client("kms", endpoint_url=endpoint_url, region_name=region)
        self.kms_key_id: str | None = None

    # -- provisioning ---------------------------------------------------------------------
    async def ensure_ready(self) -> None:
        """Create the KMS key (by alias) and the encrypted bucket when they do not exist."""
        await asyncio.to_thread(self._ensure_ready)

    def _ensure_ready(self) -> None:
        self.kms_key_id = self._ensure_key()
        try:
            if self.region == "us-east-1":
                self._s3.create_bucket(Bucket=self.bucket)
            else:
                self._s3.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.region},
                )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
        self._s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": self.kms_key_id,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        self._s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self._s3.put_bucket_cors(
            Bucket=self.bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedMethods": ["POST", "GET"],
                        "AllowedOrigins": self.cors_origins,
                        "AllowedHeaders": ["*"],
                        "MaxAgeSeconds": 3000,
                    }
                ]
            },
        )

    def _ensure_key(self) -> str:
        try:
            found = self._kms.describe_key(KeyId=self.kms_key_alias)
            return str(found["KeyMetadata"]["Arn"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NotFoundException":
                raise
        key = self._kms.create_key(Description="Listing photos (S3 SSE-KMS)")
        arn = str(key["KeyMetadata"]["Arn"])
        try:
            self._kms.create_alias(AliasName=self.kms_key_alias, TargetKeyId=arn)
        except ClientError as exc:  # created concurrently by another replica
            if exc.response["Error"]["Code"] != "AlreadyExistsException":
                raise
            self._kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
            return str(self._kms.describe_key(KeyId=self.kms_key_alias)["KeyMetadata"]["Arn"])
        return arn

    # -- uploads ----------------------------------------------------------------------------
    def presign_post(
        self, *, key: str, content_type: str, max_bytes: int, expires_in: int
    ) -> PresignedPost:
        """A browser upload of exactly `key`, of `content_type`, up to `max_bytes`, SSE-KMS."""
        fields: dict[str, str] = {
            "Content-Type": content_type,
            "x-amz-server-side-encryption": "aws:kms",
        }
        conditions: list[Any] = [
            {"Content-Type": content_type},
            {"x-amz-server-side-encryption": "aws:kms"},
            ["content-length-range", 1, max_bytes],
        ]
        if self.kms_key_id:
            fields["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
            conditions.append({"x-amz-server-side-encryption-aws-kms-key-id": self.kms_key_id})
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return PresignedPost(
            url=str(post["url"]), fields={k: str(v) for k, v in post["fields"].items()}
        )

    async def head(self, key: str) -> StoredObject | None:
        def run() -> StoredObject | None:
            try:
                meta = self._s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
            return StoredObject(
                size=int(meta["ContentLength"]),
                content_type=meta.get("ContentType"),
                encryption=meta.get("ServerSideEncryption"),
            )

        return await asyncio.to_thread(run)

    async def read_head(self, key: str, length: int) -> bytes:
        def run() -> bytes:
            got = self._s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")
            body: bytes = got["Body"].read()
            return body[:length]

        return await asyncio.to_thread(run)

    async def delete(self, *keys: str) -> None:
        """Delete objects; failures are logged (an orphan costs storage, not correctness)."""
        if not keys:
            return

        def run() -> None:
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                self._s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
                )

        try:
            await asyncio.to_thread(run)
        except ClientError:
            log.exception("could not delete %d photo object(s)", len(keys))

    # -- downloads --------------------------------------------------------------------------
    def url_for(self, key: str) -> str:
        """The CDN URL of a photo when a CDN fronts the bucket, else a short-lived signed GET."""
        if self.cdn_base_url:
            return f"{self.cdn_base_url}/{key}"
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.download_expires,
            )
        )
